"""Self-host the MCT webhook without CFC: `uvicorn handlers.webhook_app:app`.

A small ASGI app (no extra dependency). POSTed notifications are checked (size limit while reading, auth, JSON
shape) on the event loop, then recorded through the callback inbox (handlers.services.inbox): the answer is sent
once the hint is durably in the store, and `get_job` + the status update happen in the background. Anything else
(health check, wrong method or path) goes through the same routing as the CFC function.
"""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from typing import Any
from urllib.parse import parse_qsl

from handlers import bootstrap
from handlers.callback_routing import is_callback_path, route
from handlers.logs import logger
from handlers.services.callbacks import ACCEPTED, DUPLICATE, Verdict, check_notification
from handlers.services.inbox import CallbackInbox
from handlers.wire import callback_http
from handlers.wire.http import HttpRequest

DEFAULT_LIMIT = 256 * 1024
JSON_HEADERS = [(b"content-type", b"application/json")]

_inbox: CallbackInbox | None = None
_inbox_lock = threading.Lock()
_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBatcher] = weakref.WeakKeyDictionary()


def inbox() -> CallbackInbox:
    """The process's inbox, bound to the current Deps (tests and localcloud may install new ones)."""
    global _inbox
    deps = bootstrap.get_deps()
    with _inbox_lock:
        if _inbox is None or _inbox.deps is not deps:
            if _inbox is not None:
                _inbox.stop()
            _inbox = CallbackInbox(deps)
        return _inbox


def stop_inbox() -> None:
    global _inbox
    with _inbox_lock:
        if _inbox is not None:
            _inbox.stop()
            _inbox = None


class _LoopBatcher:
    """Collects the hints of the requests parsed in one event-loop turn and hands them to the inbox as one batch;
    the committer answers them with one thread-safe wake-up of the loop instead of one per request."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = weakref.proxy(loop)  # not a strong reference: _batchers must not keep finished loops alive
        self.pending: list[tuple[str, str | None, asyncio.Future[bool]]] = []

    def add(self, job_id: str, message_id: str | None) -> asyncio.Future[bool]:
        future = self.loop.create_future()
        self.pending.append((job_id, message_id, future))
        if len(self.pending) == 1:
            self.loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        try:
            target = inbox()
        except Exception as exc:
            self._resolve(batch, exc)
            return
        target.submit_many([(job, msg) for job, msg, _ in batch],
                           lambda results: self.loop.call_soon_threadsafe(self._resolve, batch, results))  # fmt: skip

    @staticmethod
    def _resolve(batch, results: list[bool] | Exception) -> None:
        for n, (_, _, future) in enumerate(batch):
            if future.done():  # the client went away
                continue
            if isinstance(results, Exception):
                future.set_exception(results)
            else:
                future.set_result(results[n])


def _batcher() -> _LoopBatcher:
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = _LoopBatcher(loop)
    return batcher


def _limit() -> int:
    try:
        return bootstrap.get_deps().config.callback.max_body_bytes
    except Exception:
        return DEFAULT_LIMIT


async def _send_json(send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    headers = [*JSON_HEADERS, (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


def _request(scope: dict[str, Any], body: bytes) -> HttpRequest:
    headers: dict[str, str] = {}
    for k, v in scope.get("headers") or []:
        name = k.decode("latin-1")
        headers[name] = f"{headers[name]},{v.decode('latin-1')}" if name in headers else v.decode("latin-1")
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    try:
        text: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return HttpRequest(scope.get("method", "GET"), scope.get("path") or "/", headers, query, text)


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Configuration errors stop the server now, not at the first callback; callbacks accepted but not
            # verified before a stop or crash are verified from now on.
            try:
                await asyncio.get_running_loop().run_in_executor(None, inbox)
            except Exception as exc:
                logger.error("webhook cannot start", extra={"error": str(exc)})
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await asyncio.get_running_loop().run_in_executor(None, stop_inbox)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(scope, receive, send) -> bytes | None:
    """The body, or None when the request was answered (413) or the client went away."""
    limit = _limit()
    declared = dict(scope.get("headers") or []).get(b"content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        await _send_json(send, *callback_http.too_large(limit))
        return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await _send_json(send, *callback_http.too_large(limit))
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _accept(request: HttpRequest) -> tuple[int, dict[str, Any]] | None:
    """A well-formed notification -> recorded through the inbox; None -> let `route` answer (errors, health)."""
    if request.method != "POST" or request.body is None:
        return None
    deps = bootstrap.get_deps()
    if not is_callback_path(deps, request.path):
        return None
    checked = check_notification(deps, request.body, request.headers, request.query)
    if isinstance(checked, Verdict):
        return callback_http.answer(checked)
    job_id, message_id = checked
    try:
        accepted = await _batcher().add(job_id, message_id)
    except Exception:
        logger.exception("callback could not be recorded")
        return callback_http.unavailable()
    return callback_http.answer(Verdict(ACCEPTED if accepted else DUPLICATE, job_id))


async def app(scope: dict[str, Any], receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    body = await _read_body(scope, receive, send)
    if body is None:
        return
    request = _request(scope, body)
    try:
        answer = await _accept(request)
        if answer is None:
            # Health checks and refusals: cheap, but `route` may build the Deps (config, store): off the loop.
            answer = await asyncio.get_running_loop().run_in_executor(None, route, request)
    except Exception:
        logger.exception("callback failed")
        answer = callback_http.internal_error()
    await _send_json(send, *answer)
