"""URL map of the MCT v3 API (reference mct-api.md §2) → ``MctResponses`` methods."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route, Router

from localcloud.mct.exceptions import MethodNotAllowed, RouteNotFound
from localcloud.mct.responses import MctResponses


def _methods(handlers: dict):
    """One endpoint per path that dispatches on the method, so a wrong method gets a BCE error body too."""

    async def endpoint(request: Request):
        handler = handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        return await handler(request)

    return endpoint


def url_map(r: MctResponses) -> dict[str, dict]:
    jobs = {"POST": r.create_job, "GET": r.list_jobs}
    job = {"GET": r.get_job}
    return {
        "/v3/pipeline": {"POST": r.create_pipeline, "GET": r.list_pipelines},
        "/v3/pipeline/{name}": {"GET": r.get_pipeline, "PUT": r.update_pipeline, "DELETE": r.delete_pipeline},
        "/v3/preset": {"POST": r.create_preset, "GET": r.list_presets},
        "/v3/preset/{name}": {"GET": r.get_preset, "PUT": r.update_preset, "DELETE": r.delete_preset},
        "/v3/job/transcoding": jobs,
        "/v3/job/transcoding/{job_id}": job,
        "/v3/job": jobs,  # legacy alias used by the 2017 PHP SDK and the JS media_client [INFERRED]
        "/v3/job/{job_id}": job,
        "/v3/transcoding/key/{job_id}": {"GET": r.get_encryption_key},
        "/v3/job/thumbnail": {"POST": r.create_thumbnail_job, "GET": r.list_thumbnail_jobs},
        "/v3/job/thumbnail/{job_id}": {"GET": r.get_thumbnail_job},
        "/v3/watermark": {"POST": r.create_watermark, "GET": r.list_watermarks},
        "/v3/watermark/{watermark_id}": {"GET": r.get_watermark, "DELETE": r.delete_watermark},
        "/v3/notification": {"POST": r.create_notification, "GET": r.list_notifications},
        "/v3/notification/{name}": {"GET": r.get_notification, "DELETE": r.delete_notification},
        "/v3/mediainfo": {"GET": r.media_info},
    }


async def _not_found(scope, receive, send):
    raise RouteNotFound(f"no MCT API at {scope['method']} {scope['path']}")


def build_router(responses: MctResponses) -> Router:
    # Order matters: the literal /v3/job/thumbnail and /v3/job/transcoding come before /v3/job/{job_id}.
    routes = [Route(path, _methods(h), methods=list(h)) for path, h in url_map(responses).items()]
    routes.sort(key=lambda route: "{" in route.path)  # literal paths first
    for route in routes:
        route.methods = None  # let every method reach the endpoint (it answers 405 with a BCE body)
    return Router(routes=routes, default=_not_found)
