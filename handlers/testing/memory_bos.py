"""The in-memory twin of the BOS port (tests only; `autotranscode build` leaves handlers/testing out of the zip)."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime

from handlers.domain.clock import utcnow
from handlers.services.ports import BosError, ListedObject, ObjectPage


class MemoryBos:
    """Objects by (bucket, key); writing a key replaces it, like BOS. `put` stores an object with a chosen etag and
    time (the sweep's and the version check's tests); `fail_next` makes the next listing / etag reads raise."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.objects: dict[tuple[str, str], bytes] = {}
        self.content_types: dict[tuple[str, str], str] = {}
        self.meta: dict[tuple[str, str], tuple[str, datetime]] = {}  # etag, last modified
        self.failures: list[BosError] = []

    # --- HLS master playlists ---
    def get_text(self, bucket: str, key: str) -> str:
        with self._lock:
            if (bucket, key) not in self.objects:
                raise KeyError(f"no object {bucket}/{key}")
            return self.objects[(bucket, key)].decode("utf-8")

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]:
        with self._lock:
            return {k: len(v) for (b, k), v in self.objects.items() if b == bucket and k.startswith(prefix)}

    def put_text(self, bucket: str, key: str, text: str, content_type: str) -> None:
        data = text.encode("utf-8")
        with self._lock:
            self.objects[(bucket, key)] = data
            self.content_types[(bucket, key)] = content_type
            self.meta[(bucket, key)] = (hashlib.md5(data).hexdigest(), utcnow())

    # --- the sweep and the version check ---
    def put(self, bucket: str, key: str, etag: str, last_modified: datetime | None = None, size: int = 10) -> None:
        with self._lock:
            self.objects[(bucket, key)] = b"x" * size
            self.meta[(bucket, key)] = (etag, last_modified or utcnow())

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            self.objects.pop((bucket, key), None)
            self.meta.pop((bucket, key), None)

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
            keys = sorted(k for b, k in self.meta if b == bucket and k.startswith(prefix) and k > (marker or ""))
            page = [
                ListedObject(k, self.meta[(bucket, k)][0], len(self.objects[(bucket, k)]), self.meta[(bucket, k)][1])
                for k in keys[:max_keys]
            ]
        return ObjectPage(page, page[-1].key if len(keys) > max_keys else None)

    def current_etag(self, bucket: str, key: str) -> str | None:
        self._maybe_fail()
        with self._lock:
            found = self.meta.get((bucket, key))
        return found[0] if found else None
