"""Keeping a lake connection read-only and inside the lake, with DuckDB's own controls.

Two layers:

* `lock_down(con, ...)`: once the lake is attached (read-only) and the extensions are loaded,
  file access is limited to the lake's own files (`allowed_paths` / `allowed_directories` with
  `enable_external_access = false`), and the configuration is locked so no statement can undo
  it. Extensions are never installed or auto-loaded (see warehouse.extensions).
* `read_only_statement(sql)`: for SQL typed by a user (`kisdb sql`): exactly one statement, and
  only a query (SELECT, or EXPLAIN of one). It is what closes DETACH/ATTACH: DuckDB keeps a
  catalog it has attached on its allow-list, so only refusing those statements stops a re-attach.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

# Statement types that only read. DESCRIBE, SHOW, SUMMARIZE, PRAGMA show_tables, VALUES and
# FROM-first queries all parse as SELECT.
_READING = frozenset({duckdb.StatementType.SELECT})


class QueryRefused(ValueError):
    """A statement `kisdb sql` does not run: it could write, attach, detach or change settings."""


def lock_down(
    con: duckdb.DuckDBPyConnection,
    *,
    paths: Sequence[str] = (),
    directories: Sequence[str] = (),
) -> None:
    """From now on `con` reads only `paths` (exact files) and files under `directories`, writes
    nowhere outside them, and cannot change any setting (this one included)."""
    if paths:
        con.execute("SET allowed_paths = ?", [list(paths)])
    if directories:
        con.execute("SET allowed_directories = ?", [list(directories)])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def read_only_statement(sql: str) -> str:
    """The one read-only statement in `sql`, or `QueryRefused` saying why not.

    Parse errors are DuckDB's own (duckdb.ParserException), so they read as usual.
    """
    statements = duckdb.extract_statements(sql)
    if not statements:
        raise QueryRefused("kisdb sql needs a query, e.g. SELECT * FROM bars_daily LIMIT 5")
    for statement in statements:
        if statement.type not in _READING and not _explains_a_query(statement):
            raise QueryRefused(f"kisdb sql is read-only: {_label(statement)} is not allowed")
    if len(statements) > 1:
        raise QueryRefused(f"kisdb sql runs one query at a time, not {len(statements)}")
    return statements[0].query


def _label(statement: duckdb.Statement) -> str:
    """The statement's name for a message: its type, or its first keyword where one type covers
    several (USE/SET/RESET are SET; INSTALL/LOAD are LOAD)."""
    name = statement.type.name
    if name in {"SET", "LOAD"}:
        return _tokens(statement.query)[0][1]
    if name == "EXPLAIN":
        return "EXPLAIN of anything but a query"
    return name


def _tokens(query: str) -> list[tuple[int, str]]:
    """(offset, text upper-cased) of each token of `query`, comments skipped."""
    starts = [start for start, _ in duckdb.tokenize(query)]
    ends = [*starts[1:], len(query)]
    return [(a, query[a:b].strip().upper()) for a, b in zip(starts, ends, strict=True)]


def _explains_a_query(statement: duckdb.Statement) -> bool:
    """EXPLAIN [ANALYZE] of one SELECT (ANALYZE runs the statement, so what it runs matters)."""
    if statement.type != duckdb.StatementType.EXPLAIN:
        return False
    tokens = _tokens(statement.query)
    skip = 2 if len(tokens) > 1 and tokens[1][1] == "ANALYZE" else 1
    if len(tokens) <= skip:
        return False
    try:
        inner = duckdb.extract_statements(statement.query[tokens[skip][0] :])
    except duckdb.Error:  # EXPLAIN (FORMAT ...) and other options: refused, not needed here
        return False
    return len(inner) == 1 and inner[0].type in _READING
