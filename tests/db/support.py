"""Shared by the db tests."""

from __future__ import annotations

import threading

from handlers.adapters.store import SqlStore


def open_at_once(url: str, processes: int = 4) -> tuple[list[SqlStore], list[Exception]]:
    """Open the store from several threads released together, as cold starts at once would: (stores, errors)."""
    errors: list[Exception] = []
    stores: list[SqlStore] = []
    barrier = threading.Barrier(processes)

    def cold_start() -> None:
        barrier.wait()
        try:
            stores.append(SqlStore(url))
        except Exception as exc:  # collected: the caller's assertion shows them
            errors.append(exc)

    threads = [threading.Thread(target=cold_start) for _ in range(processes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stores, errors
