"""HTTP conventions shared by every localcloud BCE service (MCT, BOS).

A pure-ASGI middleware that gives each request an ``x-bce-request-id``, verifies bce-auth-v1 before the app sees
the request, and turns service errors into the BCE error body ``{"requestId","code","message"}`` (all three keys,
always: the Python SDK raises ``KeyError`` otherwise).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from localcloud import bce_auth
from localcloud.storage import StorageError

log = logging.getLogger(__name__)


class BceServiceError(Exception):
    """An error a BCE service answers with; raise it from any route."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def new_request_id() -> str:
    return str(uuid.uuid4())


def error_body(request_id: str, code: str, message: str) -> bytes:
    return json.dumps({"requestId": request_id, "code": code, "message": message}).encode("utf-8")


def request_id_of(scope) -> str:
    return scope.get("state", {}).get("request_id") or new_request_id()


def decode_headers(raw_headers) -> dict[str, str]:
    """ASGI header list → {lower-case name: value}; values decoded as UTF-8 (what the SDKs send) or Latin-1."""
    headers: dict[str, str] = {}
    for name, value in raw_headers:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = value.decode("latin-1")
        headers[name.decode("latin-1").lower()] = text
    return headers


class BceMiddleware:
    """Request id + bce-auth-v1 + BCE error bodies around an ASGI app.

    ``credentials`` maps access key id → secret key; ``None`` disables authentication (never the default).
    ``is_public(method, path)`` may exempt some routes (e.g. a health check).
    """

    def __init__(
        self,
        app,
        credentials: Mapping[str, str] | None,
        is_public: Callable[[str, str], bool] | None = None,
        clock: Callable[[], float] | None = None,
    ):
        self.app = app
        self.credentials = credentials
        self.is_public = is_public or (lambda method, path: False)
        self.clock = clock

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        rid_header = (b"x-bce-request-id", request_id.encode())
        started = False

        async def send_with_id(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        try:
            if self.credentials is not None and not self.is_public(scope["method"], scope["path"]):
                self._authenticate(scope)
            await self.app(scope, receive, send_with_id)
        except (BceServiceError, bce_auth.AuthError, StorageError) as exc:
            if started:
                raise
            status = getattr(exc, "status", 400)
            code = getattr(exc, "code", "InvalidArgument")
            message = getattr(exc, "message", None) or str(exc)
            await _send_error(send_with_id, status, request_id, code, message)
        except Exception:
            log.exception("internal error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            await _send_error(
                send_with_id,
                500,
                request_id,
                "InternalError",
                "We encountered an internal error. Please try again.",
            )

    def _authenticate(self, scope) -> None:
        headers = decode_headers(scope["headers"])
        params = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        bce_auth.verify(
            headers.get("authorization"),
            scope["method"],
            scope["path"],
            params,
            headers,
            self.credentials,
            now=self.clock() if self.clock else None,
        )


async def _send_error(send, status: int, request_id: str, code: str, message: str) -> None:
    body = error_body(request_id, code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json;charset=UTF-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
