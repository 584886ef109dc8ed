"""Completion callbacks: POST the documented message (reference mct-api.md §5) when a job ends.

Deliveries go through a persistent outbox table, so a callback survives a restart and is retried with exponential
backoff until the receiver answers 2xx (at-least-once; receivers dedupe on ``messageId``). Delivery threads never
block transcoding: the scheduler only inserts a row.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit

from localcloud.faults import FaultConfig
from localcloud.mct.models import NotifyTarget
from localcloud.mct.notification_sign import sign_headers
from localcloud.mct.store import Store

log = logging.getLogger(__name__)

# [INFERRED] what a real callback says in "server"; localcloud passes its own host:port instead when known.
DEFAULT_SERVER_NAME = "media.bj.baidubce.com"
# [UNVERIFIED] what Baidu's media services document for their callbacks (reference mct-api.md, Corrections):
# an async-http-client user agent and JSON in UTF-8.
CALLBACK_HEADERS = {"User-Agent": "AHC/2.0", "Content-Type": "application/json;charset=UTF-8", "Accept": "*/*"}
# [INFERRED] whether thumbnail jobs notify is not documented; we send the same message (messageBody = the thumbnail
# job as GET /v3/job/thumbnail/{id} returns it) so an upload with thumbnails can finish without polling.
NOTIFY_THUMBNAIL_JOBS = True


def build_message(job: dict, notification_name: str, server: str) -> dict:
    """The callback body: ``messageBody`` is the job exactly as GET returns it, as a JSON *string*."""
    return {
        "messageBody": json.dumps(job, separators=(",", ":")),
        "messageId": str(uuid.uuid4()),
        "notification": notification_name,
        "server": server,
        "subscriptionName": "",
        "version": "",
        "signature": "",
    }


def _where(url: str) -> str:
    """Scheme://host of a URL for logs (paths and queries may carry secret tokens)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Notifier:
    def __init__(
        self,
        store: Store,
        server_name: str = DEFAULT_SERVER_NAME,
        faults: FaultConfig | None = None,
        workers: int = 2,
        timeout: float = 5.0,
        base_delay: float = 0.5,
        max_delay: float = 60.0,
        max_attempts: int = 15,
    ):
        self.store = store
        self.server_name = server_name
        self.faults = faults or FaultConfig()
        self.workers = workers
        self.timeout = timeout
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_attempts = max_attempts
        self._cond = threading.Condition()
        self._inflight: set[int] = set()
        self._added = 0  # outbox inserts so far (a delivery thread that read the outbox before one does not sleep)
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.delivered = 0  # successful POSTs (for tests and `mct` status output)

    # ----- producer side -------------------------------------------------------------------------------------------
    def job_finished(self, target: NotifyTarget, job: dict) -> None:
        body = json.dumps(build_message(job, target.name, self.server_name)).encode("utf-8")
        sign = json.dumps({"token": target.token, "endpoint": target.endpoint}) if target.token else None
        now = time.time()
        for delay in self.faults.callback_delivery_delays():  # [] when a fault drops it; 2 entries duplicate it
            self.store.execute(
                "INSERT INTO outbox (url, body, sign, attempts, next_at) VALUES (?, ?, ?, 0, ?)",
                (target.endpoint, body, sign, now + delay),
            )
        with self._cond:
            self._added += 1
            self._cond.notify_all()

    def pending(self) -> int:
        return self.store.query("SELECT COUNT(*) FROM outbox")[0][0]

    # ----- delivery threads ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping = False
        for i in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"mct-notifier-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _claim(self, rows):
        """The next due row of ``rows`` not being sent by another thread, or (None, seconds to wait)."""
        now = time.time()
        for row in rows:
            if row[0] in self._inflight:
                continue
            if row[5] > now:
                return None, min(row[5] - now, 1.0)
            self._inflight.add(row[0])
            return row, 0.0
        return None, 1.0

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
            # Read the outbox without holding _cond: job_finished runs inside the scheduler's store transaction
            # (store lock held) and then takes _cond; the other order here would deadlock.
            with self._cond:
                seen = self._added
            rows = self.store.query(
                "SELECT id, url, body, sign, attempts, next_at FROM outbox ORDER BY next_at LIMIT 50"
            )
            with self._cond:
                if self._stopping:
                    return
                row, wait = self._claim(rows)
                if row is None:
                    if self._added == seen:  # nothing queued since the read: sleep until something is
                        self._cond.wait(wait)
                    continue
            try:
                if not self.store.query("SELECT 1 FROM outbox WHERE id = ?", (row[0],)):
                    continue  # another thread delivered it after our read
                self._attempt(*row[:5])
            finally:
                with self._cond:
                    self._inflight.discard(row[0])

    def _attempt(self, row_id: int, url: str, body: bytes, sign: str | None, attempts: int) -> None:
        headers = dict(CALLBACK_HEADERS)
        if sign:
            params = json.loads(sign)
            headers.update(sign_headers(params["token"], params["endpoint"], body.decode("utf-8")))
        error = None
        try:
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as e:
            error = f"HTTP {e.code}"
        except (OSError, ValueError) as e:
            error = type(e).__name__
        if error is None:
            self.store.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            self.delivered += 1
            return
        attempts += 1
        if attempts >= self.max_attempts:
            log.warning("giving up on a callback to %s after %d attempts (%s)", _where(url), attempts, error)
            self.store.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            return
        delay = min(self.max_delay, self.base_delay * 2 ** (attempts - 1))
        log.info("callback to %s failed (%s); retry %d in %.1fs", _where(url), error, attempts, delay)
        self.store.execute(
            "UPDATE outbox SET attempts = ?, next_at = ? WHERE id = ?", (attempts, time.time() + delay, row_id)
        )
