"""The in-memory twin of the BOS port (tests only; `autotranscode build` leaves handlers/testing out of the zip)."""

from __future__ import annotations

import threading
from datetime import datetime

from handlers.domain.clock import utcnow
from handlers.services.ports import BosError, ListedObject, ObjectPage


class MemoryBos:
    """Objects by (bucket, key); `put` overwrites like BOS. `fail_next` makes the next calls raise."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.objects: dict[tuple[str, str], ListedObject] = {}
        self.failures: list[BosError] = []
        self.list_calls = 0

    def put(self, bucket: str, key: str, etag: str, last_modified: datetime | None = None, size: int = 10) -> None:
        with self._lock:
            self.objects[(bucket, key)] = ListedObject(key, etag, size, last_modified or utcnow())

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            self.objects.pop((bucket, key), None)

    def fail_next(self, count: int = 1, transient: bool = True) -> None:
        with self._lock:
            self.failures += [BosError("injected BOS failure", transient=transient) for _ in range(count)]

    def _maybe_fail(self) -> None:
        with self._lock:
            if self.failures:
                raise self.failures.pop(0)

    def list_objects(self, bucket: str, prefix: str, marker: str | None, max_keys: int) -> ObjectPage:
        self._maybe_fail()
        with self._lock:
            self.list_calls += 1
            keys = sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix) and k > (marker or ""))
            page = [self.objects[(bucket, k)] for k in keys[:max_keys]]
        return ObjectPage(page, page[-1].key if len(keys) > max_keys else None)

    def current_etag(self, bucket: str, key: str) -> str | None:
        self._maybe_fail()
        with self._lock:
            found = self.objects.get((bucket, key))
        return found.etag if found else None
