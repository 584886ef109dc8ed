"""BOS HTTP wire layer: path-style requests (``/<bucket>/<key>``) as the bce-python-sdk ``BosClient`` sends them
to an IP endpoint, translated into ``BosBackend`` calls. Bodies are JSON, as BOS answers them.

Routes (what the SDK sends; sub-resources select the operation):
  GET /                                  list_buckets
  PUT|HEAD|DELETE /<bucket>              create_bucket / does_bucket_exist / delete_bucket
  GET /<bucket>[?prefix&marker&maxKeys&delimiter]    list_objects
  GET /<bucket>?uploads                  list_multipart_uploads
  PUT /<bucket>/<key>                    put_object (x-bce-copy-source → copy_object; partNumber&uploadId → upload_part)
  GET|HEAD /<bucket>/<key>               get_object (Range) / get_object_meta_data
  DELETE /<bucket>/<key>[?uploadId]      delete_object / abort_multipart_upload
  POST /<bucket>/<key>?uploads|?uploadId|?append      initiate / complete multipart, append_object
  GET /<bucket>/<key>?uploadId           list_parts
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from email.utils import formatdate
from urllib.parse import parse_qsl, unquote

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from localcloud.bos.events import bos_time
from localcloud.bos.exceptions import (
    InvalidArgument,
    InvalidRange,
    MalformedJSON,
    NotImplementedByLocalcloud,
)
from localcloud.bos.models import OBJECT_TYPE_KEY, BosBackend
from localcloud.storage import CHUNK, ObjectInfo, validate_key

META_PREFIX = "x-bce-meta-"
OWNER = {"id": "0" * 32, "displayName": "localcloud"}
STORAGE_CLASS = "STANDARD"
MAX_KEYS = 1000
# Sub-resources the SDK can send that this subset does not implement: answer 501 rather than guess.
UNSUPPORTED = {
    "acl", "cors", "lifecycle", "logging", "website", "encryption", "replication", "inventory", "trash",
    "notification", "mirroring", "tagging", "symlink", "restore", "select", "fetch", "delete", "storageClass",
    "copyrightProtection", "userQuota", "replicationProgress",
}  # fmt: skip


class BosApp:
    def __init__(self, backend: BosBackend):
        self.backend = backend
        self.storage = backend.storage

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.dispatch(request)
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        params = dict(parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        unsupported = UNSUPPORTED & params.keys()
        if unsupported:
            raise NotImplementedByLocalcloud(f"localcloud BOS does not implement ?{sorted(unsupported)[0]}")
        path = request.scope["path"]
        bucket, _, key = path.lstrip("/").partition("/")
        method = request.method
        if not bucket:
            if method == "GET":
                return self.list_buckets()
            raise InvalidArgument(f"{method} / is not a BOS operation")
        if not key:
            return await self.bucket_op(method, bucket, params, request)
        validate_key(key)
        return await self.object_op(method, bucket, key, params, request)

    # ----- buckets ---------------------------------------------------------------------------------------------
    def list_buckets(self) -> Response:
        buckets = [
            {"name": name, "location": self.backend.region, "creationDate": bos_time(created)}
            for name, created in self.storage.list_buckets()
        ]
        return _json({"owner": OWNER, "buckets": buckets})

    async def bucket_op(self, method: str, bucket: str, params: dict, request: Request) -> Response:
        if method == "PUT":
            await request.body()
            self.storage.create_bucket(bucket)
            return _empty()
        if method == "HEAD":
            self.storage.require_bucket(bucket)
            return _empty()
        if method == "DELETE":
            self.storage.delete_bucket(bucket)
            return _empty()
        if method == "GET" and "location" in params:
            self.storage.require_bucket(bucket)
            return _json({"locationConstraint": self.backend.region})
        if method == "GET" and "uploads" in params:
            return self.list_uploads(bucket, params)
        if method == "GET":
            return await _in_thread(self.list_objects, bucket, params)
        raise InvalidArgument(f"{method} /{bucket} is not a supported BOS bucket operation")

    def list_objects(self, bucket: str, params: dict) -> Response:
        max_keys = _int_param(params, "maxKeys", MAX_KEYS)
        if not 1 <= max_keys <= MAX_KEYS:
            raise InvalidArgument(f"maxKeys must be between 1 and {MAX_KEYS}, got {max_keys}")
        prefix, marker, delimiter = params.get("prefix", ""), params.get("marker", ""), params.get("delimiter", "")
        result = self.storage.list(bucket, prefix=prefix, marker=marker, max_keys=max_keys, delimiter=delimiter)
        body = {
            "name": bucket,
            "prefix": prefix,
            "delimiter": delimiter,
            "marker": marker,
            "maxKeys": max_keys,
            "isTruncated": result.is_truncated,
            "contents": [
                {
                    "key": o.key,
                    "lastModified": bos_time(o.last_modified),
                    "eTag": o.etag,
                    "size": o.size,
                    "storageClass": STORAGE_CLASS,
                    "owner": OWNER,
                }
                for o in result.objects
            ],
            "commonPrefixes": [{"prefix": p} for p in result.common_prefixes],
        }
        if result.is_truncated:
            body["nextMarker"] = result.next_marker
        return _json(body)

    def list_uploads(self, bucket: str, params: dict) -> Response:
        max_uploads = _int_param(params, "maxUploads", MAX_KEYS)
        prefix, key_marker = params.get("prefix", ""), params.get("keyMarker", "")
        uploads = [
            u
            for u in self.backend.list_uploads(bucket)
            if u.key.startswith(prefix) and u.key.encode("utf-8") > key_marker.encode("utf-8")
        ]
        truncated = len(uploads) > max_uploads
        uploads = uploads[:max_uploads]
        body = {
            "bucket": bucket,
            "keyMarker": key_marker,
            "prefix": prefix,
            "delimiter": params.get("delimiter", ""),
            "maxUploads": max_uploads,
            "isTruncated": truncated,
            "uploads": [
                {
                    "key": u.key,
                    "uploadId": u.upload_id,
                    "owner": OWNER,
                    "initiated": bos_time(u.initiated),
                    "storageClass": STORAGE_CLASS,
                }
                for u in uploads
            ],
            "commonPrefixes": [],
        }
        if truncated:
            body["nextKeyMarker"] = uploads[-1].key
        return _json(body)

    # ----- objects ---------------------------------------------------------------------------------------------
    async def object_op(self, method: str, bucket: str, key: str, params: dict, request: Request) -> Response:
        headers = request.headers
        if method == "PUT" and "uploadId" in params:
            return await self.upload_part(bucket, key, params, request)
        if method == "PUT" and "x-bce-copy-source" in headers:
            await request.body()
            return await _in_thread(self.copy_object, bucket, key, headers)
        if method == "PUT":
            self.storage.require_bucket(bucket)  # fail before reading a large body
            tmp, etag = await self._receive_to_temp(request)
            try:
                info = await _in_thread(
                    self.backend.put_object,
                    bucket,
                    key,
                    tmp,
                    etag,
                    _content_type(headers),
                    _user_metadata(headers),
                    _content_md5(headers),
                )
            finally:
                tmp.unlink(missing_ok=True)
            return _empty({"ETag": _quoted(info.etag)})
        if method in ("GET", "HEAD") and "uploadId" in params:
            return self.list_parts(bucket, key, params)
        if method == "GET":
            return self.get_object(bucket, key, headers)
        if method == "HEAD":
            info = self.storage.head(bucket, key)
            return Response(status_code=200, headers={**_object_headers(info), "Content-Length": str(info.size)})
        if method == "DELETE" and "uploadId" in params:
            self.backend.abort_multipart(bucket, key, params["uploadId"])
            return _empty()
        if method == "DELETE":
            self.backend.delete_object(bucket, key)
            return _empty()
        if method == "POST" and "uploads" in params:
            await request.body()
            upload = self.backend.initiate_multipart(bucket, key, _content_type(headers), _user_metadata(headers))
            return _json({"bucket": bucket, "key": key, "uploadId": upload.upload_id})
        if method == "POST" and "uploadId" in params:
            return await self.complete_multipart(bucket, key, params, request)
        if method == "POST" and "append" in params:
            offset = _int_param(params, "offset", None)
            self.storage.require_bucket(bucket)
            tmp, _etag = await self._receive_to_temp(request)
            try:
                info = await _in_thread(
                    self.backend.append_object,
                    bucket,
                    key,
                    tmp,
                    offset,
                    _content_type(headers),
                    _user_metadata(headers),
                )
            finally:
                tmp.unlink(missing_ok=True)
            return _empty({"ETag": _quoted(info.etag), "x-bce-next-append-offset": str(info.size)})
        raise InvalidArgument(f"{method} on an object with {sorted(params) or 'no'} parameters is not supported")

    def get_object(self, bucket: str, key: str, headers) -> Response:
        info = self.storage.head(bucket, key)
        start, end = 0, info.size - 1
        status = 200
        out_headers = _object_headers(info)
        range_header = headers.get("range")
        if range_header:
            start, end = _parse_range(range_header, info.size)
            status = 206
            out_headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
        length = max(0, end - start + 1)
        out_headers["Content-Length"] = str(length)
        path = self.storage.object_path(bucket, key)
        # Opened now: a concurrent delete cannot turn this into a 500 mid-stream.
        fh = open(path, "rb")  # noqa: SIM115 - closed by the generator

        def chunks():
            with fh:
                fh.seek(start)
                remaining = length
                while remaining > 0:
                    data = fh.read(min(CHUNK, remaining))
                    if not data:
                        return
                    remaining -= len(data)
                    yield data

        return StreamingResponse(chunks(), status_code=status, headers=out_headers)

    def copy_object(self, bucket: str, key: str, headers) -> Response:
        source = unquote(headers["x-bce-copy-source"])
        src_bucket, _, src_key = source.lstrip("/").partition("/")
        src_key = src_key.split("?versionId=")[0]
        if not src_bucket or not src_key:
            raise InvalidArgument(f"x-bce-copy-source {source!r} must be /<bucket>/<key>")
        directive = headers.get("x-bce-metadata-directive", "copy").lower()
        if directive not in ("copy", "replace"):
            raise InvalidArgument(f"x-bce-metadata-directive {directive!r} must be copy or replace")
        info = self.backend.copy_object(
            src_bucket,
            src_key,
            bucket,
            key,
            headers.get("x-bce-copy-source-if-match"),
            directive == "replace",
            headers.get("content-type"),
            _user_metadata(headers),
        )
        return _json({"lastModified": bos_time(info.last_modified), "eTag": info.etag})

    async def upload_part(self, bucket: str, key: str, params: dict, request: Request) -> Response:
        number = _int_param(params, "partNumber", None)
        if number is None:
            raise InvalidArgument("partNumber is required with uploadId")
        if "x-bce-copy-source" in request.headers:
            raise NotImplementedByLocalcloud("localcloud BOS does not implement UploadPartCopy")
        self.backend.get_upload(bucket, key, params["uploadId"])  # fail before reading a large body
        tmp, etag = await self._receive_to_temp(request)
        try:
            md5 = _content_md5(request.headers)
            if md5 is not None and md5 != etag:
                raise InvalidArgument(f"Content-MD5 {md5} does not match the part's MD5 {etag}")
            part = await _in_thread(self.backend.upload_part, bucket, key, params["uploadId"], number, tmp, etag)
        finally:
            tmp.unlink(missing_ok=True)
        return _empty({"ETag": _quoted(part.etag)})

    async def complete_multipart(self, bucket: str, key: str, params: dict, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
            parts = [(int(p["partNumber"]), str(p["eTag"])) for p in body["parts"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedJSON(
                'the body must be {"parts": [{"partNumber": <int>, "eTag": <str>}, ...]}: ' + str(exc)
            ) from None
        info = await _in_thread(
            self.backend.complete_multipart, bucket, key, params["uploadId"], parts, _user_metadata(request.headers)
        )
        location = f"http://{self.backend.region}.bcebos.com/{bucket}/{key}"
        return _json({"location": location, "bucket": bucket, "key": key, "eTag": info.etag})

    def list_parts(self, bucket: str, key: str, params: dict) -> Response:
        upload = self.backend.get_upload(bucket, key, params["uploadId"])
        max_parts = _int_param(params, "maxParts", MAX_KEYS)
        marker = _int_param(params, "partNumberMarker", 0)
        parts = [p for n, p in sorted(upload.parts.items()) if n > marker]
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        return _json(
            {
                "bucket": bucket,
                "key": key,
                "uploadId": upload.upload_id,
                "initiated": bos_time(upload.initiated),
                "owner": OWNER,
                "storageClass": STORAGE_CLASS,
                "partNumberMarker": marker,
                "nextPartNumberMarker": parts[-1].number if parts else marker,
                "maxParts": max_parts,
                "isTruncated": truncated,
                "parts": [
                    {"partNumber": p.number, "lastModified": bos_time(p.last_modified), "eTag": p.etag, "size": p.size}
                    for p in parts
                ],
            }
        )

    async def _receive_to_temp(self, request: Request):
        """Stream the request body to a temp file (same filesystem as the buckets); returns (path, md5 hex)."""
        tmp = self.storage.new_temp_path()
        digest = hashlib.md5()
        try:
            with open(tmp, "wb") as out:
                async for chunk in request.stream():
                    if chunk:
                        digest.update(chunk)
                        out.write(chunk)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, digest.hexdigest()


# ----- helpers ---------------------------------------------------------------------------------------------------
async def _in_thread(func, *args):
    """Run blocking file work (copying, concatenating, walking a bucket) off the event loop."""
    return await anyio.to_thread.run_sync(functools.partial(func, *args))


def _json(body: dict, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False).encode("utf-8"),
        status_code=status,
        media_type="application/json; charset=utf-8",
    )


def _empty(headers: dict | None = None) -> Response:
    return Response(b"", status_code=200, headers=headers or {})


def _quoted(etag: str) -> str:
    return f'"{etag}"'


def _int_param(params: dict, name: str, default):
    if name not in params or params[name] == "":
        return default
    try:
        return int(params[name])
    except ValueError:
        raise InvalidArgument(f"{name} must be an integer, got {params[name]!r}") from None


def _content_type(headers) -> str | None:
    return headers.get("content-type") or None


def _user_metadata(headers) -> dict[str, str]:
    return {name[len(META_PREFIX) :]: _utf8(value) for name, value in headers.items() if name.startswith(META_PREFIX)}


def _utf8(value: str) -> str:
    """Starlette decodes header bytes as latin-1; the SDK sends UTF-8 bytes."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _content_md5(headers) -> str | None:
    value = headers.get("content-md5")
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"Content-MD5 {value!r} is not base64") from None


def _object_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {
        "Content-Type": info.content_type,
        "ETag": _quoted(info.etag),
        "Last-Modified": formatdate(info.last_modified, usegmt=True),
        "Accept-Ranges": "bytes",
        "x-bce-storage-class": STORAGE_CLASS,
        "x-bce-object-type": info.extra.get(OBJECT_TYPE_KEY, "Normal"),
    }
    if info.extra.get(OBJECT_TYPE_KEY) == "Appendable":
        headers["x-bce-next-append-offset"] = str(info.size)
    for name, value in info.user_metadata.items():
        # Starlette encodes header values as latin-1; send UTF-8 bytes the way BOS does (the SDK decodes UTF-8).
        headers[META_PREFIX + name] = value.encode("utf-8").decode("latin-1")
    return headers


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _parse_range(value: str, size: int) -> tuple[int, int]:
    match = _RANGE.match(value.strip())
    if not match or match.groups() == ("", ""):
        raise InvalidRange(f"Range {value!r} must be bytes=<first>-<last>")
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise InvalidRange(f"Range {value!r} is not satisfiable for an object of {size} bytes")
    return start, end
