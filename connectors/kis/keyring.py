"""Several app keys (each with its own account) for scale-out: one Settings per key.

    keys = load_keyring(Path("~/.kisdb/keys.toml"))       # or app_keys(file_or_None, base)
    for key in keys:
        settings = key.apply(base)                          # same env/home/limits, this key's secrets

The file named by KIS_APP_KEYS_FILE is JSON or TOML (by suffix) and must be private (0600 on POSIX:
it holds app secrets). Either a bare list (JSON) or a `keys` table array:

    [[keys]]
    name = "main"                 # lower-case letters, digits, '-' (used in Prefect names)
    app_key = "PS..."
    app_secret = "..."
    account = "12345678-01"       # optional
    base_url = "http://..."       # optional override (e.g. one simulator per key)

Without the file, the keyring is the single key of KIS_APP_KEY / KIS_APP_SECRET named "default".
Secrets stay wrapped in `Secret`; an `AppKey` repr shows only its name and fingerprint.
"""

from __future__ import annotations

import dataclasses
import json
import re
import stat
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.kis.errors import KisConfigError
from connectors.kis.settings import Secret, Settings, _split_account

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_FIELDS = {"name", "app_key", "app_secret", "account", "base_url", "ws_url"}


@dataclass(frozen=True)
class AppKey:
    """One app key with its secret and (optionally) its account and server overrides."""

    name: str
    app_key: Secret
    app_secret: Secret
    account: Secret | None = None
    base_url: str | None = None
    ws_url: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise KisConfigError(
                f"app key name {self.name!r} must be 1-40 lower-case letters, digits or '-'"
            )
        if self.account is not None:
            _split_account(self.account.reveal())

    @property
    def key_id(self) -> str:
        """A stable, non-secret id of the key itself (not its name): two names for one key
        still share one lease and one token cache."""
        return self.app_key.fingerprint()

    def apply(self, base: Settings) -> Settings:
        """`base` with this key's credentials, account and (when given) server URLs."""
        changes: dict[str, Any] = {"app_key": self.app_key, "app_secret": self.app_secret}
        if self.account is not None:
            changes["account"] = self.account
        if self.base_url is not None:
            changes["base_url"] = self.base_url
        if self.ws_url is not None:
            changes["ws_url"] = self.ws_url
        return dataclasses.replace(base, **changes)

    def __repr__(self) -> str:
        return f"AppKey(name={self.name!r}, key_id={self.key_id!r})"

    __str__ = __repr__


def _entry(raw: object, index: int) -> AppKey:
    if not isinstance(raw, Mapping):
        raise KisConfigError(f"app key #{index + 1} must be a table/object")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise KisConfigError(f"app key #{index + 1} has unknown field(s) {sorted(unknown)}")
    missing = [f for f in ("name", "app_key", "app_secret") if not str(raw.get(f) or "").strip()]
    if missing:
        raise KisConfigError(f"app key #{index + 1} is missing {', '.join(missing)}")

    def text(name: str) -> str | None:
        value = raw.get(name)
        return str(value).strip() or None if value is not None else None

    account = text("account")
    return AppKey(
        name=str(raw["name"]).strip(),
        app_key=Secret(str(raw["app_key"]).strip()),
        app_secret=Secret(str(raw["app_secret"]).strip()),
        account=Secret(account) if account else None,
        base_url=text("base_url"),
        ws_url=text("ws_url"),
    )


def parse_keyring(text: str, fmt: str) -> list[AppKey]:
    """Parse a keyring document (`fmt` "json" or "toml"); names and keys must be unique."""
    try:
        data: object = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError):
        # A parse error's message may quote the offending line, i.e. a secret: keep it out.
        raise KisConfigError(f"the app keys file is not valid {fmt.upper()}") from None
    entries = data.get("keys") if isinstance(data, Mapping) else data
    if not isinstance(entries, Sequence) or isinstance(entries, str) or not entries:
        raise KisConfigError("the app keys file must hold a non-empty list `keys` of app keys")
    keys = [_entry(raw, i) for i, raw in enumerate(entries)]
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise KisConfigError(f"app key names must be unique: {names}")
    if len({k.key_id for k in keys}) != len(keys):
        raise KisConfigError("the same app key is listed twice (under different names)")
    return keys


def check_private(path: Path) -> None:
    """Refuse a secrets file others can read (POSIX; Windows ACLs are not checked)."""
    if sys.platform == "win32":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KisConfigError(
            f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
        )


def load_keyring(path: Path) -> list[AppKey]:
    """Read and validate a keyring file (JSON for *.json, TOML otherwise)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise KisConfigError(f"KIS_APP_KEYS_FILE {path} does not exist")
    check_private(path)
    fmt = "json" if path.suffix.lower() == ".json" else "toml"
    return parse_keyring(path.read_text(encoding="utf-8"), fmt)


def app_keys(file: Path | None, settings: Settings) -> list[AppKey]:
    """The keys of the keyring `file` (KIS_APP_KEYS_FILE), else `settings`' own key as "default".

    An empty list means no key is configured (e.g. KIS_ENV=sim with the embedded simulator).
    """
    if file is not None:
        return load_keyring(file)
    if settings.app_key is None or settings.app_secret is None:
        return []
    return [AppKey("default", settings.app_key, settings.app_secret, settings.account)]


def pick(keys: Sequence[AppKey], name: str | None) -> AppKey | None:
    """The key called `name` (None: the first key, or None with no keys)."""
    if name is None:
        return keys[0] if keys else None
    for key in keys:
        if key.name == name:
            return key
    raise KisConfigError(f"no app key named {name!r}; known: {[k.name for k in keys]}")
