"""The BOS wire layer: HTTP request → ``BosBackend`` call → HTTP response, bodies in JSON as BOS answers them.

No rules here (those live in ``models``): this module reads headers, query parameters and bodies, and writes the
answer. Routing is ``urls``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from email.utils import formatdate
from urllib.parse import unquote

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from localcloud.bos.events import bos_time
from localcloud.bos.exceptions import InvalidArgument, InvalidRange, MalformedJSON, NotImplementedByLocalcloud
from localcloud.bos.models import OBJECT_TYPE_KEY, BosBackend
from localcloud.storage import CHUNK, ObjectInfo

META_PREFIX = "x-bce-meta-"
OWNER = {"id": "0" * 32, "displayName": "localcloud"}
STORAGE_CLASS = "STANDARD"
MAX_KEYS = 1000


class BosResponses:
    def __init__(self, backend: BosBackend):
        self.backend = backend

    # ----- service and buckets -----------------------------------------------------------------------------
    async def list_buckets(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        buckets = [
            {"name": name, "location": self.backend.region, "creationDate": bos_time(created)}
            for name, created in self.backend.list_buckets()
        ]
        return _json({"owner": OWNER, "buckets": buckets})

    async def create_bucket(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        await request.body()
        self.backend.create_bucket(bucket)
        return _empty()

    async def head_bucket(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        self.backend.require_bucket(bucket)
        return _empty()

    async def delete_bucket(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        self.backend.delete_bucket(bucket)
        return _empty()

    async def get_bucket_location(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        self.backend.require_bucket(bucket)
        return _json({"locationConstraint": self.backend.region})

    async def list_objects(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        max_keys = _int_param(params, "maxKeys", MAX_KEYS)
        prefix, marker, delimiter = params.get("prefix", ""), params.get("marker", ""), params.get("delimiter", "")
        result = await _in_thread(self.backend.list_objects, bucket, prefix, marker, max_keys, delimiter)
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

    async def list_multipart_uploads(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        max_uploads = _int_param(params, "maxUploads", MAX_KEYS)
        prefix, key_marker = params.get("prefix", ""), params.get("keyMarker", "")
        uploads, truncated = self.backend.list_uploads(bucket, prefix, key_marker, max_uploads)
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

    # ----- objects -----------------------------------------------------------------------------------------
    async def put_object(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        self.backend.check_object_name(bucket, key)  # fail before reading a large body
        tmp, etag = await self._receive_to_temp(request)
        try:
            headers = request.headers
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

    async def append_object(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        offset = _int_param(params, "offset", None)
        self.backend.check_object_name(bucket, key)
        tmp, _etag = await self._receive_to_temp(request)
        try:
            headers = request.headers
            info = await _in_thread(
                self.backend.append_object, bucket, key, tmp, offset, _content_type(headers), _user_metadata(headers)
            )
        finally:
            tmp.unlink(missing_ok=True)
        return _empty({"ETag": _quoted(info.etag), "x-bce-next-append-offset": str(info.size)})

    async def copy_object(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        await request.body()
        headers = request.headers
        source = unquote(headers["x-bce-copy-source"])
        src_bucket, _, src_key = source.lstrip("/").partition("/")
        src_key = src_key.split("?versionId=")[0]
        if not src_bucket or not src_key:
            raise InvalidArgument(f"x-bce-copy-source {source!r} must be /<bucket>/<key>")
        info = await _in_thread(
            self.backend.copy_object,
            src_bucket,
            src_key,
            bucket,
            key,
            headers.get("x-bce-copy-source-if-match"),
            headers.get("x-bce-metadata-directive"),
            headers.get("content-type"),
            _user_metadata(headers),
        )
        return _json({"lastModified": bos_time(info.last_modified), "eTag": info.etag})

    async def head_object(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        info = self.backend.head_object(bucket, key)
        return Response(status_code=200, headers={**_object_headers(info), "Content-Length": str(info.size)})

    async def get_object(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        # Opened now: a concurrent delete cannot turn this into a 500 mid-stream.
        info, fh = self.backend.open_object(bucket, key)
        start, end = 0, info.size - 1
        status = 200
        headers = _object_headers(info)
        range_header = request.headers.get("range")
        if range_header:
            try:
                start, end = _parse_range(range_header, info.size)
            except InvalidRange:
                fh.close()
                raise
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
        length = max(0, end - start + 1)
        headers["Content-Length"] = str(length)

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

        return StreamingResponse(chunks(), status_code=status, headers=headers)

    async def delete_object(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        self.backend.delete_object(bucket, key)
        return _empty()

    # ----- multipart ---------------------------------------------------------------------------------------
    async def initiate_multipart_upload(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        await request.body()
        headers = request.headers
        upload = self.backend.initiate_multipart(bucket, key, _content_type(headers), _user_metadata(headers))
        return _json({"bucket": bucket, "key": key, "uploadId": upload.upload_id})

    async def upload_part(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        number = _int_param(params, "partNumber", None)
        if number is None:
            raise InvalidArgument("partNumber is required with uploadId")
        if "x-bce-copy-source" in request.headers:
            raise NotImplementedByLocalcloud("localcloud BOS does not implement UploadPartCopy")
        upload_id = params["uploadId"]
        self.backend.get_upload(bucket, key, upload_id)  # fail before reading a large body
        tmp, etag = await self._receive_to_temp(request)
        try:
            md5 = _content_md5(request.headers)
            part = await _in_thread(self.backend.upload_part, bucket, key, upload_id, number, tmp, etag, md5)
        finally:
            tmp.unlink(missing_ok=True)
        return _empty({"ETag": _quoted(part.etag)})

    async def complete_multipart_upload(self, request: Request, bucket: str, key: str, params: dict) -> Response:
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

    async def abort_multipart_upload(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        self.backend.abort_multipart(bucket, key, params["uploadId"])
        return _empty()

    async def list_parts(self, request: Request, bucket: str, key: str, params: dict) -> Response:
        max_parts = _int_param(params, "maxParts", MAX_KEYS)
        marker = _int_param(params, "partNumberMarker", 0)
        upload, parts, truncated = self.backend.list_parts(bucket, key, params["uploadId"], marker, max_parts)
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
        tmp = self.backend.new_temp_path()
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
    """The Content-MD5 header (base64) as hex, to compare with the body's MD5 (the backend does)."""
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
    """An HTTP ``Range: bytes=first-last`` header (RFC 9110 §14.1.2) → inclusive (start, end) within ``size``."""
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
