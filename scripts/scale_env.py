"""A scale-out environment on loopback: PostgreSQL (catalog + Prefect's database), an S3-compatible
store (moto), a Prefect server, a process work pool with the `backfill-chunk` deployment, long-lived workers (`kisdb worker`).

    python scripts/scale_env.py up --workers 2 --keys keys.toml   # prints the exports; Ctrl-C stops

Used by tests/scale and bench/bench_scale.py through `ScaleEnv`. PostgreSQL comes from Debian's
packages (`apt-get install postgresql`; `make test-scale` does it): a throwaway cluster is created
with initdb in a temp dir (run as the `postgres` user when we are root: PostgreSQL refuses root)
and removed on stop. POSIX only (process groups, Unix sockets); on Windows use real services.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POOL = "kisdb-scale"
BUCKET = "kisdb-lake"
S3_KEY = "testing"  # moto accepts any credentials; real stores get theirs from the environment
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


class ScaleEnvUnavailable(RuntimeError):
    """A component (PostgreSQL binaries, moto, prefect) is missing on this machine."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check, what: str, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise ScaleEnvUnavailable(f"{what} did not come up within {timeout:.0f} s")


def pg_bindir() -> Path:
    """Where initdb/pg_ctl live: PATH, else Debian's /usr/lib/postgresql/<newest>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if versions:
        return versions[-1].parent
    raise ScaleEnvUnavailable("PostgreSQL is not installed: apt-get install postgresql")


@dataclass
class Postgres:
    """A throwaway cluster: trust auth on 127.0.0.1 only, user `kisdb`."""

    port: int
    data: Path
    bindir: Path

    @classmethod
    def start(cls) -> Postgres:
        bindir = pg_bindir()
        base = Path(tempfile.mkdtemp(prefix="kisdb-pg-"))
        run_as: dict[str, str] = {}
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            run_as = {"user": "postgres"}  # PostgreSQL refuses to run as root
            shutil.chown(base, "postgres")
        port = free_port()
        pg = cls(port, base / "data", bindir)
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(pg.data),
                "-A",
                "trust",
                "-U",
                "kisdb",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            **run_as,
        )  # type: ignore[call-overload]
        opts = (
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off"
        )
        subprocess.run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(pg.data),
                "-o",
                opts,
                "-l",
                str(base / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
            **run_as,
        )  # type: ignore[call-overload]
        pg._run_as = run_as  # type: ignore[attr-defined]
        return pg

    def sql(self, statement: str, db: str = "postgres") -> None:
        psql = shutil.which("psql") or str(self.bindir / "psql")
        subprocess.run(
            [
                psql,
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "kisdb",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                statement,
            ],
            check=True,
            capture_output=True,
        )

    def create_db(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.sql(f'CREATE DATABASE "{name}"')

    def dsn(self, db: str) -> str:
        return f"dbname={db} host=127.0.0.1 port={self.port} user=kisdb"

    def stop(self) -> None:
        subprocess.run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            **getattr(self, "_run_as", {}),
        )
        shutil.rmtree(self.data.parent, ignore_errors=True)


def _spawn(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    # A new session: the process and its children (a worker's flow runs) can be killed together.
    return subprocess.Popen(
        args, env=dict(env), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Kill a process and everything it started (a "machine" dying). A process worker starts
    each flow run in a session of its own, so the tree is walked, not just the group killed."""
    if proc.poll() is not None:
        return
    import psutil

    with contextlib.suppress(psutil.NoSuchProcess):
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        for p in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(sig)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


@dataclass
class ScaleEnv:
    root: Path
    pg: Postgres
    s3_port: int
    api_url: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    catalog_db: str = "lake"
    data_prefix: str = "data"
    owns_root: bool = False  # a temp root we made: removed on stop unless KISDB_SCALE_KEEP=1

    # -- start -----------------------------------------------------------------------------------
    @classmethod
    def start(cls, root: Path | None = None) -> ScaleEnv:
        for tool in ("prefect", "moto_server"):
            if not (BIN / tool).exists():
                raise ScaleEnvUnavailable(
                    f"{tool} is not installed in {BIN} (pip install -e '.[dev]')"
                )
        owns_root = root is None
        root = Path(root or tempfile.mkdtemp(prefix="kisdb-scale-"))
        root.mkdir(parents=True, exist_ok=True)
        pg = Postgres.start()
        env = cls(root, pg, free_port(), "", owns_root=owns_root)
        try:
            pg.create_db("prefect")
            pg.create_db(env.catalog_db)
            moto = _spawn(
                [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(env.s3_port)],
                os.environ,
                root / "moto.log",
            )
            env.procs["moto"] = moto
            _wait(
                lambda: httpx.get(f"http://127.0.0.1:{env.s3_port}/").status_code < 500, "moto", 30
            )
            env.s3().create_bucket(Bucket=BUCKET)
            port = free_port()
            env.api_url = f"http://127.0.0.1:{port}/api"
            server_env = {
                **os.environ,
                **QUIET,
                "PREFECT_HOME": str(root / "prefect-server"),
                "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://kisdb@127.0.0.1:{pg.port}/prefect",
                "PREFECT_UI_ENABLED": "false",
                # Free a dead holder's app-key lease soon after it expires.
                "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "2",
            }
            env.procs["server"] = _spawn(
                [
                    str(BIN / "prefect"),
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                server_env,
                root / "server.log",
            )
            _wait(
                lambda: httpx.get(f"{env.api_url}/health").status_code == 200, "prefect server", 120
            )
            env.prefect_setup()
        except BaseException:
            env.stop()
            raise
        return env

    def s3(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.s3_port}",
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_KEY,
            region_name="us-east-1",
        )

    # -- configuration -----------------------------------------------------------------------------
    @property
    def lake_env(self) -> dict[str, str]:
        """What every process touching the shared lake needs (configuration only)."""
        return {
            "KISDB_CATALOG": f"postgres:{self.pg.dsn(self.catalog_db)}",
            "KISDB_DATA_PATH": f"s3://{BUCKET}/{self.data_prefix}/",
            "KISDB_S3_ENDPOINT": f"http://127.0.0.1:{self.s3_port}",
            "KISDB_S3_KEY_ID": S3_KEY,
            "KISDB_S3_SECRET": S3_KEY,
        }

    def prefect_env(self, home: Path) -> dict[str, str]:
        return {
            **QUIET,
            "PREFECT_API_URL": self.api_url,
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "2",
            # Heartbeats let the zombie automation mark a dead machine's runs Crashed.
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }

    def client_env(
        self, name: str, extra: Mapping[str, str] | None = None, *, shared: bool = True
    ) -> dict[str, str]:
        """Environment for a process of this deployment (a worker, the fan-out parent, a CLI);
        `shared=False`: the default local lake under its own KISDB_HOME instead."""
        home = self.root / name
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KISDB_", "KIS_"))}
        return {
            **env,
            **self.prefect_env(home),
            **(self.lake_env if shared else {}),
            "KISDB_HOME": str(home / "kisdb"),
            "KISDB_RAW_ARCHIVE": "false",
            **(extra or {}),
        }

    def run_python(self, code: str, env: Mapping[str, str], timeout: float = 600) -> str:
        """Run `code` in a fresh interpreter of this venv (so Prefect reads `env` from scratch)."""
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=dict(env),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"python -c failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return done.stdout

    def run_json(self, code: str, env: Mapping[str, str], timeout: float = 900) -> Any:
        """Run `code`, which prints one JSON document as its last line; return it parsed."""
        return json.loads(self.run_python(code, env, timeout).strip().splitlines()[-1])

    def fanout(self, params: Mapping[str, Any], extra: Mapping[str, str] | None = None) -> Any:
        """Run the `backfill_fanout` parent flow (in its own process) against the shared lake."""
        code = (
            "import json; from pipelines.scale import backfill_fanout; "
            f"print(json.dumps(backfill_fanout(**{dict(params)!r})))"
        )
        return self.run_json(code, self.client_env("parent", extra))

    def single(self, name: str, params: Mapping[str, Any], extra: Mapping[str, str]) -> Any:
        """The reference: the ordinary bars flow in one process, on a local DuckDB-file lake."""
        code = (
            "import json; from pipelines.bars import ingest_period_bars; "
            f"s = ingest_period_bars(**{dict(params)!r}); "
            "print(json.dumps({'rows': s.rows_written, 'calls': s.calls}))"
        )
        return self.run_json(code, self.client_env(name, extra, shared=False))

    def dump(self, table: str, out: Path, name: str | None = None) -> Path:
        """Write a lake table to Parquet, sorted by its key: the shared lake, or (`name`) the
        local lake of that single-process run."""
        env = self.client_env(name or "reader", shared=name is None)
        code = (
            "import json; from pipelines.config import load_config; "
            "from pipelines.runtime import open_lake; "
            "lake = open_lake(load_config(), read_only=True); "
            f"lake.table({table!r}).write_parquet({str(out)!r}); print(json.dumps(1))"
        )
        self.run_json(code, env)
        return out

    def prefect_setup(self) -> None:
        """Work pool, zombie-run automation and the chunk deployment (idempotent)."""
        env = self.client_env("setup")
        subprocess.run(
            [str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process", "--overwrite"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        self.run_python(SETUP_CODE.format(root=str(ROOT), pool=POOL), env)

    # -- workers -----------------------------------------------------------------------------------
    def start_worker(
        self, name: str, extra: Mapping[str, str] | None = None, *, process: bool = False
    ) -> subprocess.Popen[bytes]:
        """A long-lived `kisdb worker` (chunks run in it), or with `process` Prefect's process
        worker (a new process per chunk run: the old way, still supported)."""
        env = self.client_env(name, extra)
        args = (
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", name]
            + ["--type", "process", "--limit", "1"]
            if process
            else [str(BIN / "kisdb"), "worker", "--pool", POOL]
        )
        proc = _spawn(args, env, self.root / f"{name}.log")
        self.procs[name] = proc
        return proc

    def stop_worker(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            kill_group(proc, sig)

    def reset_lake(self, prefix: str) -> None:
        """A fresh, empty shared lake (new catalog database, new data prefix)."""
        self.pg.create_db(self.catalog_db)
        self.data_prefix = prefix

    def stop(self) -> None:
        for name in list(self.procs):
            self.stop_worker(name)
        self.pg.stop()
        if self.owns_root and os.environ.get("KISDB_SCALE_KEEP") != "1":
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass(frozen=True)
class SimKey:
    """An app key served by its own simulator (a simulator knows one key)."""

    name: str
    app_key: str
    app_secret: str
    sim: Any  # simulator.server.RunningSimulator

    def __repr__(self) -> str:
        return f"SimKey({self.name!r}, {getattr(self.sim, 'base_url', '')!r})"


def start_sim_keys(names: list[str], budget: float, now: Any = None) -> list[SimKey]:
    """One simulator per key name, same seed (the same market), `budget` requests/s each."""
    from simulator.server import DEFAULT_APP_SECRET, SimConfig, start_simulator

    keys = []
    for name in names:
        app_key = ("PSscale" + name.upper().replace("-", ""))[:15].ljust(36, "0")
        sim = start_simulator(
            SimConfig(now=now, rate_limit=budget, app_key=app_key, app_secret=DEFAULT_APP_SECRET)
        )
        keys.append(SimKey(name, app_key, DEFAULT_APP_SECRET, sim))
    return keys


def write_keys_file(path: Path, keys: list[SimKey]) -> Path:
    """A KIS_APP_KEYS_FILE (JSON, 0600) naming each key and its simulator."""
    entries = [
        {
            "name": k.name,
            "app_key": k.app_key,
            "app_secret": k.app_secret,
            "base_url": k.sim.base_url,
        }
        for k in keys
    ]
    path.write_text(json.dumps({"keys": entries}), encoding="utf-8")
    path.chmod(0o600)
    return path


def sim_counts(keys: list[SimKey]) -> dict[str, dict[str, int]]:
    """Requests, EGW00201 answers and token requests each simulator has served so far."""
    out = {}
    for k in keys:
        snap = k.sim.stats.snapshot()
        out[k.name] = {
            "requests": int(snap["requests"]),
            "rate_limited": int(snap["rate_limited"]),
            "token_requests": int(snap["by_path"].get("/oauth2/tokenP", 0)),
        }
    return out


def counts_delta(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    return {k: {f: after[k][f] - before[k][f] for f in after[k]} for k in after}


SETUP_CODE = """
from datetime import timedelta
from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from pipelines.scale import backfill_chunk

# A run whose heartbeats stop (its machine died) is marked Crashed; the fan-out resubmits it.
Automation(
    name="kisdb: crash zombie flow runs",
    trigger=EventTrigger(
        after={{"prefect.flow-run.heartbeat"}},
        expect={{"prefect.flow-run.heartbeat", "prefect.flow-run.Completed",
                 "prefect.flow-run.Failed", "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"}},
        match=ResourceSpecification({{"prefect.resource.id": ["prefect.flow-run.*"]}}),
        for_each={{"prefect.resource.id"}},
        posture=Posture.Proactive,
        threshold=1,
        within=timedelta(seconds=45),
    ),
    actions=[ChangeFlowRunState(state=StateType.CRASHED, message="no heartbeat: worker lost")],
).create()
backfill_chunk.from_source(source={root!r}, entrypoint="pipelines/scale.py:backfill_chunk").deploy(
    name="scale", work_pool_name={pool!r}, print_next_steps=False)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start everything on loopback; Ctrl-C stops and removes it")
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--keys", help="KIS_APP_KEYS_FILE for the workers")
    up.add_argument("--root", type=Path)
    args = parser.parse_args(argv)
    env = ScaleEnv.start(args.root)
    try:
        extra = {"KIS_APP_KEYS_FILE": str(Path(args.keys).resolve())} if args.keys else {}
        for i in range(1, args.workers + 1):
            env.start_worker(f"worker-{i}", extra)
        print(f"# scale environment under {env.root} (logs there); in another shell:")
        for k, v in {**env.lake_env, "PREFECT_API_URL": env.api_url}.items():
            print(f"export {k}='{v}'")
        print("# Ctrl-C to stop")
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        env.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
