"""What every concern of the store stands on: the backend, the clock, row helpers and migrations.

SQL is written once for both dialects (`?` placeholders, `RETURNING`, `ON CONFLICT`); a backend
runs it. JSON columns are encoded here on the way in and decoded on the way out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from webcare.core.errors import NotFound, StoreError
from webcare.core.redact import redact
from webcare.store.schema import MIGRATIONS, statements

Row = dict[str, Any]
_JSON_COLUMNS = ("analysis", "buttons", "slots", "story", "data", "raw")


class Backend(Protocol):
    """What the store needs from a database."""

    dialect: str

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def transaction(self) -> Any: ...

    def table_names(self) -> list[str]: ...

    def close(self) -> None: ...


def open_backend(url: str, busy_timeout_ms: int = 5000) -> Backend:
    """A backend for a store URL: `sqlite:///file.db`, `sqlite:///:memory:` or `postgresql://…`."""
    if url.startswith("sqlite://"):
        from webcare.store.sqlite import SQLiteBackend

        path = url.removeprefix("sqlite://").removeprefix("/") or ":memory:"
        return SQLiteBackend(path, busy_timeout_ms=busy_timeout_ms)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from webcare.store.postgres import PostgresBackend
        except ModuleNotFoundError as e:
            raise StoreError("a PostgreSQL store needs the [postgres] extra: pip install 'webcare[postgres]'") from e
        return PostgresBackend(url)
    raise StoreError(f"unsupported store url {redact(url)!r}: use sqlite:///path.db or postgresql://…")


def decode(row: Row | None) -> Row | None:
    """A row with its JSON columns parsed."""
    if row is None:
        return None
    for column in _JSON_COLUMNS:
        value = row.get(column)
        if isinstance(value, str):
            row[column] = json.loads(value)
    return row


def encode(value: Any) -> str | None:
    """A value for a JSON column (None stays NULL)."""
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def where(conditions: dict[str, Any]) -> tuple[str, list[Any]]:
    """A WHERE condition and its parameters from the `conditions` whose value is not None.

    Keys are SQL with one `?` (`"kind = ?"`, `"created_at >= ?"`, `"state IN (?)"`); a list or
    tuple value fills `IN (?)` with one placeholder per item (an empty one matches nothing).
    """
    clauses, params = [], []
    for sql, value in conditions.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            clauses.append(sql.replace("?", ", ".join("?" for _ in value) or "NULL"))
            params += value
        else:
            clauses.append(sql)
            params.append(value)
    return " AND ".join(clauses) or "1 = 1", params


class Base:
    """The backend, the clock and the row helpers that every concern module uses."""

    def __init__(self, backend: Backend, clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.clock = clock
        self.migrate()

    def close(self) -> None:
        self.backend.close()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [decode(r) for r in self.backend.query(sql, params)]  # type: ignore[misc]

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.backend.query(sql, params)
        return decode(rows[0]) if rows else None

    def _get(self, table: str, row_id: int) -> Row:
        """One row by id; NotFound ('conversation 7 does not exist') when there is none."""
        row = self._one(f"SELECT * FROM {table} WHERE id = ?", [row_id])
        if row is None:
            raise NotFound(f"{table[:-1]} {row_id} does not exist")
        return row

    def _count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """The `n` of a `SELECT COUNT(*) AS n …`."""
        return int(self.backend.query(sql, params)[0]["n"])

    def _insert(self, table: str, values: dict[str, Any]) -> int:
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        rows = self.backend.query(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id", list(values.values())
        )
        return int(rows[0]["id"])

    def _update(self, table: str, row_id: int, values: dict[str, Any]) -> None:
        sets = ", ".join(f"{c} = ?" for c in values)
        if self.backend.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*values.values(), row_id]) == 0:
            raise NotFound(f"{table[:-1]} {row_id} does not exist")

    def _lock(self, table: str, row_id: int) -> None:
        """Lock one row until the transaction ends, so a check-then-write holds across processes."""
        self.backend.execute(f"UPDATE {table} SET id = id WHERE id = ?", [row_id])

    def transaction(self) -> Any:
        """A context manager: everything inside commits together or not at all (nested: a savepoint)."""
        return self.backend.transaction()

    def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        with self.backend.transaction():
            if self.backend.dialect == "postgresql":  # processes starting together migrate one at a time
                self.backend.execute("SELECT pg_advisory_xact_lock(hashtext('migrate:' || current_schema()))")
            self.backend.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
            )
            done = {r["version"] for r in self.backend.query("SELECT version FROM schema_migrations")}
            applied = []
            for version, name, _ in MIGRATIONS:
                if version in done:
                    continue
                for sql in statements(self.backend.dialect, version):
                    self.backend.execute(sql)
                self.backend.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    [version, name, self.clock()],
                )
                applied.append(version)
        return applied

    def schema_version(self) -> int:
        row = self._one("SELECT MAX(version) AS v FROM schema_migrations")
        return int(row["v"] or 0) if row else 0
