"""The wire layer: HTTP request → backend call → HTTP response. No rules here (those live in models/rules)."""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from localcloud.mct.exceptions import MalformedJson
from localcloud.mct.models import MctBackend

JSON_TYPE = "application/json;charset=UTF-8"


def json_response(payload: dict) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False).encode("utf-8"), media_type=JSON_TYPE)


def empty_response() -> Response:
    """Create/update/delete answer no fields: an empty body, with Content-Length: 0 (Java SDK needs the header)."""
    return Response(b"", media_type=JSON_TYPE)


async def json_body(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        raise MalformedJson("Could not read JSON: the request body is empty")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedJson(f"Could not read JSON: {e}") from None
    if not isinstance(body, dict):
        raise MalformedJson(f"Could not read JSON: expected a JSON object, got {type(body).__name__}")
    return body


class MctResponses:
    def __init__(self, backend: MctBackend):
        self.backend = backend

    # pipelines
    async def create_pipeline(self, request: Request) -> Response:
        self.backend.create_pipeline(await json_body(request))
        return empty_response()

    async def list_pipelines(self, request: Request) -> Response:
        return json_response({"pipelines": self.backend.list_pipelines()})

    async def get_pipeline(self, request: Request) -> Response:
        return json_response(self.backend.get_pipeline(request.path_params["name"]))

    async def update_pipeline(self, request: Request) -> Response:
        self.backend.update_pipeline(request.path_params["name"], await json_body(request))
        return empty_response()

    async def delete_pipeline(self, request: Request) -> Response:
        self.backend.delete_pipeline(request.path_params["name"])
        return empty_response()

    # presets
    async def create_preset(self, request: Request) -> Response:
        self.backend.create_preset(await json_body(request))
        return empty_response()

    async def list_presets(self, request: Request) -> Response:
        return json_response({"presets": self.backend.list_presets()})

    async def get_preset(self, request: Request) -> Response:
        return json_response(self.backend.get_preset(request.path_params["name"]))

    async def update_preset(self, request: Request) -> Response:
        self.backend.update_preset(request.path_params["name"], await json_body(request))
        return empty_response()

    async def delete_preset(self, request: Request) -> Response:
        self.backend.delete_preset(request.path_params["name"])
        return empty_response()

    # transcoding jobs
    async def create_job(self, request: Request) -> Response:
        return json_response({"jobId": self.backend.create_transcoding_job(await json_body(request))})

    async def list_jobs(self, request: Request) -> Response:
        q = request.query_params
        jobs = self.backend.list_transcoding_jobs(
            q.get("pipelineName"), q.get("jobStatus"), q.get("begin"), q.get("end")
        )
        return json_response({"jobs": jobs})

    async def get_job(self, request: Request) -> Response:
        return json_response(self.backend.get_transcoding_job(request.path_params["job_id"]))

    async def get_encryption_key(self, request: Request) -> Response:
        key = self.backend.encryption_key(request.path_params["job_id"])
        return Response(key.encode("ascii"), media_type="text/plain;charset=UTF-8")

    # thumbnail jobs
    async def create_thumbnail_job(self, request: Request) -> Response:
        return json_response({"jobId": self.backend.create_thumbnail_job(await json_body(request))})

    async def list_thumbnail_jobs(self, request: Request) -> Response:
        q = request.query_params
        jobs = self.backend.list_thumbnail_jobs(q.get("pipelineName"), q.get("jobStatus"), q.get("begin"), q.get("end"))
        return json_response({"thumbnails": jobs})

    async def get_thumbnail_job(self, request: Request) -> Response:
        return json_response(self.backend.get_thumbnail_job(request.path_params["job_id"]))

    # watermarks
    async def create_watermark(self, request: Request) -> Response:
        return json_response({"watermarkId": self.backend.create_watermark(await json_body(request))})

    async def list_watermarks(self, request: Request) -> Response:
        return json_response({"watermarks": self.backend.list_watermarks()})

    async def get_watermark(self, request: Request) -> Response:
        return json_response(self.backend.get_watermark(request.path_params["watermark_id"]))

    async def delete_watermark(self, request: Request) -> Response:
        self.backend.delete_watermark(request.path_params["watermark_id"])
        return empty_response()

    # notifications
    async def create_notification(self, request: Request) -> Response:
        self.backend.create_notification(await json_body(request))
        return empty_response()

    async def list_notifications(self, request: Request) -> Response:
        return json_response({"notifications": self.backend.list_notifications()})

    async def get_notification(self, request: Request) -> Response:
        return json_response(self.backend.get_notification(request.path_params["name"]))

    async def delete_notification(self, request: Request) -> Response:
        self.backend.delete_notification(request.path_params["name"])
        return empty_response()

    # media info (probing runs ffmpeg: keep it off the event loop)
    async def media_info(self, request: Request) -> Response:
        q = request.query_params
        info = await run_in_threadpool(self.backend.media_info, q.get("bucket", ""), q.get("key", ""))
        return json_response(info)
