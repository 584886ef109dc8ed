"""CFC entrypoint for MCT notifications: `handlers.on_notification.handler`.

Accepts CFC HTTP-trigger events and API-gateway v1 proxy and v2 events (parsed in handlers.wire.http); routing
and the answer are handlers.callback_routing's, shared with the self-hosted webhook.
"""

from __future__ import annotations

from typing import Any

from handlers import bootstrap
from handlers.callback_routing import route
from handlers.logs import logger
from handlers.wire import callback_http
from handlers.wire.cfc_context import adapt_context
from handlers.wire.http import NotAnHttpEvent, json_response, request_from_event

bootstrap.init_at_cold_start()


def resolve(event: dict[str, Any]) -> dict[str, Any]:
    try:
        request = request_from_event(event)
    except NotAnHttpEvent as exc:
        return json_response(*callback_http.problem(400, "bad_request", str(exc), "httpMethod"))
    try:
        status, body = route(request)
    except Exception:
        logger.exception("callback failed")
        status, body = callback_http.internal_error()
    return json_response(status, body)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return _handle(event, adapt_context(context))


@logger.inject_lambda_context(clear_state=True)
def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return resolve(event)
