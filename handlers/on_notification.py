"""CFC entrypoint for MCT notifications: `handlers.on_notification.handler`.

Accepts CFC HTTP-trigger events and API-gateway v1 proxy events (APIGatewayRestResolver) and v2 events
(APIGatewayHttpResolver). Any path is accepted: the trigger's ResourcePath already selects this function.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver, Response

from handlers import runtime
from handlers.callbacks import handle_notification
from handlers.cfc_context import adapt_context
from handlers.logs import logger

runtime.init_at_cold_start()

JSON = "application/json"


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body))


def _register(app: APIGatewayRestResolver | APIGatewayHttpResolver) -> None:
    @app.post(".+")
    def _callback() -> Response:
        event = app.current_event
        deps = runtime.get_deps()
        expected = deps.config.callback.path.rstrip("/")
        path = (event.path or "/").rstrip("/")
        if expected and not path.endswith(expected):  # endswith: API gateways may prefix a stage
            return _json(404, {"error": "not_found", "field": "path",
                               "message": f"POST MCT notifications to {expected}, not {event.path}"})  # fmt: skip
        body = _text_body(event)
        if body is None:
            return _json(400, {"error": "bad_request", "field": "body",
                               "message": "body must be UTF-8 JSON text (MCT notifications are JSON)"})  # fmt: skip
        headers = dict(event.headers or {})
        query = dict(event.query_string_parameters or {})
        outcome = handle_notification(deps, body, headers, query)
        return _json(outcome.status_code, outcome.body)

    @app.get(".+")
    def _health() -> Response:
        return _json(200, {"ok": True, "service": "autotranscode", "hint": "MCT notifications are POSTed here"})

    @app.not_found
    def _not_found(exc: Exception) -> Response:
        # Only POST and GET are routed; any other method on any path gets a 405 that says what to use.
        method = app.current_event.http_method
        message = f"{method} is not supported: POST MCT notifications (GET answers a health check)"
        return _json(405, {"error": "method_not_allowed", "field": "method", "message": message})

    @app.exception_handler(Exception)
    def _error(exc: Exception) -> Response:
        logger.exception("callback failed")
        return _json(500, {"error": "internal", "message": "the callback could not be recorded; retry later"})


def _text_body(event) -> str | None:
    """The request body as text; None when it is not valid base64/UTF-8 (hostile or broken input, not a 500)."""
    body = event.body or ""
    if not event.is_base64_encoded or not body:
        return body
    try:
        return base64.b64decode(body.encode("ascii"), validate=True).decode("utf-8")
    except (ValueError, UnicodeError):
        return None


rest_app = APIGatewayRestResolver()
http_app = APIGatewayHttpResolver()
_register(rest_app)
_register(http_app)


def _normalize(event: dict[str, Any]) -> dict[str, Any]:
    """CFC HTTP-trigger events may omit requestContext fields Powertools reads."""
    event = dict(event)
    ctx = dict(event.get("requestContext") or {})
    ctx.setdefault("stage", "$default")
    if event.get("version") == "2.0":
        http = dict(ctx.get("http") or {})
        http.setdefault("method", event.get("httpMethod", "POST"))
        http.setdefault("path", event.get("rawPath", "/"))
        ctx["http"] = http
    event["requestContext"] = ctx
    event.setdefault("headers", {})
    if event.get("headers") is None:
        event["headers"] = {}
    return event


def _cfc_response(resp: dict[str, Any]) -> dict[str, Any]:
    """CFC wants {statusCode, headers, body, isBase64Encoded}; the REST resolver answers with multiValueHeaders."""
    headers = dict(resp.get("headers") or {})
    for k, values in (resp.get("multiValueHeaders") or {}).items():
        if values:
            headers[k] = values[-1]
    return {
        "statusCode": resp["statusCode"],
        "headers": headers,
        "body": resp.get("body") or "",
        "isBase64Encoded": bool(resp.get("isBase64Encoded")),
    }


def resolve(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    event = _normalize(event)
    if event.get("version") == "2.0" and "rawPath" in event:
        return _cfc_response(http_app.resolve(event, context))
    if "httpMethod" not in event:
        return _cfc_response(
            {
                "statusCode": 400,
                "headers": {"Content-Type": JSON},
                "body": json.dumps(
                    {
                        "error": "bad_request",
                        "field": "httpMethod",
                        "message": "not an HTTP trigger / API gateway proxy event",
                    }
                ),
            }  # fmt: skip
        )
    return _cfc_response(rest_app.resolve(event, context))


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return _handle(event, adapt_context(context))


@logger.inject_lambda_context(clear_state=True)
def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return resolve(event, context)
