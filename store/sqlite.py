"""The embedded SQLite backend: sqlite-utils over one connection, WAL mode, a busy timeout."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from webcare.core.errors import StoreError


class SQLiteBackend:
    """Runs the store's SQL on SQLite.

    One connection is shared by the threads of a process behind a re-entrant lock; other
    processes wait up to `busy_timeout_ms` for a write lock (WAL lets readers go on meanwhile).
    Write transactions start with BEGIN IMMEDIATE so two writers never deadlock on an upgrade.
    """

    dialect = "sqlite"

    def __init__(self, path: str | Path | None = None, busy_timeout_ms: int = 5000) -> None:
        self.path = None if path in (None, ":memory:") else Path(path)
        if self.path is not None and self.path.is_dir():
            raise StoreError(f"cannot open SQLite database {self.path}: it is a directory")
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path) if self.path else ":memory:",
                check_same_thread=False,
                isolation_level=None,
                timeout=busy_timeout_ms / 1000,
            )
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open SQLite database {self.path}: {e}") from e
        self.db = conn  # plain sqlite3: sqlite-utils' Database would import numpy (0.1 s at every start)
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self.db.execute("PRAGMA foreign_keys = ON")
            if self.path is not None:
                self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as e:
            conn.close()
            raise StoreError(f"cannot open SQLite database {self.path}: {e}") from e

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock, _translated():
            cursor = self.db.execute(sql, list(params))
            columns = [c[0] for c in cursor.description or ()]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        with self._lock, _translated():
            return self.db.execute(sql, list(params)).rowcount

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work; nested calls become savepoints."""
        with self._lock, _translated():
            if self._depth:
                name = f"sp{self._depth}"
                self.db.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield
                except BaseException:
                    self.db.execute(f"ROLLBACK TO {name}")
                    raise
                finally:
                    self._depth -= 1
                self.db.execute(f"RELEASE {name}")
                return
            self.db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")
            finally:
                self._depth = 0

    def table_names(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]

    def close(self) -> None:
        with self._lock:
            self.db.close()


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as e:
        raise StoreError(f"SQLite: {e}") from e
