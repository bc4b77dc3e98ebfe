"""Load DuckDB extensions without touching the network.

Order of preference for each extension:

1. already loaded (json, icu and parquet are built into the Python wheel today);
2. the `duckdb-extension-<name>` PyPI package, loaded by file path from
   `<package>/extensions/v<duckdb version>/<file>.duckdb_extension` (DuckDB-signed binaries, so no
   unsigned-extension setting is needed);
3. DuckDB's own extension folder (`~/.duckdb/extensions`), i.e. whatever `INSTALL` put there.

Connections are made with `autoinstall_known_extensions=False`, `autoload_known_extensions=False`
and `allow_community_extensions=False` so nothing is ever downloaded at run time; a missing
extension is an error that names the package to install.

A connection that loads packaged binaries only (`new_connection(packaged=...)`) skips DuckDB's
signature check: it hashes the whole file on every LOAD (~0.12 s for DuckLake's 36 MB, a third
of a no-op command's start), and a binary installed inside the duckdb-extension package is as
trusted as DuckDB's own library beside it: whoever can replace one can replace the other. Any
other extension (DuckDB's own folder, or a packaged one loaded from a renamed copy) is still
checked: its connection is made without the setting.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
from functools import cache
from pathlib import Path

import duckdb

# Extensions whose entry point differs from the name users (and package names) know them by: the
# binary must be loaded from a file named after the entry point (sqlite -> sqlite_scanner).
_ENTRY_POINT = {
    "sqlite": "sqlite_scanner",
    "postgres": "postgres_scanner",
    "mysql": "mysql_scanner",
}

NO_DOWNLOAD_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}


class ExtensionUnavailable(RuntimeError):
    """A DuckDB extension is neither built in, nor packaged, nor installed."""


def new_connection(
    database: str = ":memory:", *, read_only: bool = False, packaged: tuple[str, ...] = ()
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that will never auto-install or auto-load an extension. `packaged`:
    the extensions it will load; when each loads in place from its package, LOAD skips the
    signature check (see the module docstring)."""
    config = dict(NO_DOWNLOAD_CONFIG)
    if packaged and all(_loads_in_place(name) for name in packaged):
        config["allow_unsigned_extensions"] = True
    return duckdb.connect(database, read_only=read_only, config=config)


@cache
def packaged_binary(name: str) -> Path | None:
    """The extension binary shipped by `duckdb-extension-<name>`, if that package is installed."""
    module = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = (
        Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}"
    )
    binaries = sorted(folder.glob("*.duckdb_extension"))
    if not binaries:
        return None
    wanted = _ENTRY_POINT.get(name, name)
    exact = [b for b in binaries if b.stem == wanted]
    return exact[0] if exact else binaries[0]


def _loads_in_place(name: str) -> bool:
    """Whether `name` loads straight from its package's folder: not from a copy, which may sit in
    a shared temporary folder (see `_loadable`)."""
    binary = packaged_binary(name)
    return binary is not None and binary.stem == _ENTRY_POINT.get(name, name)


def _loadable(binary: Path, name: str, cache_dir: Path | None) -> Path:
    """Copy a binary whose file name differs from its entry point to a correctly named file."""
    wanted = _ENTRY_POINT.get(name, name)
    if binary.stem == wanted:
        return binary
    base = cache_dir or Path(tempfile.gettempdir()) / "kisdb-duckdb-extensions"
    target = base / f"v{duckdb.__version__}" / f"{wanted}.duckdb_extension"
    if not target.exists() or target.stat().st_size != binary.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        # A copy of its own per process and thread: two copies to one name collide.
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        shutil.copyfile(binary, tmp)
        tmp.replace(target)  # atomic, so a concurrent process never loads a half-copied file
    return target


def loaded_extensions(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()
    return {r[0] for r in rows}


def load_extension(
    con: duckdb.DuckDBPyConnection, name: str, *, cache_dir: Path | None = None
) -> str:
    """Load `name` into `con`; returns where it came from ("built-in", a path, or "installed")."""
    canonical = _ENTRY_POINT.get(name, name)
    if loaded_extensions(con) & {name, canonical}:
        return "built-in"
    binary = packaged_binary(name)
    if binary is not None:
        path = _loadable(binary, name, cache_dir)
        con.execute(f"LOAD '{_sql_string(str(path))}'")
        return str(path)
    try:
        con.execute(f"LOAD {canonical}")
    except duckdb.Error as exc:
        raise ExtensionUnavailable(
            f"DuckDB extension {name!r} is not available: "
            f"pip install 'duckdb-extension-{name}=={duckdb.__version__}'"
        ) from exc
    return "installed"


def extensions_for(catalog: str, data_path: str) -> list[str]:
    """The extensions a DuckLake catalog URL and data path need."""
    needed = ["ducklake"]
    if catalog.startswith(("postgres:", "postgresql:")):
        needed.append("postgres")
    elif catalog.startswith("sqlite:"):
        needed.append("sqlite")
    elif catalog.startswith("mysql:"):
        needed.append("mysql")
    if data_path.startswith(("s3://", "gs://", "gcs://", "r2://", "http://", "https://", "az://")):
        needed.append("httpfs")
    return needed


def _sql_string(text: str) -> str:
    return text.replace("'", "''")
