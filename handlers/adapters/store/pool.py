"""A small connection pool shared by threads, with a ping after idle time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

PING_AFTER_IDLE_SECONDS = 5.0


def close_quietly(conn: Any) -> None:
    with suppress(Exception):
        conn.close()


class Pool:
    """Idle connections, newest first, shared by all threads. A connection idle for a while is pinged before reuse
    (a CFC instance sits idle; the server may have closed it); a connection that failed is dropped."""

    def __init__(self, connect: Callable[[], Any], ping: Callable[[Any], None] | None, max_idle: int = 16) -> None:
        self._connect, self._ping, self._max_idle = connect, ping, max_idle
        self._idle: list[tuple[Any, float]] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        conn = self._get()
        try:
            yield conn
        except BaseException:
            close_quietly(conn)
            raise
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append((conn, time.monotonic()))
                return
        close_quietly(conn)

    def _get(self) -> Any:
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn, idle_since = self._idle.pop()
            if self._ping is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
                return conn
            try:
                self._ping(conn)
                return conn
            except Exception:
                close_quietly(conn)
        return self._connect()

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            close_quietly(conn)
