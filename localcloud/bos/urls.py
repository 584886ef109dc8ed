"""URL map of the BOS object API subset → ``BosResponses`` methods.

BosClient talks path style to an IP endpoint (``/<bucket>/<key>``). BOS picks the operation from the method, what
the path names (the service, a bucket or an object) and a sub-resource in the query string (``?uploads``,
``?uploadId``, ``?append`` ...) or, for CopyObject, the ``x-bce-copy-source`` header. Each table below lists the
selectors in the order they are tried; ``None`` is the plain operation.

  GET /                                  list_buckets
  PUT|HEAD|DELETE /<bucket>              create_bucket / head_bucket / delete_bucket
  GET /<bucket>[?prefix&marker&maxKeys&delimiter]    list_objects (?location, ?uploads)
  PUT /<bucket>/<key>                    put_object (x-bce-copy-source → copy_object; ?uploadId → upload_part)
  GET|HEAD /<bucket>/<key>               get_object (Range) / head_object (?uploadId → list_parts)
  DELETE /<bucket>/<key>[?uploadId]      delete_object / abort_multipart_upload
  POST /<bucket>/<key>?uploads|?uploadId|?append      initiate / complete multipart, append_object
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from localcloud.bos.exceptions import InvalidArgument, NotImplementedByLocalcloud
from localcloud.bos.models import validate_key
from localcloud.bos.responses import BosResponses

COPY_SOURCE = "header:x-bce-copy-source"
# Sub-resources the SDK can send that this subset does not implement: answer 501 rather than guess.
UNSUPPORTED = {
    "acl", "cors", "lifecycle", "logging", "website", "encryption", "replication", "inventory", "trash",
    "notification", "mirroring", "tagging", "symlink", "restore", "select", "fetch", "delete", "storageClass",
    "copyrightProtection", "userQuota", "replicationProgress",
}  # fmt: skip


def url_map(r: BosResponses) -> dict[str, dict[str, list]]:
    """level ("service" | "bucket" | "object") → method → [(selector, handler), ...]."""
    return {
        "service": {"GET": [(None, r.list_buckets)]},
        "bucket": {
            "PUT": [(None, r.create_bucket)],
            "HEAD": [(None, r.head_bucket)],
            "DELETE": [(None, r.delete_bucket)],
            "GET": [("location", r.get_bucket_location), ("uploads", r.list_multipart_uploads), (None, r.list_objects)],
        },
        "object": {
            "PUT": [("uploadId", r.upload_part), (COPY_SOURCE, r.copy_object), (None, r.put_object)],
            "GET": [("uploadId", r.list_parts), (None, r.get_object)],
            "HEAD": [("uploadId", r.list_parts), (None, r.head_object)],
            "DELETE": [("uploadId", r.abort_multipart_upload), (None, r.delete_object)],
            "POST": [
                ("uploads", r.initiate_multipart_upload),
                ("uploadId", r.complete_multipart_upload),
                ("append", r.append_object),
            ],
        },
    }


def _selected(selector: str | None, params: dict, request: Request) -> bool:
    if selector is None:
        return True
    if selector.startswith("header:"):
        return selector.removeprefix("header:") in request.headers
    return selector in params


class BosRouter:
    """ASGI app: one request → the handler its method, path and sub-resource select."""

    def __init__(self, responses: BosResponses):
        self.routes = url_map(responses)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.dispatch(request)
        await response(scope, receive, send)

    async def dispatch(self, request: Request):
        params = dict(parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        unsupported = UNSUPPORTED & params.keys()
        if unsupported:
            raise NotImplementedByLocalcloud(f"localcloud BOS does not implement ?{sorted(unsupported)[0]}")
        bucket, _, key = request.scope["path"].lstrip("/").partition("/")
        level = "object" if key else "bucket" if bucket else "service"
        if key:
            validate_key(key)  # every object operation, before a body is read
        for selector, handler in self.routes[level].get(request.method, []):
            if _selected(selector, params, request):
                return await handler(request, bucket, key, params)
        path = "/" + "/".join(p for p in (bucket, key) if p)
        raise InvalidArgument(
            f"{request.method} {path} with {sorted(params) or 'no'} parameters is not a supported BOS operation"
        )
