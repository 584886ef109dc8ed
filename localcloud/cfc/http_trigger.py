"""CFC HTTP triggers as an ASGI app (reference events-and-templates.md §2).

A request whose path matches a trigger's ResourcePath (``{param}`` = one segment, ``{param+}`` = the rest) and
Method becomes the API-gateway-style event (resource, path, httpMethod, headers, queryStringParameters,
pathParameters, requestContext, body, isBase64Encoded); the function's proxy response ({statusCode, headers, body,
isBase64Encoded}) becomes the HTTP response. Also ``POST /v1/functions/<name>/invocations`` (the CFC invoke API the
SDK's ``CfcClient.invoke`` calls) for running any function by hand.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl

import anyio
from starlette.requests import Request
from starlette.responses import Response

from localcloud import bce_auth
from localcloud.bce_http import decode_headers
from localcloud.cfc.pool import FunctionError, FunctionTimeout
from localcloud.cfc.template import HttpTrigger

log = logging.getLogger(__name__)

INVOKE_PATH = re.compile(r"^/v1/functions/(?P<name>[^/]+)/invocations$")
STAGE = "$LATEST"  # [INFERRED] requestContext.stage: CFC documents no value for plain HTTP triggers


@dataclass
class Route:
    function: str
    trigger: HttpTrigger
    pattern: re.Pattern
    params: dict[str, str]  # regex group → path parameter name
    specificity: tuple


def compile_route(function: str, trigger: HttpTrigger) -> Route:
    regex, params, literal, greedy = "", {}, 0, False
    for piece in re.split(r"(\{[^}]+\})", trigger.resource_path.rstrip("/") or "/"):
        if piece.startswith("{") and piece.endswith("}"):
            name = piece[1:-1]
            group = f"g{len(params)}"
            if name.endswith("+"):
                params[group] = name[:-1]
                regex += f"(?P<{group}>.+)"
                greedy = True
            else:
                params[group] = name
                regex += f"(?P<{group}>[^/]+)"
        else:
            regex += re.escape(piece)
            literal += len(piece)
    return Route(function, trigger, re.compile(f"^{regex}/?$"), params, (greedy, -literal))


def canonical_header(name: str) -> str:
    """``content-type`` → ``Content-Type`` (ASGI lower-cases names; the CFC sample shows them capitalised)."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


class HttpTriggerApp:
    def __init__(self, runtime):
        self.runtime = runtime
        self.refresh()

    def refresh(self) -> None:
        """Recompute the routes from the runtime's functions (after a function is deployed or removed)."""
        routes = [
            compile_route(name, trigger)
            for name, spec in self.runtime.functions.items()
            for trigger in spec.http_triggers
        ]
        self.routes = sorted(routes, key=lambda r: r.specificity)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        """The route for a request, its path parameters, and (when only the method is wrong) allowed methods."""
        allowed: list[str] = []
        for route in self.routes:
            found = route.pattern.match(path)
            if not found:
                continue
            if method not in route.trigger.methods:
                allowed.extend(route.trigger.methods)
                continue
            return route, {route.params[g]: v for g, v in found.groupdict().items()}, []
        return None, {}, sorted(set(allowed))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        path, method = request.scope["path"], request.method
        body = await request.body()
        invoke = INVOKE_PATH.match(path)
        if invoke and method == "POST":
            return await self._invoke_api(request, invoke.group("name"), body)
        route, path_params, allowed = self.match(method, path)
        if route is None:
            if allowed:
                return _error(405, f"{method} is not allowed on {path}", {"Allow": ", ".join(allowed)})
            return _error(404, f"no HTTP trigger matches {method} {path}")
        if route.trigger.auth_type == "iam" and self.runtime.credentials is not None:
            denied = self._check_iam(request)
            if denied is not None:
                return denied
        request_id = str(uuid.uuid4())
        event = build_event(request, route, path_params, body, request_id)
        try:
            result = await anyio.to_thread.run_sync(self.runtime.invoke, route.function, event, request_id)
        except FunctionTimeout as exc:
            return _error(504, str(exc), request_id=request_id)
        except FunctionError as exc:
            return _error(502, str(exc), request_id=request_id)
        return proxy_response(route.function, result, request_id)

    def _check_iam(self, request: Request) -> Response | None:
        headers = decode_headers(request.scope["headers"])
        params = parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        try:
            bce_auth.verify(
                headers.get("authorization"),
                request.method,
                request.scope["path"],
                params,
                headers,
                self.runtime.credentials,
            )
        except bce_auth.AuthError as exc:
            return _error(exc.status, f"{exc.code}: {exc.message}")
        return None

    async def _invoke_api(self, request: Request, name: str, body: bytes) -> Response:
        if self.runtime.credentials is not None:
            denied = self._check_iam(request)
            if denied is not None:
                return denied
        if name not in self.runtime.functions:
            return _error(404, f"function {name} does not exist", code="ResourceNotFoundException")
        try:
            event = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return _error(400, "the invocation body must be JSON", code="InvalidRequestContentException")
        kind = request.query_params.get("invocationType", "RequestResponse")
        if kind == "Event":
            self.runtime.invoke_async(name, event)
            return Response(b"", status_code=202, headers={"x-bce-request-id": str(uuid.uuid4())})
        if kind == "DryRun":
            return Response(b"", status_code=204)
        request_id = str(uuid.uuid4())
        try:
            result = await anyio.to_thread.run_sync(self.runtime.invoke, name, event, request_id)
        except FunctionError as exc:
            payload = {k: exc.error.get(k) for k in ("errorType", "errorMessage", "stackTrace")}
            return Response(
                json.dumps(payload).encode(),
                status_code=200,
                media_type="application/json",
                headers={"x-bce-function-error": "Unhandled", "x-bce-request-id": request_id},
            )
        return Response(
            json.dumps(result).encode(), media_type="application/json", headers={"x-bce-request-id": request_id}
        )


def build_event(request: Request, route: Route, path_params: dict, body: bytes, request_id: str) -> dict:
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:
        name = canonical_header(raw_name.decode("latin-1"))
        value = raw_value.decode("utf-8", "replace")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    headers["X-Bce-Request-Id"] = request_id
    query = dict(parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    try:
        text, is_b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(body).decode("ascii"), True
    client = request.scope.get("client") or ("", 0)
    path = request.scope["path"]
    return {
        "resource": route.trigger.resource_path,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "queryStringParameters": query,
        "pathParameters": path_params,
        "requestContext": {
            "requestId": request_id,
            "httpMethod": request.method,
            "path": path,
            "resourcePath": route.trigger.resource_path,
            "sourceIp": client[0],
            "stage": STAGE,
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


def proxy_response(function: str, result, request_id: str) -> Response:
    """The function's {statusCode, headers, body, isBase64Encoded} as an HTTP response; anything else is a 502."""
    if not isinstance(result, dict) or "statusCode" not in result:
        log.warning("%s returned %r, not a proxy response with statusCode", function, type(result).__name__)
        message = f"function {function} returned no proxy response ({{statusCode, headers, body}})"
        return _error(502, message, request_id=request_id)
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return _error(502, f"function {function} returned statusCode {result['statusCode']!r}", request_id=request_id)
    body = result.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        if result.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                return _error(502, f"function {function} returned a body that is not base64", request_id=request_id)
        else:
            raw = body.encode("utf-8")
    else:
        raw = json.dumps(body).encode("utf-8")
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    headers.setdefault("x-bce-request-id", request_id)
    if "content-type" not in {k.lower() for k in headers}:
        headers["Content-Type"] = "application/json"
    return Response(raw, status_code=status, headers=headers)


def _error(
    status: int, message: str, extra_headers: dict | None = None, request_id: str = "", code: str = ""
) -> Response:
    body = {"message": message}
    if code:
        body["code"] = code
    headers = dict(extra_headers or {})
    if request_id:
        headers["x-bce-request-id"] = request_id
    return Response(json.dumps(body).encode(), status_code=status, media_type="application/json", headers=headers)
