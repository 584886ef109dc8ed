"""Local CFC API: HTTP requests -> ``CfcBackend`` calls -> JSON. Translation only; state and rules live in
``api_models``."""

from __future__ import annotations

import json

import anyio
from starlette.requests import Request
from starlette.responses import Response

from localcloud.bce_http import request_id_of
from localcloud.cfc.api_exceptions import InvalidParameter
from localcloud.cfc.api_models import CfcBackend
from localcloud.cfc.pool import FunctionError


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload).encode("utf-8"), status_code=status, media_type="application/json",
                    headers=headers)  # fmt: skip


async def json_body(request: Request) -> dict:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(f"the request body is not JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(body, dict):
        raise InvalidParameter("the request body must be a JSON object")
    return body


class CfcResponses:
    def __init__(self, backend: CfcBackend):
        self.backend = backend

    # functions
    async def create_function(self, request: Request) -> Response:
        body = await json_body(request)
        return json_response(await anyio.to_thread.run_sync(self.backend.create_function, body), 201)

    async def list_functions(self, request: Request) -> Response:
        return json_response({"Functions": self.backend.list_functions(), "NextMarker": ""})

    async def get_function(self, request: Request) -> Response:
        fn = self.backend.function(request.path_params["name"])
        code = {"Location": f"file://{fn.code_dir}", "RepositoryType": "local"}
        return json_response({"Code": code, "Configuration": fn.configuration(self.backend.region)})

    async def delete_function(self, request: Request) -> Response:
        await anyio.to_thread.run_sync(self.backend.delete_function, request.path_params["name"])
        return Response(status_code=204)

    async def get_configuration(self, request: Request) -> Response:
        fn = self.backend.function(request.path_params["name"])
        return json_response(fn.configuration(self.backend.region))

    async def update_configuration(self, request: Request) -> Response:
        body = await json_body(request)
        name = request.path_params["name"]
        return json_response(await anyio.to_thread.run_sync(self.backend.update_configuration, name, body))

    async def update_code(self, request: Request) -> Response:
        body = await json_body(request)
        name = request.path_params["name"]
        return json_response(await anyio.to_thread.run_sync(self.backend.update_code, name, body))

    async def invoke(self, request: Request) -> Response:
        raw = await request.body()
        try:
            event = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            raise InvalidParameter("the invocation body must be JSON") from None
        kind = request.query_params.get("invocationType", "RequestResponse")
        rid = request_id_of(request.scope)
        name = request.path_params["name"]
        try:
            result = await anyio.to_thread.run_sync(self.backend.invoke, name, kind, event)
        except FunctionError as exc:  # CFC answers 200 with the error as payload and says so in a header
            payload = {k: exc.error.get(k) for k in ("errorType", "errorMessage", "stackTrace")}
            return json_response(payload, headers={"x-bce-function-error": "Unhandled"})
        if kind == "Event":
            return Response(status_code=202)
        if kind == "DryRun":
            return Response(status_code=204)
        return json_response(result, headers={"x-bce-request-id": rid})

    # relations (triggers)
    async def list_relations(self, request: Request) -> Response:
        brn = request.query_params.get("FunctionBrn") or ""
        return json_response({"Relation": self.backend.list_relations(brn)})

    async def create_relation(self, request: Request) -> Response:
        body = await json_body(request)
        return json_response({"Relation": await anyio.to_thread.run_sync(self.backend.create_relation, body)}, 201)

    async def update_relation(self, request: Request) -> Response:
        body = await json_body(request)
        return json_response({"Relation": await anyio.to_thread.run_sync(self.backend.update_relation, body)})

    async def delete_relation(self, request: Request) -> Response:
        params = request.query_params
        await anyio.to_thread.run_sync(self.backend.delete_relation, params.get("RelationId") or "",
                                       params.get("Target") or "")  # fmt: skip
        return Response(status_code=204)
