"""The composition root's configuration: layers and their precedence (CLI options > environment >
./.env > user config file > defaults), the user config file, order guards from .env reaching the
orders, the embedded simulator and the one market clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from connectors.kis import AsyncKisClient, KisClient, Settings
from connectors.kis.auth import read_ledger
from connectors.kis.errors import KisConfigError
from connectors.kis.order_guard import OrderBlocked
from pipelines.config import load_config, user_config_path
from pipelines.embedded import market_clock, remote_simulator_clock, resolve, simulator_at
from pipelines.runtime import client_for, use_runtime
from schemas.clock import KST, SYSTEM_CLOCK
from simulator.server import (
    DEFAULT_APP_KEY,
    OnDemandSimulator,
    RunningSimulator,
    SimConfig,
    start_on_demand,
)

ACCOUNT_FILE = "11111111-01"
ACCOUNT_DOTENV = "22222222-01"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- layers ---------------------------------------------------------------------------------------
def test_each_layer_overrides_the_ones_below(tmp_path: Path) -> None:
    user = _write(
        tmp_path / "user" / "config.toml",
        f'KIS_ENV = "paper"\nKIS_ACCOUNT = "{ACCOUNT_FILE}"\nKIS_RATE_LIMIT = 1.5\n'
        "KISDB_ORDER_MAX_QTY = 7\nKISDB_RAW_ARCHIVE = false\n",
    )
    cwd = tmp_path / "project"
    _write(cwd / ".env", f"KIS_ACCOUNT={ACCOUNT_DOTENV}\nKIS_RATE_LIMIT=3\n")
    environ = {"KISDB_CONFIG": str(user), "KIS_RATE_LIMIT": "4", "KISDB_HOME": str(tmp_path / "h")}

    config = load_config(environ=environ, cwd=cwd)
    assert config.kis.env == "paper"  # only the user file sets it
    assert config.orders.max_qty == 7 and config.kis.raw_archive is False  # TOML int and bool
    assert config.kis.cano == ACCOUNT_DOTENV[:8]  # .env over the user file
    assert config.kis.rate_budget == 4.0  # the environment over .env
    assert config.home == tmp_path / "h"
    # CLI options over everything.
    cli = load_config(tmp_path / "cli", environ=environ, cwd=cwd, rate_limit=9.0)
    assert cli.home == tmp_path / "cli" and cli.kis.rate_budget == 9.0
    assert cli.orders.kill_switch == tmp_path / "cli" / "orders" / "KILL"  # follows the home
    # Defaults below all of them.
    bare = load_config(environ={"KISDB_CONFIG": str(tmp_path / "none.toml")}, cwd=tmp_path)
    assert (bare.kis.env, bare.kis.rate_budget, bare.orders.max_qty) == ("sim", 20.0, 10_000)
    assert bare.home == Path.home() / ".kisdb"


def test_the_user_config_file_chooses_the_account_from_any_directory(tmp_path: Path) -> None:
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert user_config_path(environ) == tmp_path / "xdg" / "kisdb" / "config.toml"
    _write(
        user_config_path(environ),
        f'KIS_ENV = "real"\nKIS_APP_KEY = "PSkey"\nKIS_APP_SECRET = "sec"\n'
        f'KIS_ACCOUNT = "{ACCOUNT_FILE}"\n',
    )
    seen = {
        load_config(environ=environ, cwd=_write(tmp_path / d / "x", "").parent).kis.cano
        for d in ("a", "b")
    }
    assert seen == {ACCOUNT_FILE[:8]}


def test_a_bad_user_config_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "config.toml", "KISDB_ORDER_MAX_QTYY = 5\n")
    with pytest.raises(KisConfigError, match="unknown setting.*KISDB_ORDER_MAX_QTYY"):
        load_config(environ={"KISDB_CONFIG": str(path)}, cwd=tmp_path)
    _write(path, 'KIS_APP_SECRET = "topsecretvalue\n')
    with pytest.raises(KisConfigError, match="not valid TOML") as info:
        load_config(environ={"KISDB_CONFIG": str(path)}, cwd=tmp_path)
    assert "topsecretvalue" not in str(info.value)


def test_scale_and_lake_settings_come_from_the_layers_too(tmp_path: Path) -> None:
    _write(tmp_path / ".env", "KISDB_KEY_LEASE_SECONDS=90\nKISDB_CATALOG=postgres:dbname=x\n")
    config = load_config(environ={"KISDB_S3_ENDPOINT": "http://127.0.0.1:9000"}, cwd=tmp_path)
    assert config.scale.lease_seconds == 90.0 and config.lake.catalog == "postgres:dbname=x"
    assert config.lake.store.endpoint == "127.0.0.1:9000"
    with pytest.raises(KisConfigError, match="at least 60"):
        load_config(environ={"KISDB_KEY_LEASE_SECONDS": "5"}, cwd=tmp_path / "none")
    with pytest.raises(KisConfigError, match="KISDB_S3_URL_STYLE"):
        load_config(environ={"KISDB_S3_URL_STYLE": "sideways"}, cwd=tmp_path / "none")


# -- order guards from .env -----------------------------------------------------------------------
def test_order_guards_in_dotenv_stop_an_order(
    sim: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once silently ignored: KISDB_ORDER_MAX_QTY in ./.env must bind the orders."""
    _write(tmp_path / ".env", "KISDB_ORDER_MAX_QTY=5\nKISDB_ORDER_SYMBOLS=005930\n")
    monkeypatch.chdir(tmp_path)
    for name in ("KISDB_ORDER_MAX_QTY", "KISDB_ORDER_SYMBOLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
    monkeypatch.setenv("KISDB_HOME", str(tmp_path / "home"))
    config = load_config()
    assert config.orders.max_qty == 5
    with client_for(config) as client:
        for call, guard in [
            (lambda: client.buy("005930", 6, 70_000), "max_qty"),
            (lambda: client.buy("000660", 1, 100_000), "allowed_symbols"),
        ]:
            with pytest.raises(OrderBlocked) as info:
                call()
            assert info.value.guard == guard
    assert sim.stats.by_tr_id.get("TTTC0012U", 0) == 0  # nothing reached the simulator


# -- the embedded simulator and the clock ---------------------------------------------------------
def test_embedded_simulator_starts_once_and_async_client(tmp_path: Path) -> None:
    settings = Settings.from_env({"KIS_ENV": "sim", "KISDB_HOME": str(tmp_path)})
    one_settings, two_settings = resolve(settings), resolve(settings)
    assert one_settings.base_url == two_settings.base_url is not None
    with KisClient(one_settings) as one:
        assert one.settings.app_key is not None and one.settings.account is not None
        assert one.current_price("005930")["raw"]["stck_prpr"].isdigit()

    async def main() -> str:
        async with AsyncKisClient(two_settings) as client:
            answers = await asyncio.gather(*(client.current_price("005930") for _ in range(5)))
            assert all(a["raw"]["stck_prpr"].isdigit() for a in answers)
            return await client.approval_key()

    assert asyncio.run(main())
    assert [e["event"] for e in read_ledger(tmp_path)] == ["token", "approval"]


def test_the_embedded_simulator_starts_on_the_first_request_with_its_clock(
    tmp_path: Path,
) -> None:
    settings = resolve(Settings.from_env({"KIS_ENV": "sim", "KISDB_HOME": str(tmp_path)}))
    sim = simulator_at(settings)
    assert isinstance(sim, OnDemandSimulator) and sim.started is None, "resolving starts nothing"
    clock = market_clock(settings)
    first = clock.now()
    assert clock.now() >= first  # the market clock runs without the servers
    with KisClient(settings) as client:
        assert client.current_price("005930")["raw"]["stck_prpr"].isdigit()
    assert sim.started is not None and sim.started.clock is sim.clock


def test_an_on_demand_simulator_never_connected_to_stops_cleanly() -> None:
    sim = start_on_demand(SimConfig())
    port = int(sim.base_url.rsplit(":", 1)[1])
    sim.stop()
    assert sim.started is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_sim_with_a_base_url_takes_the_simulator_default_credentials() -> None:
    s = resolve(Settings.from_env({"KIS_BASE_URL": "http://127.0.0.1:1"}))
    assert s.app_key is not None and s.app_key.reveal() == DEFAULT_APP_KEY
    assert s.account is not None and len(s.cano) == 8 and s.base_url == "http://127.0.0.1:1"


def test_the_market_clock_is_the_in_process_simulators(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    pinned = datetime(2026, 11, 24, 11, 15)
    sim = make_sim(now=pinned, speed=0.001)
    here = Settings.from_env({"KIS_BASE_URL": sim.base_url})
    assert abs((market_clock(here).now() - pinned.replace(tzinfo=KST)).total_seconds()) < 1
    elsewhere = Settings.from_env({"KIS_BASE_URL": "http://127.0.0.1:1"})
    assert market_clock(elsewhere) is SYSTEM_CLOCK


def test_a_standalone_simulators_clock_is_read_from_its_date_header(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    # What a command pointed at `kisdb sim --now 2024-04-22T16:00:00` (another process) sees.
    pinned = datetime(2024, 4, 22, 16, 0)
    sim = make_sim(now=pinned, speed=1.0)
    answer = httpx.get(sim.base_url + "/")
    assert parsedate_to_datetime(answer.headers["Date"]).astimezone(KST).date() == pinned.date()
    clock = remote_simulator_clock(sim.base_url)
    assert abs((clock.now() - pinned.replace(tzinfo=KST)).total_seconds()) < 3
    assert clock.today() == pinned.date()
    assert remote_simulator_clock("http://127.0.0.1:1", timeout=0.5) is SYSTEM_CLOCK


@pytest.mark.usefixtures("prefect_harness")
def test_ranking_snapshots_are_stamped_by_the_market_clock(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.rankings import ingest_rankings

    pinned = datetime(2026, 11, 24, 11, 15)  # a fixed market time, far from the wall clock
    sim = make_sim(now=pinned, speed=0.001, rate_limit=0)
    monkeypatch.setenv("KIS_ENV", "sim")
    monkeypatch.setenv("KIS_BASE_URL", sim.base_url)
    monkeypatch.setenv("KISDB_HOME", str(tmp_path))
    ingest_rankings(rankings=["volume"])
    with use_runtime() as rt:
        stamps = rt.lake.con.sql("SELECT DISTINCT snapshot_ts FROM rankings").fetchall()
    assert len(stamps) == 1
    assert abs((stamps[0][0] - pinned.replace(tzinfo=KST)).total_seconds()) < 2
