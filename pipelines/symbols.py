"""A stock as a user writes it: `005930`, `A005930` (the ISIN-style prefix HTS shows) or its name
(`삼성전자`), matched against the securities table. Names need the lake; codes never open it.

`match_name` is pure; `resolve_symbols` reads the names from the lake only when one is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.errors import InputError

if TYPE_CHECKING:
    from pipelines.config import Config

_CODE = re.compile(r"^A?(Q?[0-9A-Z]{6})$")
_MAX_LISTED = 8  # candidates named in an "ambiguous" error


def as_code(text: str) -> str | None:
    """`005930` or `A005930` -> `005930`; None when `text` is not a code (a name, maybe)."""
    found = _CODE.match(text.strip().upper())
    return found[1] if found else None


def match_name(name: str, names: Mapping[str, str]) -> str | None:
    """The one symbol whose name (`names`: symbol -> name) is `name` (case and spaces ignored), or
    else the one containing it; None when none does. Several: an InputError naming them."""

    def norm(text: str) -> str:
        return "".join(text.split()).casefold()

    wanted = norm(name)
    exact = sorted(s for s, n in names.items() if norm(n) == wanted)
    if len(exact) == 1:
        return exact[0]
    found = exact or sorted(s for s, n in names.items() if wanted in norm(n))
    if len(found) <= 1:
        return found[0] if found else None
    listed = ", ".join(f"{s} {names[s]}" for s in found[:_MAX_LISTED])
    more = f" and {len(found) - _MAX_LISTED} more" if len(found) > _MAX_LISTED else ""
    raise InputError(f"{name!r} is ambiguous: {listed}{more} (use the code)")


def security_names(config: Config) -> dict[str, str]:
    """symbol -> name from the lake's latest securities snapshot (an InputError when there is
    none: names cannot be resolved yet)."""
    from pipelines.runtime import connect
    from warehouse.lake import LakeError

    hint = "names need the securities table: run `kisdb ingest securities`, or use the code"
    try:
        con = connect(config)
    except LakeError:
        raise InputError(hint) from None
    try:
        import duckdb

        rows = con.sql("SELECT symbol, name FROM securities_latest").fetchall()
    except duckdb.Error:
        raise InputError(hint) from None
    finally:
        con.close()
    if not rows:
        raise InputError(hint)
    return {str(symbol): str(name) for symbol, name in rows}


def resolve_symbols(text: str | Sequence[str] | None, config: Config) -> list[str] | None:
    """Comma-separated codes or names -> codes (order kept, duplicates dropped); None stays None.
    The lake is read once, and only when a name is given. An unmatched ASCII word (ABC, 5930) is
    passed on as it is: a mistyped code, which the flows reject saying what a code looks like."""
    if text is None:
        return None
    items = [text] if isinstance(text, str) else list(text)
    parts = [p.strip() for item in items for p in item.split(",") if p.strip()]
    names: dict[str, str] | InputError | None = None
    out: list[str] = []
    for part in parts:
        code = as_code(part)
        if code is None and not part.isdigit():
            if names is None:
                try:
                    names = security_names(config)
                except InputError as exc:  # no securities table: kept for the first real name
                    names = exc
            if isinstance(names, InputError):
                if not part.isascii():
                    raise names
            else:
                code = match_name(part, names)
            if code is None and not part.isascii():
                raise InputError(f"no stock named {part!r} in the securities table (use its code)")
        code = code or part
        if code not in out:
            out.append(code)
    return out


def resolve_symbol(text: str, home: Path | str | None) -> str:
    """One stock for a command argument (an order, `executions --symbol`)."""
    from pipelines.config import load_config

    code = as_code(text)
    if code is not None:
        return code
    codes = resolve_symbols(text, load_config(home)) or []
    if len(codes) != 1:
        raise InputError(f"one stock expected, got {text!r}")
    return codes[0]
