"""HTTP routing for MCT callbacks, shared by both entrypoints (the CFC function on_notification and the
self-hosted webhook_app): health check, method, path, size and encoding, then the callback use-case.

Any path ending in callback.path is accepted: the trigger's ResourcePath already selects this function and API
gateways may prefix a stage.
"""

from __future__ import annotations

from handlers import bootstrap
from handlers.services.callbacks import handle_notification
from handlers.services.deps import Deps
from handlers.wire import callback_http as http
from handlers.wire.http import HttpRequest


def is_callback_path(deps: Deps, path: str) -> bool:
    expected = deps.config.callback.path.rstrip("/")
    return not expected or path.rstrip("/").endswith(expected)  # endswith: API gateways may prefix a stage


def route(request: HttpRequest, deps: Deps | None = None) -> http.Answer:
    """-> (HTTP status, JSON body) for one request."""
    if request.method in ("GET", "HEAD"):
        return 200, http.HEALTH
    if request.method != "POST":
        return http.method_not_allowed(request.method)
    deps = deps or bootstrap.get_deps()
    if not is_callback_path(deps, request.path):
        return http.wrong_path(deps.config.callback.path.rstrip("/"), request.path)
    if request.body is None:
        return http.not_text()
    limit = deps.config.callback.max_body_bytes
    if len(request.body.encode("utf-8")) > limit:
        return http.too_large(limit)
    return http.answer(handle_notification(deps, request.body, request.headers, request.query))
