"""Connector settings: one frozen object, parsed from KIS_* / KISDB_* variables it is handed.

Nothing here reads the process environment or files: the composition root (pipelines.config)
layers the environment, ./.env and the user config file and passes the result to `from_env`.
Secrets are wrapped in `Secret`, whose repr/str never show the value, so a logged or printed
`Settings` is safe.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from connectors.kis.errors import KisConfigError

Env = Literal["sim", "paper", "real"]
TrEnv = Literal["real", "paper"]

REAL_BASE_URL = "https://openapi.koreainvestment.com:9443"
REAL_WS_URL = "ws://ops.koreainvestment.com:21000"
PAPER_BASE_URL = "https://openapivts.koreainvestment.com:29443"
PAPER_WS_URL = "ws://ops.koreainvestment.com:31000"

# Working per-second budgets per app key (kis-api.md §3, third-party figures).
DEFAULT_RATE_LIMIT: dict[str, float] = {"real": 20.0, "paper": 2.0, "sim": 20.0}


class Secret:
    """A secret string that never shows itself in repr/str; `.reveal()` hands out the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self, keep: int = 4) -> str:
        """A short recognisable prefix for ledgers, e.g. "PS12****"."""
        shown = self._value[:keep] if len(self._value) > 2 * keep else ""
        return f"{shown}****"

    def fingerprint(self) -> str:
        """A stable, non-reversible id (for file names): sha256 prefix."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:12]

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def _secret(value: str | None) -> Secret | None:
    value = (value or "").strip()
    return Secret(value) if value else None


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise KisConfigError(f"{name} must be true/false, got {value!r}")


def _parse_float(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise KisConfigError(f"{name} must be a number, got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    env: Env = "sim"
    app_key: Secret | None = None
    app_secret: Secret | None = None
    account: Secret | None = None
    hts_id: str | None = None
    base_url: str | None = None
    ws_url: str | None = None
    home: Path = field(default_factory=lambda: Path.home() / ".kisdb")
    rate_limit: float | None = None
    rate_utilisation: float = 0.97
    raw_archive: bool = True
    # Seconds between token issuances KIS allows per app key (1/min; we keep a second of slack).
    token_issue_interval: float = 61.0
    # Reuse a cached token until this many seconds before its expiry.
    token_refresh_margin: float = 600.0
    timeout: float = 10.0
    max_retries: int = 4

    def __post_init__(self) -> None:
        if self.env not in ("sim", "paper", "real"):
            raise KisConfigError(f"KIS_ENV must be sim, paper or real, got {self.env!r}")
        if not 0.0 < self.rate_utilisation <= 1.0:
            raise KisConfigError("KIS_RATE_UTILISATION must be in (0, 1]")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise KisConfigError("KIS_RATE_LIMIT must be positive")
        if self.account is not None:
            _split_account(self.account.reveal())  # validates the shape early

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Build settings from the variables in `environ`, then apply field overrides."""

        def get(name: str) -> str | None:
            value = environ.get(name)
            return value if value not in (None, "") else None

        kwargs: dict[str, Any] = {
            "env": (get("KIS_ENV") or "sim").strip().lower(),
            "app_key": _secret(get("KIS_APP_KEY")),
            "app_secret": _secret(get("KIS_APP_SECRET")),
            "account": _secret(get("KIS_ACCOUNT")),
            "hts_id": get("KIS_HTS_ID"),
            "base_url": get("KIS_BASE_URL"),
            "ws_url": get("KIS_WS_URL"),
        }
        if (home := get("KISDB_HOME")) is not None:
            kwargs["home"] = Path(home).expanduser()
        if (rate := get("KIS_RATE_LIMIT")) is not None:
            kwargs["rate_limit"] = _parse_float("KIS_RATE_LIMIT", rate)
        if (util := get("KIS_RATE_UTILISATION")) is not None:
            kwargs["rate_utilisation"] = _parse_float("KIS_RATE_UTILISATION", util)
        if (archive := get("KISDB_RAW_ARCHIVE")) is not None:
            kwargs["raw_archive"] = _parse_bool("KISDB_RAW_ARCHIVE", archive)
        if (interval := get("KIS_TOKEN_ISSUE_INTERVAL")) is not None:
            kwargs["token_issue_interval"] = _parse_float("KIS_TOKEN_ISSUE_INTERVAL", interval)
        for key in ("app_key", "app_secret", "account"):
            if isinstance(overrides.get(key), str):
                overrides[key] = _secret(overrides[key])
        if isinstance(overrides.get("home"), str):
            overrides["home"] = Path(overrides["home"])
        kwargs.update(overrides)
        return cls(**kwargs)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def tr_env(self) -> TrEnv:
        """Which TR-ID family to send: the simulator speaks the real family."""
        return "paper" if self.env == "paper" else "real"

    @property
    def rate_budget(self) -> float:
        """Requests per second allowed per app key in this environment."""
        return self.rate_limit if self.rate_limit is not None else DEFAULT_RATE_LIMIT[self.env]

    @property
    def cano(self) -> str:
        """The 8-digit account number (first part of KIS_ACCOUNT)."""
        return _split_account(self._require_account())[0]

    @property
    def product_code(self) -> str:
        """The 2-digit account product code (second part of KIS_ACCOUNT)."""
        return _split_account(self._require_account())[1]

    def _require_account(self) -> str:
        if self.account is None:
            raise KisConfigError("KIS_ACCOUNT is not set (expected 12345678-01)")
        return self.account.reveal()

    def resolved(self) -> Settings:
        """What a client needs, checked: KIS's hosts filled in for paper/real. Starts nothing:
        for sim the composition root points the settings at a simulator first (pipelines.embedded
        runs one in-process)."""
        if self.env == "sim" and self.base_url is None:
            raise KisConfigError(
                "KIS_ENV=sim needs KIS_BASE_URL (a running simulator): the kisdb commands and "
                "flows start one in-process; in code use pipelines.embedded.resolve(settings)"
            )
        if self.app_key is None or self.app_secret is None:
            raise KisConfigError(
                f"KIS_APP_KEY and KIS_APP_SECRET are required for KIS_ENV={self.env}"
            )
        if self.env == "sim":
            return self
        real = self.env == "real"
        return self.replace(
            base_url=self.base_url or (REAL_BASE_URL if real else PAPER_BASE_URL),
            ws_url=self.ws_url or (REAL_WS_URL if real else PAPER_WS_URL),
        )

    def secrets(self) -> list[str]:
        """Every secret value (for log redaction); never log this list."""
        return [
            s.reveal() for s in (self.app_key, self.app_secret, self.account) if s is not None
        ] + ([self.cano] if self.account is not None else [])


def _split_account(value: str) -> tuple[str, str]:
    digits = value.replace("-", "").strip()
    if len(digits) != 10 or not digits.isdigit():
        raise KisConfigError("KIS_ACCOUNT must look like 12345678-01 (8 digits, dash, 2 digits)")
    return digits[:8], digits[8:]
