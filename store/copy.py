"""Copy a whole store into an empty one on another database (SQLite ⇄ PostgreSQL), verified.

Rows keep their ids, so every reference stays true; the copy is one transaction on the target
(all or nothing), row counts are compared table by table before it commits, and PostgreSQL's id
sequences are moved past the copied ids so new rows never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from webcare.core.errors import StoreError
from webcare.store.base import Backend
from webcare.store.store import Store

# Parents before children, so foreign keys hold at every insert.
TABLES = ("customers", "identities", "conversations", "claims", "messages", "mentions", "tickets", "cursors",
          "events", "labels", "users", "staff_sessions", "notes", "tags", "conversation_tags", "mention_tags",
          "notifications", "saved_views")
_MAX_PARAMS = 30_000  # below SQLite's 32,766 variables and PostgreSQL's 65,535 parameters


def row_counts(store: Store) -> dict[str, int]:
    return {t: int(store.backend.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]) for t in TABLES}


def _key(table: str) -> str:
    return "source" if table == "cursors" else "id"


def _batches(backend: Backend, table: str, size: int) -> Iterator[list[dict[str, Any]]]:
    """All rows of a table in key order, `size` at a time (keyset pagination)."""
    key, last = _key(table), None
    while True:
        where, params = ("", []) if last is None else (f"WHERE {key} > ?", [last])
        rows = backend.query(f"SELECT * FROM {table} {where} ORDER BY {key} LIMIT ?", [*params, size])
        if not rows:
            return
        yield rows
        last = rows[-1][key]


def _insert(backend: Backend, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    per_row = f"({', '.join('?' for _ in columns)})"
    step = max(1, _MAX_PARAMS // len(columns))
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        backend.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(per_row for _ in chunk)}",
            [row[c] for row in chunk for c in columns],
        )


def copy_store(
    source: Store, target: Store, batch: int = 1000, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every row of `source` into the empty `target`; return the rows copied per table."""
    if source.schema_version() != target.schema_version():
        raise StoreError(
            f"schema versions differ (source {source.schema_version()}, target {target.schema_version()}); "
            "run `webcare store migrate` on both first"
        )
    if used := [t for t, n in row_counts(target).items() if n]:
        raise StoreError(f"the target store is not empty ({', '.join(used)}): copy into a new, empty database")
    copied = dict.fromkeys(TABLES, 0)
    with target.transaction():
        for table in TABLES:
            for rows in _batches(source.backend, table, batch):
                _insert(target.backend, table, rows)
                copied[table] += len(rows)
                if progress:
                    progress(table, copied[table])
        if target.backend.dialect == "postgresql":
            for table in TABLES:
                if _key(table) == "id":
                    target.backend.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) "
                        f"FROM {table}"
                    )
        for counts, where in ((row_counts(source), "source"), (row_counts(target), "target")):
            if counts != copied:  # nothing is kept: the target's transaction rolls back
                wrong = {t: (copied[t], counts[t]) for t in TABLES if counts[t] != copied[t]}
                raise StoreError(f"row counts differ after the copy (copied, {where}): {wrong}")
    return copied
