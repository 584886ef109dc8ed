"""Watch mode: a file dropped straight into a bucket directory becomes a PutObject event.

Polls the bucket directories; a new or changed file is reported once its (size, mtime) stayed the same for
``settle_seconds`` (so a file still being copied is not reported half-written). Files the BOS API wrote itself
are skipped (their events were sent already); files written by other localcloud services straight into storage
(MCT outputs) are reported, as BOS reports objects MCT writes. Files present at start-up are not reported.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from localcloud.bos import events as ev
from localcloud.bos.models import BosBackend
from localcloud.storage import StorageError, validate_key

log = logging.getLogger(__name__)

Signature = tuple[int, int]  # (size, mtime_ns)


class BucketWatcher:
    def __init__(self, backend: BosBackend, interval: float = 0.25, settle_seconds: float = 0.5):
        self.backend = backend
        self.interval = interval
        self.settle_seconds = settle_seconds
        self._known: dict[tuple[str, str], Signature] = {}
        self._pending: dict[tuple[str, str], tuple[Signature, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scanned = threading.Condition()
        self.scans = 0  # completed polls

    def start(self) -> None:
        self.backend.track_writes = True
        self._known = self.scan()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bos-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll_once()
            except Exception:
                log.exception("bucket watcher poll failed")

    def wait_settled(self, timeout: float = 10.0) -> bool:
        """Wait until a whole poll that started after this call left nothing new, changed or still settling:
        from then on nothing is reported unless a file changes again. False on timeout."""
        deadline = time.monotonic() + timeout
        with self._scanned:
            target = self.scans + 2  # the next poll may have started before this call
            while self.scans < target or self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if self.scans >= target:
                    target = self.scans + 1  # still settling: look again after the next poll
                self._scanned.wait(remaining)
            return True

    def scan(self) -> dict[tuple[str, str], Signature]:
        root = self.backend.storage.buckets_root
        found: dict[tuple[str, str], Signature] = {}
        for bucket_dir in root.iterdir():
            if not bucket_dir.is_dir():
                continue
            for dirpath, _dirs, files in os.walk(bucket_dir):
                rel = os.path.relpath(dirpath, bucket_dir)
                for name in files:
                    key = name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")
                    try:
                        validate_key(key)
                        st = os.stat(os.path.join(dirpath, name))
                    except (StorageError, OSError):
                        continue
                    found[(bucket_dir.name, key)] = (st.st_size, st.st_mtime_ns)
        return found

    def poll_once(self, now: float | None = None) -> int:
        """One scan; returns how many events it emitted."""
        now = time.monotonic() if now is None else now
        current = self.scan()
        for gone in set(self._known) - set(current):
            del self._known[gone]
        for gone in set(self._pending) - set(current):
            del self._pending[gone]
        emitted = 0
        for ident, sig in current.items():
            if self._known.get(ident) == sig:
                continue
            if self.backend.written_here(ident[0], ident[1], sig):
                self._known[ident] = sig
                self._pending.pop(ident, None)
                continue
            pending = self._pending.get(ident)
            if pending is None or pending[0] != sig:
                self._pending[ident] = (sig, now)
                continue
            if now - pending[1] < self.settle_seconds:
                continue
            del self._pending[ident]
            self._known[ident] = sig
            try:
                info = self.backend.storage.head(*ident)
            except StorageError:
                continue
            log.info("new file in bucket dir: %s/%s (%d bytes)", ident[0], ident[1], info.size)
            self.backend.emit(info, ev.PUT_OBJECT)
            emitted += 1
        with self._scanned:
            self.scans += 1
            self._scanned.notify_all()
        return emitted
