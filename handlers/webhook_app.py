"""Self-host the MCT webhook without CFC: `uvicorn handlers.webhook_app:app`.

A small ASGI adapter (no extra dependency): read the request (refusing bodies over callback.max_body_bytes while
reading), turn it into an API-gateway v1 proxy event and hand it to the same resolver as the CFC function.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

from handlers import runtime
from handlers.cfc_context import adapt_context
from handlers.on_notification import resolve

DEFAULT_LIMIT = 256 * 1024


def _limit() -> int:
    try:
        return runtime.get_deps().config.callback.max_body_bytes
    except Exception:
        return DEFAULT_LIMIT


async def _send_json(send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


def build_event(scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    headers: dict[str, str] = {}
    for k, v in scope.get("headers") or []:
        name = k.decode("latin-1")
        headers[name] = f"{headers[name]},{v.decode('latin-1')}" if name in headers else v.decode("latin-1")
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    try:
        text, is_b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(body).decode(), True
    path = scope.get("path") or "/"
    return {
        "resource": path,
        "path": path,
        "httpMethod": scope.get("method", "GET"),
        "headers": headers,
        "queryStringParameters": query or None,
        "pathParameters": {},
        "requestContext": {"stage": "$default", "requestId": str(uuid.uuid4()), "path": path},
        "body": text,
        "isBase64Encoded": is_b64,
    }


async def app(scope: dict[str, Any], receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    limit = _limit()
    declared = dict(scope.get("headers") or []).get(b"content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        await _send_json(send, 413, {"error": "too_large", "field": "body", "message": f"body over {limit} bytes"})
        return
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await _send_json(send, 413, {"error": "too_large", "field": "body", "message": f"body over {limit} bytes"})
            return
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    event = build_event(scope, b"".join(chunks))
    # The use-case is synchronous (SQL, HTTP to MCT): keep it off the event loop.
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, lambda: resolve(event, adapt_context(None)))
    raw = result.get("body") or ""
    data = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode("utf-8")
    headers = [
        (k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in (result.get("headers") or {}).items()
    ]
    headers = [h for h in headers if h[0] != b"content-length"] + [(b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": int(result["statusCode"]), "headers": headers})
    await send({"type": "http.response.body", "body": data})
