"""CFC entrypoint for MCT notifications: `handlers.on_notification.handler`.

Accepts CFC HTTP-trigger events and API-gateway v1 proxy and v2 events (parsed in handlers.http_events). Any path
ending in callback.path is accepted: the trigger's ResourcePath already selects this function and API gateways may
prefix a stage.
"""

from __future__ import annotations

from typing import Any

from handlers import runtime
from handlers.callbacks import handle_notification
from handlers.cfc_context import adapt_context
from handlers.http_events import HttpRequest, NotAnHttpEvent, json_response, request_from_event
from handlers.logs import logger

runtime.init_at_cold_start()

HEALTH = {"ok": True, "service": "autotranscode", "hint": "MCT notifications are POSTed here"}


def is_callback_path(deps: runtime.Deps, path: str) -> bool:
    expected = deps.config.callback.path.rstrip("/")
    return not expected or path.rstrip("/").endswith(expected)  # endswith: API gateways may prefix a stage


def route(request: HttpRequest) -> tuple[int, dict[str, Any]]:
    """-> (HTTP status, JSON body) for one request; shared by the CFC function and the self-hosted webhook."""
    if request.method in ("GET", "HEAD"):
        return 200, HEALTH
    if request.method != "POST":
        message = f"{request.method} is not supported: POST MCT notifications (GET answers a health check)"
        return 405, {"error": "method_not_allowed", "field": "method", "message": message}
    deps = runtime.get_deps()
    if not is_callback_path(deps, request.path):
        expected = deps.config.callback.path.rstrip("/")
        return 404, {"error": "not_found", "field": "path",
                     "message": f"POST MCT notifications to {expected}, not {request.path}"}  # fmt: skip
    if request.body is None:
        return 400, {"error": "bad_request", "field": "body",
                     "message": "body must be UTF-8 JSON text (MCT notifications are JSON)"}  # fmt: skip
    outcome = handle_notification(deps, request.body, request.headers, request.query)
    return outcome.status_code, outcome.body


def resolve(event: dict[str, Any]) -> dict[str, Any]:
    try:
        request = request_from_event(event)
    except NotAnHttpEvent as exc:
        return json_response(400, {"error": "bad_request", "field": "httpMethod", "message": str(exc)})
    try:
        status, body = route(request)
    except Exception:
        logger.exception("callback failed")
        status, body = 500, {"error": "internal", "message": "the callback could not be recorded; retry later"}
    return json_response(status, body)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return _handle(event, adapt_context(context))


@logger.inject_lambda_context(clear_state=True)
def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return resolve(event)
