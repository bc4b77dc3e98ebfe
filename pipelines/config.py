"""The application's configuration: one frozen `Config`, built once by the composition root.

    config = load_config()                    # a CLI command: load_config(home, **options)
    config.kis      # connectors.kis.settings.Settings: KIS_*, KISDB_HOME, KISDB_RAW_ARCHIVE
    config.lake     # warehouse.remote.LakeTarget: KISDB_CATALOG, KISDB_DATA_PATH, KISDB_S3_*
    config.orders   # connectors.kis.order_guard.OrderGuards: KISDB_ORDER_*, KISDB_KILL_SWITCH
    config.scale    # ScaleConfig: KIS_APP_KEYS_FILE, KISDB_KEY_LEASE_SECONDS

Each variable is taken from the first layer that sets it: explicit overrides (CLI options) >
the process environment > ./.env > the user config file > the built-in defaults. The user file
(`KISDB_CONFIG`, default `$XDG_CONFIG_HOME/kisdb/config.toml`, i.e. `~/.config/kisdb/config.toml`)
holds the same variables as TOML keys, so an account configured there is used from any directory.

This module is the only one that reads the process environment (and the only one that sets
Prefect's process defaults); everything below the composition root takes its part of `Config`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.kis.errors import KisConfigError
from connectors.kis.keyring import AppKey, app_keys
from connectors.kis.order_guard import OrderGuards
from connectors.kis.settings import Settings
from warehouse.remote import LakeTarget

if TYPE_CHECKING:  # warehouse.lake loads Polars: `kisdb sql` need not
    from warehouse.lake import Source

CONFIG_VARIABLE = "KISDB_CONFIG"
DEFAULT_LEASE_SECONDS = 60.0  # Prefect's minimum lease

# Every variable the configuration reads: a key in the user config file outside this set is a
# typo, refused (a misspelt order limit must not be silently ignored).
VARIABLES = frozenset(
    {
        "KIS_ENV",
        "KIS_APP_KEY",
        "KIS_APP_SECRET",
        "KIS_ACCOUNT",
        "KIS_HTS_ID",
        "KIS_BASE_URL",
        "KIS_WS_URL",
        "KIS_RATE_LIMIT",
        "KIS_RATE_UTILISATION",
        "KIS_TOKEN_ISSUE_INTERVAL",
        "KIS_APP_KEYS_FILE",
        "KISDB_HOME",
        "KISDB_RAW_ARCHIVE",
        "KISDB_ORDER_MAX_QTY",
        "KISDB_ORDER_MAX_NOTIONAL",
        "KISDB_ORDER_MAX_PER_DAY",
        "KISDB_ORDER_SYMBOLS",
        "KISDB_KILL_SWITCH",
        "KISDB_KEY_LEASE_SECONDS",
        "KISDB_CATALOG",
        "KISDB_DATA_PATH",
        "KISDB_S3_ENDPOINT",
        "KISDB_S3_KEY_ID",
        "KISDB_S3_SECRET",
        "KISDB_S3_REGION",
        "KISDB_S3_URL_STYLE",
        "KISDB_S3_USE_SSL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    }
)


@dataclass(frozen=True)
class ScaleConfig:
    """Scale-out: the keyring file (None: the single KIS_APP_KEY) and how long a dead holder
    keeps its app key's lease."""

    keys_file: Path | None = None
    lease_seconds: float = DEFAULT_LEASE_SECONDS


@dataclass(frozen=True)
class Config:
    """Everything kisdb is configured with; each part goes to the code that needs it."""

    kis: Settings
    lake: LakeTarget
    orders: OrderGuards
    scale: ScaleConfig

    @property
    def home(self) -> Path:
        return self.kis.home

    @property
    def source(self) -> Source:
        return lake_source(self.kis)

    def describe(self) -> str:
        return describe(self.kis)

    def app_keys(self) -> list[AppKey]:
        """The keyring (read now: only scale-out needs it); empty when no key is configured."""
        return app_keys(self.scale.keys_file, self.kis)

    def with_key(self, key: AppKey | None) -> Config:
        """This configuration using app key `key` (its credentials, account, servers)."""
        return self if key is None else dataclasses.replace(self, kis=key.apply(self.kis))

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    @classmethod
    def of(cls, settings: Settings) -> Config:
        """`settings` with every other part at its default (the local lake under its home)."""
        return cls(kis=settings, lake=LakeTarget(), orders=OrderGuards(), scale=ScaleConfig())


def describe(settings: Settings) -> str:
    """Which environment and home a command used, for its summary line."""
    return f"env {settings.env}, home {settings.home}"


def lake_source(settings: Settings) -> Source:
    """What a lake fed by these settings holds: simulated data ("sim") or KIS's ("kis")."""
    return "sim" if settings.env == "sim" else "kis"


def config_from_values(values: Mapping[str, str], **overrides: Any) -> Config:
    """The configuration the variables in `values` describe, with KIS settings `overrides`
    (field names of `Settings`, e.g. home=..., env="sim") applied on top. Pure."""
    kis = Settings.from_env(values, **overrides)
    try:
        lake = LakeTarget.from_env(values)
    except ValueError as exc:
        raise KisConfigError(str(exc)) from None
    keys_file = (values.get("KIS_APP_KEYS_FILE") or "").strip()
    return Config(
        kis=kis,
        lake=lake,
        orders=OrderGuards.from_env(values, home=kis.home),
        scale=ScaleConfig(
            keys_file=Path(keys_file).expanduser() if keys_file else None,
            lease_seconds=_lease_seconds(values.get("KISDB_KEY_LEASE_SECONDS")),
        ),
    )


def load_config(
    home: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    **overrides: Any,
) -> Config:
    """The configuration from every layer (see the module docstring); `home` and `overrides`
    are the CLI's options. `environ` (default: the process environment) and `cwd` (where .env
    is looked for) are for tests."""
    env = os.environ if environ is None else environ
    if home is not None:
        overrides["home"] = Path(home).expanduser()
    return config_from_values(read_variables(env, cwd or Path.cwd()), **overrides)


def read_variables(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """Every layer below the CLI options merged: environment > ./.env > user config file."""
    dotenv = read_dotenv(cwd / ".env")
    named = environ.get(CONFIG_VARIABLE) or dotenv.get(CONFIG_VARIABLE)
    values = read_config_file(Path(named).expanduser() if named else user_config_path(environ))
    values.update(dotenv)
    values.update({k: v for k, v in environ.items() if v != ""})
    return values


def user_config_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "kisdb" / "config.toml"


def read_config_file(path: Path) -> dict[str, str]:
    """The user config file's variables (none when it does not exist), as strings."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError:
        # The parser's message may quote a line, i.e. a secret: keep it out.
        raise KisConfigError(f"{path} is not valid TOML") from None
    unknown = sorted(set(data) - VARIABLES)
    if unknown:
        raise KisConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(VARIABLES))}"
        )
    return {name: _text(path, name, value) for name, value in data.items()}


def _text(path: Path, name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise KisConfigError(f"{path}: {name} must be a string, number or boolean")


def read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v}


def _lease_seconds(value: str | None) -> float:
    if not (value or "").strip():
        return DEFAULT_LEASE_SECONDS
    try:
        seconds = float(value or "")
    except ValueError:
        raise KisConfigError(f"KISDB_KEY_LEASE_SECONDS must be a number, got {value!r}") from None
    if seconds < DEFAULT_LEASE_SECONDS:
        raise KisConfigError("KISDB_KEY_LEASE_SECONDS must be at least 60")
    return seconds


def prefect_env_defaults() -> None:
    """Keep Prefect local and silent unless the user configured it (no telemetry, no surprises).
    Process set-up for the CLI, the one place kisdb writes the environment."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")


# Files Prefect reads settings from (besides the environment): a hit means "ask Prefect".
_PREFECT_API_MARKERS = ("PREFECT_API_URL", "[api]", "api.url", "[tool.prefect")


def prefect_api_configured(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> bool:
    """Whether flows report to a Prefect API (else they run locally, without a temporary server).

    PREFECT_API_URL in the environment says yes. Prefect's settings decide when Prefect is loaded
    already (a test harness or a notebook may have set them) or when one of its settings files
    could set the URL (the profile, ./.env, ./prefect.toml, ./pyproject.toml); without those,
    Prefect is not imported at all (~3 s of a command's start on a busy 2-core box)."""
    env = os.environ if environ is None else environ
    if env.get("PREFECT_API_URL", "").strip():
        return True
    here = cwd or Path.cwd()
    prefect_home = Path(env.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    profiles = Path(env.get("PREFECT_PROFILES_PATH") or prefect_home / "profiles.toml")
    files = (profiles, here / ".env", here / "prefect.toml", here / "pyproject.toml")
    if "prefect" not in sys.modules and not any(_mentions_api(path) for path in files):
        return False
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def _mentions_api(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(marker in text for marker in _PREFECT_API_MARKERS)
