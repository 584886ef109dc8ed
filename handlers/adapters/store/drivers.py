"""DB-API connections: the driver is imported here, only for the database in use."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from handlers.adapters.store.url import StoreUrl


def sqlite_connect(path: str) -> Any:
    import sqlite3

    # Autocommit mode: transactions are the explicit BEGIN IMMEDIATE ... COMMIT of SqlStore._write.
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    if path != ":memory:":
        # WAL: readers never block the writer and a commit is one append, not several fsyncs; NORMAL sync in
        # WAL mode is still safe against corruption. Setting it can answer "database is locked" at once, without
        # the busy timeout, while another process recovers the file after a crash or migrates it (several
        # functions cold-starting together after `autotranscode up` was killed): try again for a while.
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if not _locked(exc):
                raise
            # tenacity only now: a cold start whose first try succeeds does not import it (~7 ms).
            from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_incrementing

            for attempt in Retrying(stop=stop_after_delay(30), wait=wait_incrementing(0.05, 0.05, max=0.5),
                                    retry=retry_if_exception(_locked), reraise=True):  # fmt: skip
                with attempt:
                    conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _locked(exc: BaseException) -> bool:
    return "database is locked" in str(exc)


def connector(url: StoreUrl) -> tuple[Callable[[], Any], Callable[[Any], None] | None]:
    """(connect, ping) for a file or server database; the driver is imported here, only for the one in use."""
    if url.dialect == "sqlite":
        path = url.database or ""
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return (lambda: sqlite_connect(path)), None
    options: dict[str, Any] = {k: int(v) if v.isdigit() else v for k, v in url.query}
    if url.dialect == "mysql":
        import pymysql

        options.setdefault("charset", "utf8mb4")
        kwargs = dict(host=url.host or "localhost", port=url.port or 3306, user=url.username or "",
                      password=url.password or "", database=url.database, autocommit=True, **options)  # fmt: skip
        return (lambda: pymysql.connect(**kwargs)), (lambda conn: conn.ping(reconnect=False))
    import psycopg

    kwargs = {k: v for k, v in (("host", url.host), ("port", url.port), ("user", url.username),
                                ("password", url.password), ("dbname", url.database)) if v is not None}  # fmt: skip
    kwargs.update(options)
    return (lambda: psycopg.connect(autocommit=True, **kwargs)), (lambda conn: conn.execute("SELECT 1"))
