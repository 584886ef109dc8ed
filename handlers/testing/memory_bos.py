"""The in-memory twin of the BOS port (tests only)."""

from __future__ import annotations

import threading


class MemoryBos:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.objects: dict[tuple[str, str], bytes] = {}
        self.content_types: dict[tuple[str, str], str] = {}

    def get_text(self, bucket: str, key: str) -> str:
        with self._lock:
            if (bucket, key) not in self.objects:
                raise KeyError(f"no object {bucket}/{key}")
            return self.objects[(bucket, key)].decode("utf-8")

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]:
        with self._lock:
            return {k: len(v) for (b, k), v in self.objects.items() if b == bucket and k.startswith(prefix)}

    def put_text(self, bucket: str, key: str, text: str, content_type: str) -> None:
        with self._lock:
            self.objects[(bucket, key)] = text.encode("utf-8")
            self.content_types[(bucket, key)] = content_type
