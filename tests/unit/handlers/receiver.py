"""A real local HTTP receiver (ASGI, served by localcloud.serve.serve_in_thread) that records what it gets."""

from __future__ import annotations

import threading
import time


class Receiver:
    """Answers with `statuses` in turn (then 200), or 503 while `down` (an app that is down)."""

    def __init__(self, statuses: list[int] | None = None):
        self.requests: list[dict] = []
        self.statuses = list(statuses or [])
        self.down = False
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        with self._lock:
            status = 503 if self.down else (self.statuses.pop(0) if self.statuses else 200)
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.requests.append({"path": scope["path"], "headers": headers, "body": body, "status": status,
                                  "at": time.monotonic()})  # fmt: skip
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
