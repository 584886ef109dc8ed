"""URL map of the CFC API subset ``autotranscode deploy`` and bce-python-sdk's ``CfcClient`` use
(``/v1/functions…``, ``/v1/relation``) → ``CfcResponses``; and ``CfcGateway``, which serves that API (signed with
bce-auth-v1, invocation included) and the HTTP triggers on one port."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.routing import Route, Router

from localcloud.bce_http import BceMiddleware
from localcloud.cfc.api_exceptions import MethodNotAllowed, ResourceNotFound
from localcloud.cfc.api_models import CfcBackend
from localcloud.cfc.api_responses import CfcResponses

API_PREFIXES = ("/v1/functions", "/v1/relation")


def _methods(handlers: dict):
    async def endpoint(request: Request):
        handler = handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        return await handler(request)

    return endpoint


def url_map(r: CfcResponses) -> dict[str, dict]:
    return {
        "/v1/functions": {"POST": r.create_function, "GET": r.list_functions},
        "/v1/functions/": {"POST": r.create_function, "GET": r.list_functions},
        "/v1/functions/{name}": {"GET": r.get_function, "DELETE": r.delete_function},
        "/v1/functions/{name}/configuration": {"GET": r.get_configuration, "PUT": r.update_configuration},
        "/v1/functions/{name}/code": {"PUT": r.update_code},
        "/v1/functions/{name}/invocations": {"POST": r.invoke},
        "/v1/relation": {
            "GET": r.list_relations,
            "POST": r.create_relation,
            "PUT": r.update_relation,
            "DELETE": r.delete_relation,
        },  # fmt: skip
    }


async def _not_found(scope, receive, send):
    raise ResourceNotFound(f"no CFC API at {scope['method']} {scope['path']}")


def build_router(responses: CfcResponses) -> Router:
    routes = [Route(path, _methods(h), methods=list(h)) for path, h in url_map(responses).items()]
    for route in routes:
        route.methods = None  # every method reaches the endpoint, which answers 405 with a BCE body
    return Router(routes=routes, default=_not_found, redirect_slashes=False)


class CfcGateway:
    """One port, two faces (in CFC they are two hosts): the API under ``/v1/functions`` and ``/v1/relation``,
    every request signed; everything else goes to the HTTP triggers (``trigger_app``), which check their own
    AuthType."""

    def __init__(self, backend: CfcBackend, trigger_app, credentials: Mapping[str, str]):
        self.api = BceMiddleware(build_router(CfcResponses(backend)), credentials)
        self.triggers = trigger_app

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] == "http" and any(path == p or path.startswith(p + "/") for p in API_PREFIXES):
            await self.api(scope, receive, send)
        else:
            await self.triggers(scope, receive, send)
