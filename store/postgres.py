"""The PostgreSQL backend: psycopg 3 over a connection pool, for several processes and machines.

The store's SQL uses `?` placeholders; they become `%s` here (and a literal `%` becomes `%%`).
Outside a transaction each statement borrows a pooled connection in autocommit mode. A
transaction pins one connection to the calling thread until it ends, so every statement the
thread runs meanwhile (the store's verbs call one another) goes to that connection, and nested
transactions become savepoints — the same semantics as the SQLite backend, per thread.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.numeric import Int4BinaryDumper, Int4Dumper
from psycopg.types.string import StrDumperUnknown
from psycopg_pool import ConnectionPool, PoolTimeout

from webcare.core.errors import StoreError
from webcare.store.config import redact_url

_LITERAL = re.compile(r"('(?:[^']|'')*')")
_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*([^\s,]+)")


@lru_cache(maxsize=1024)
def to_pyformat(query: str) -> str:
    """`?` placeholders to psycopg's `%s`, leaving string literals alone; `%` becomes `%%`."""
    parts = _LITERAL.split(query)
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("%", "%%").replace("?", "%s")
    for i in range(1, len(parts), 2):
        parts[i] = parts[i].replace("%", "%%")
    return "".join(parts)


class _NulFreeStrDumper(StrDumperUnknown):
    """PostgreSQL text cannot hold NUL characters (SQLite can): store them as U+FFFD."""

    def dump(self, obj: str) -> bytes:
        return super().dump(obj.replace("\x00", "\ufffd"))  # type: ignore[return-value]


def _configure(conn: psycopg.Connection) -> None:
    """Make parameters behave as on SQLite: bools go into INTEGER columns as 0/1, NULs do no harm."""
    conn.adapters.register_dumper(bool, Int4Dumper)
    conn.adapters.register_dumper(bool, Int4BinaryDumper)
    conn.adapters.register_dumper(str, _NulFreeStrDumper)


class PostgresBackend:
    """Runs the store's SQL on PostgreSQL through a pool of connections shared by threads.

    When the URL sets a schema (`?options=-csearch_path%3Dname`), that schema is created if it
    does not exist, so one database can hold several independent stores.
    """

    dialect = "postgresql"

    def __init__(self, url: str, min_size: int = 1, max_size: int = 10, timeout: float = 30.0) -> None:
        self.url = url
        self._local = threading.local()
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as e:
            raise StoreError(f"invalid PostgreSQL url {redact_url(url)}: {e}") from e
        params.setdefault("connect_timeout", 10)
        self.pool = ConnectionPool(
            kwargs={**params, "autocommit": True, "row_factory": dict_row},
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            configure=_configure,
            check=ConnectionPool.check_connection,
            name="webcare",
            open=False,
        )
        try:
            psycopg.connect(**params).close()  # fail fast, with libpq's reason, when unreachable
        except psycopg.Error as e:
            reason = " ".join(str(e).split())
            raise StoreError(f"cannot connect to PostgreSQL at {redact_url(url)}: {reason}") from e
        self.pool.open(wait=True, timeout=timeout)
        self._ensure_schema(str(params.get("options", "")))

    def _ensure_schema(self, options: str) -> None:
        match = _SEARCH_PATH.search(options)
        if match and self.query("SELECT current_schema() AS s")[0]["s"] is None:
            with self.transaction():  # CREATE SCHEMA IF NOT EXISTS alone races with another process
                self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"create schema {match.group(1)}"])
                self.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(match.group(1))))

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """The thread's connection inside a transaction, else a pooled one for one statement."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with _translated(), self.pool.connection() as conn:
            yield conn

    def query(self, sql: str | pgsql.Composable, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._connection() as conn, _translated():
            cursor = conn.execute(_prepare(sql), list(params))
            return cursor.fetchall() if cursor.description else []

    def execute(self, sql: str | pgsql.Composable, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        with self._connection() as conn, _translated():
            return conn.execute(_prepare(sql), list(params)).rowcount

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work on this thread's connection; nested calls become savepoints."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            with _translated(), conn.transaction():
                yield
            return
        with _translated(), self.pool.connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield
            finally:
                self._local.conn = None

    def table_names(self) -> list[str]:
        rows = self.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
        return [r["tablename"] for r in rows]

    def close(self) -> None:
        self.pool.close()


def _prepare(query: str | pgsql.Composable) -> Any:
    return to_pyformat(query) if isinstance(query, str) else query


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as e:
        raise StoreError(f"PostgreSQL: {str(e).strip()}") from e
    except PoolTimeout as e:
        raise StoreError(f"PostgreSQL: no free connection in the pool ({e})") from e
