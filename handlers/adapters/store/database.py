"""A SQL database through its plain DB-API driver (sqlite3, PyMySQL or psycopg 3, imported only for the one in use):
connections, one-transaction writes (deadlock victims run again), reads, and the schema brought up to date when it
is opened. SqlStore builds the store's methods on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

from handlers.adapters.store import schema
from handlers.adapters.store.columns import TABLES
from handlers.adapters.store.dialect import Dialect
from handlers.adapters.store.drivers import connector, sqlite_connect
from handlers.adapters.store.pool import Pool
from handlers.adapters.store.statements import statements_for
from handlers.adapters.store.url import parse_store_url

T = TypeVar("T")


class SqlDatabase:
    def __init__(self, url: str) -> None:
        self.url = url
        parsed = parse_store_url(url)
        self.dialect = parsed.dialect
        self._d = Dialect(parsed.dialect)
        self._sql = statements_for(parsed.dialect)
        # SQLite has one writer at a time and its busy handler waits by sleeping: threads of this process take turns
        # on a lock instead. Other processes still wait on the busy timeout.
        self._write_lock: threading.Lock | None = None
        self._memory_lock: threading.RLock | None = None
        if parsed.dialect == "sqlite" and parsed.database is None:
            # One in-memory database = one connection, used by one thread at a time.
            self._memory_lock = threading.RLock()
            self._memory = sqlite_connect(":memory:")
        else:
            self._write_lock = threading.Lock() if parsed.dialect == "sqlite" else None
            self._pool = Pool(*connector(parsed))
        self._migrate()

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._memory_lock is not None:
            with self._memory_lock:
                yield self._memory
            return
        with self._pool.connection() as conn:
            yield conn

    def _write(self, work: Callable[[Any], T]) -> T:
        """Run work(cursor) in one write transaction (serialized per process on SQLite); a deadlock victim
        (MySQL/PostgreSQL) runs again, up to 3 times in all."""
        try:  # the first attempt directly: tenacity (~3 ms of a cold start's imports) only once one failed
            return self._write_once(work)
        except Exception as exc:
            if not self._d.is_deadlock(exc):
                raise
        from tenacity import Retrying, retry_if_exception, stop_after_attempt

        retrying = Retrying(stop=stop_after_attempt(2), retry=retry_if_exception(self._d.is_deadlock), reraise=True)
        return retrying(self._write_once, work)

    def _write_once(self, work: Callable[[Any], T]) -> T:
        with self._write_lock or nullcontext(), self._connection() as conn:
            cur = conn.cursor()
            try:
                cur.execute(self._d.begin)
                result = work(cur)
                cur.execute("COMMIT")
                return result
            except Exception as exc:
                try:
                    cur.execute("ROLLBACK")
                except Exception:
                    raise exc from None  # the connection is gone: the pool drops it
                raise
            finally:
                cur.close()

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        with self._connection() as conn:
            cur = conn.cursor()
            try:
                cur.execute(sql, params)
                return cur.fetchall()
            finally:
                cur.close()

    def _migrate(self) -> None:
        """Bring the schema up to date (handlers/adapters/store/schema.py); an up-to-date store costs one SELECT."""
        with self._connection() as conn:
            if schema.version_of(conn) >= schema.latest():
                return
        # Cold starts migrating at once wait on the database's lock; retrying is for the rest (PostgreSQL creating
        # the version table twice at once: a unique violation in its catalog). 5 attempts in all, 0.05 s, 0.1 s, ...
        # apart; the first one directly, so tenacity is only imported when it failed.
        try:
            self._migrate_once()
            return
        except Exception:
            time.sleep(0.05)
        from tenacity import Retrying, stop_after_attempt, wait_incrementing

        for attempt in Retrying(stop=stop_after_attempt(4), wait=wait_incrementing(0.1, 0.05), reraise=True):
            with attempt:
                self._migrate_once()

    def _migrate_once(self) -> None:
        with self._write_lock or nullcontext(), self._connection() as conn:
            schema.migrate(conn, self._d)

    def dispose(self) -> None:
        """Close the connections (a later call opens new ones; an in-memory database is gone)."""
        if self._memory_lock is not None:
            with self._memory_lock:
                self._memory.close()
        else:
            self._pool.close_all()

    def drop_all(self) -> None:
        """Tests only."""

        def drop(cur: Any) -> None:
            for table in (*TABLES, schema.VERSION_TABLE):
                cur.execute(f"DROP TABLE IF EXISTS {table}")

        self._write(drop)

    def _change(self, sql: str, params: Sequence[Any]) -> int:
        """One statement in its own write transaction; -> rowcount (for a conditional UPDATE: 1 = this call won)."""

        def run(cur: Any) -> int:
            cur.execute(sql, params)
            return cur.rowcount

        return self._write(run)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Tests and tools: rows of a plain SQL query (`?` placeholders on every database)."""
        return self._read(self._d.sql(sql), params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Tests and tools: one plain SQL statement (`?` placeholders) in its own transaction; -> rowcount."""
        return self._change(self._d.sql(sql), params)
