"""BOS backend: buckets, objects, multipart uploads and upload events on top of ``LocalStorage``.

The state and the rules (key limits, Content-MD5, the metadata directive of a copy, listing limits, part numbers)
live here; no HTTP (that is ``responses``). Every successful create calls ``on_event`` with a PostEvent body before
the request is answered; objects written here are remembered (size, mtime) so the bucket watcher does not report
them a second time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from localcloud.bos import events as ev
from localcloud.bos.exceptions import (
    BadDigest,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    NoSuchUpload,
    ObjectUnappendable,
    OffsetIncorrect,
    PreconditionFailed,
)
from localcloud.defaults import REGION
from localcloud.faults import FaultConfig
from localcloud.storage import CHUNK, ListResult, LocalStorage, NoSuchKey, ObjectInfo, validate_key

__all__ = ["BosBackend", "Part", "Upload", "multipart_etag", "validate_key"]

log = logging.getLogger(__name__)

EventCallback = Callable[[dict], None]
OBJECT_TYPE_KEY = "objectType"  # in ObjectInfo.extra: "Normal" | "Appendable" | "Multipart"
MAX_PART_NUMBER = 10000
MAX_KEYS = 1000  # ListObjects maxKeys upper bound
METADATA_DIRECTIVES = ("copy", "replace")  # x-bce-metadata-directive of CopyObject; copy is the default


def multipart_etag(part_etags: list[str]) -> str:
    """The ETag of an object assembled by CompleteMultipartUpload. [INFERRED] BOS documents it only as "the
    object's entity tag" and shows a 32-hex value, so: MD5 hex over the concatenated binary part MD5s (the S3 rule
    without S3's "-N" suffix). The one place to change if real BOS says otherwise."""
    digest = hashlib.md5()
    for etag in part_etags:
        digest.update(bytes.fromhex(etag))
    return digest.hexdigest()


@dataclass
class Part:
    number: int
    etag: str
    size: int
    last_modified: float


@dataclass
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    content_type: str | None
    user_metadata: dict[str, str]
    parts: dict[int, Part] = field(default_factory=dict)


class BosBackend:
    def __init__(
        self,
        storage: LocalStorage,
        on_event: EventCallback | None = None,
        region: str = REGION,
        event_credentials: dict | None = None,
        faults: FaultConfig | None = None,
    ):
        self.storage = storage
        self.faults = faults or FaultConfig()
        self.on_event = on_event
        self.region = region
        self.event_credentials = event_credentials
        self.multipart_root = storage.data_dir / "bos" / "multipart"
        self.multipart_root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._written: dict[tuple[str, str], tuple[int, int]] = {}
        self.track_writes = False  # switched on by the watcher

    # ----- events ----------------------------------------------------------------------------------------------
    def emit(self, info: ObjectInfo, event_type: str) -> None:
        """Deliver one create event; a failing listener never fails the upload."""
        if self.on_event is None:
            return
        body = ev.object_created_event(info, event_type, region=self.region, credentials=self.event_credentials)
        # BOS delivers at least once: a fault config may ask for the same event (same eventId) more than once.
        for _ in range(self.faults.bos_event_deliveries()):
            try:
                self.on_event(body)
            except Exception:
                log.exception("BOS event listener failed for %s/%s", info.bucket, info.key)

    def _remember(self, info: ObjectInfo) -> None:
        if not self.track_writes:
            return
        try:
            st = self.storage.object_path(info.bucket, info.key).stat()
        except OSError:
            return
        with self._lock:
            self._written[(info.bucket, info.key)] = (st.st_size, st.st_mtime_ns)

    def written_here(self, bucket: str, key: str, signature: tuple[int, int]) -> bool:
        with self._lock:
            return self._written.get((bucket, key)) == signature

    def _created(self, info: ObjectInfo, event_type: str) -> ObjectInfo:
        self._remember(info)
        self.emit(info, event_type)
        return info

    # ----- buckets ---------------------------------------------------------------------------------------------
    def list_buckets(self) -> list[tuple[str, float]]:
        return self.storage.list_buckets()

    def create_bucket(self, bucket: str) -> None:
        self.storage.create_bucket(bucket)

    def require_bucket(self, bucket: str) -> None:
        self.storage.require_bucket(bucket)

    def delete_bucket(self, bucket: str) -> None:
        self.storage.delete_bucket(bucket)

    def list_objects(self, bucket: str, prefix: str, marker: str, max_keys: int, delimiter: str) -> ListResult:
        if not 1 <= max_keys <= MAX_KEYS:
            raise InvalidArgument(f"maxKeys must be between 1 and {MAX_KEYS}, got {max_keys}")
        return self.storage.list(bucket, prefix=prefix, marker=marker, max_keys=max_keys, delimiter=delimiter)

    # ----- objects ---------------------------------------------------------------------------------------------
    def check_object_name(self, bucket: str, key: str) -> None:
        """Fail before a body is read: the bucket must exist and the key be one this BOS can store."""
        self.storage.require_bucket(bucket)
        self.storage.object_path(bucket, key)

    def new_temp_path(self) -> Path:
        """Where a request body is received (the buckets' filesystem: committing it is a rename)."""
        return self.storage.new_temp_path()

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        return self.storage.head(bucket, key)

    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, BinaryIO]:
        """The object's info and an open file of its bytes (the caller closes it)."""
        info = self.storage.head(bucket, key)
        return info, open(self.storage.object_path(bucket, key), "rb")

    def put_object(
        self,
        bucket: str,
        key: str,
        tmp: Path,
        etag: str,
        content_type: str | None,
        user_metadata: dict[str, str],
        content_md5_hex: str | None = None,
        event_type: str = ev.PUT_OBJECT,
    ) -> ObjectInfo:
        if content_md5_hex is not None and content_md5_hex != etag:
            raise BadDigest(f"Content-MD5 {content_md5_hex} does not match the MD5 of the body ({etag})")
        info = self.storage.commit_file(
            bucket, key, tmp, content_type, user_metadata, etag=etag, extra={OBJECT_TYPE_KEY: "Normal"}
        )
        return self._created(info, event_type)

    def append_object(
        self,
        bucket: str,
        key: str,
        tmp: Path,
        offset: int | None,
        content_type: str | None,
        user_metadata: dict[str, str],
    ) -> ObjectInfo:
        """AppendObject: create an appendable object or add to its end; ``offset`` must equal its size."""
        self.storage.require_bucket(bucket)
        try:
            current = self.storage.head(bucket, key)
        except NoSuchKey:
            current = None
        if current is not None and current.extra.get(OBJECT_TYPE_KEY) != "Appendable":
            raise ObjectUnappendable(f"object {key!r} was not created by AppendObject")
        size = current.size if current else 0
        if offset is not None and offset != size:
            raise OffsetIncorrect(f"offset {offset} is not the object's current length {size}")
        merged = self.storage.new_temp_path()
        try:
            with open(merged, "wb") as out:
                if current is not None:
                    with self.storage.open(bucket, key) as src:
                        shutil.copyfileobj(src, out, CHUNK)
                with open(tmp, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
            info = self.storage.commit_file(
                bucket,
                key,
                merged,
                content_type or (current.content_type if current else None),
                user_metadata or (current.user_metadata if current else {}),
                extra={OBJECT_TYPE_KEY: "Appendable"},
            )
        finally:
            merged.unlink(missing_ok=True)
        return self._created(info, ev.APPEND_OBJECT)

    def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        if_match: str | None,
        metadata_directive: str | None,
        content_type: str | None,
        user_metadata: dict[str, str],
    ) -> ObjectInfo:
        """CopyObject. ``metadata_directive`` "copy" (default) keeps the source's content type and user metadata,
        "replace" takes the request's."""
        directive = (metadata_directive or "copy").lower()
        if directive not in METADATA_DIRECTIVES:
            raise InvalidArgument(f"x-bce-metadata-directive {directive!r} must be copy or replace")
        src = self.storage.head(src_bucket, src_key)
        if if_match is not None and if_match.strip('"') != src.etag:
            raise PreconditionFailed(f"source ETag {src.etag} does not match x-bce-copy-source-if-match {if_match}")
        if directive == "replace":
            info = self.storage.copy(src_bucket, src_key, dst_bucket, dst_key, content_type, user_metadata)
        else:
            info = self.storage.copy(src_bucket, src_key, dst_bucket, dst_key)
        return self._created(info, ev.COPY_OBJECT)

    def delete_object(self, bucket: str, key: str) -> None:
        self.storage.delete(bucket, key)
        with self._lock:
            self._written.pop((bucket, key), None)

    # ----- multipart -------------------------------------------------------------------------------------------
    def _upload_dir(self, upload_id: str) -> Path:
        if not upload_id or not all(c in "0123456789abcdef" for c in upload_id):
            raise NoSuchUpload(f"upload id {upload_id!r} does not exist")
        return self.multipart_root / upload_id

    def _load_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        path = self._upload_dir(upload_id) / "upload.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            raise NoSuchUpload(f"upload id {upload_id!r} does not exist (completed or aborted?)") from None
        if data["bucket"] != bucket or data["key"] != key:
            raise NoSuchUpload(f"upload id {upload_id!r} belongs to another object")
        upload = Upload(
            upload_id, data["bucket"], data["key"], data["initiated"], data.get("content_type"), data["user_metadata"]
        )
        for entry in data.get("parts", []):
            upload.parts[entry["number"]] = Part(**entry)
        return upload

    def _save_upload(self, upload: Upload) -> None:
        record = {
            "bucket": upload.bucket,
            "key": upload.key,
            "initiated": upload.initiated,
            "content_type": upload.content_type,
            "user_metadata": upload.user_metadata,
            "parts": [vars(p) for _, p in sorted(upload.parts.items())],
        }
        directory = self._upload_dir(upload.upload_id)
        tmp = directory / f".upload.{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, directory / "upload.json")

    def initiate_multipart(
        self, bucket: str, key: str, content_type: str | None, user_metadata: dict[str, str]
    ) -> Upload:
        self.storage.require_bucket(bucket)
        self.storage.object_path(bucket, key)  # validates the key now, not at completion
        upload = Upload(uuid.uuid4().hex, bucket, key, time.time(), content_type, dict(user_metadata))
        self._upload_dir(upload.upload_id).mkdir(parents=True)
        self._save_upload(upload)
        return upload

    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, tmp: Path, etag: str, content_md5_hex: str | None
    ) -> Part:
        if content_md5_hex is not None and content_md5_hex != etag:
            raise InvalidArgument(f"Content-MD5 {content_md5_hex} does not match the part's MD5 {etag}")
        if not 1 <= number <= MAX_PART_NUMBER:
            raise InvalidArgument(f"partNumber {number} is outside 1..{MAX_PART_NUMBER}")
        with self._lock:  # parts arrive concurrently (put_super_object_from_file uses a thread pool)
            upload = self._load_upload(bucket, key, upload_id)
            part = Part(number, etag, tmp.stat().st_size, time.time())
            os.replace(tmp, self._upload_dir(upload_id) / f"part-{number:05d}")
            upload.parts[number] = part
            self._save_upload(upload)
        return part

    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]], user_metadata: dict[str, str]
    ) -> ObjectInfo:
        with self._lock:
            upload = self._load_upload(bucket, key, upload_id)
        if not parts:
            raise InvalidArgument("the parts list is empty")
        numbers = [n for n, _ in parts]
        if numbers != sorted(set(numbers)):
            raise InvalidPartOrder(f"part numbers must be strictly ascending, got {numbers}")
        for number, etag in parts:
            stored = upload.parts.get(number)
            if stored is None or stored.etag != etag.strip('"'):
                raise InvalidPart(f"part {number} with eTag {etag!r} was not uploaded")
        directory = self._upload_dir(upload_id)
        tmp = self.storage.new_temp_path()
        try:
            with open(tmp, "wb") as out:
                for number, _ in parts:
                    with open(directory / f"part-{number:05d}", "rb") as src:
                        shutil.copyfileobj(src, out, CHUNK)
            info = self.storage.commit_file(
                bucket,
                key,
                tmp,
                upload.content_type,
                user_metadata or upload.user_metadata,
                etag=multipart_etag([upload.parts[n].etag for n in numbers]),
                extra={OBJECT_TYPE_KEY: "Multipart"},
            )
        finally:
            tmp.unlink(missing_ok=True)
        shutil.rmtree(directory, ignore_errors=True)
        return self._created(info, ev.COMPLETE_MULTIPART_UPLOAD)

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        with self._lock:
            self._load_upload(bucket, key, upload_id)
            shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        with self._lock:
            return self._load_upload(bucket, key, upload_id)

    def list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> tuple[Upload, list[Part], bool]:
        """(the upload, its parts numbered above ``marker`` up to ``max_parts`` of them, whether more follow)."""
        upload = self.get_upload(bucket, key, upload_id)
        parts = [p for n, p in sorted(upload.parts.items()) if n > marker]
        return upload, parts[:max_parts], len(parts) > max_parts

    def list_uploads(
        self, bucket: str, prefix: str = "", key_marker: str = "", max_uploads: int = MAX_KEYS
    ) -> tuple[list[Upload], bool]:
        """Uploads in progress for ``bucket`` under ``prefix`` with keys after ``key_marker`` (UTF-8 byte order),
        ordered by key then initiation time, at most ``max_uploads``; and whether more follow."""
        uploads = [
            u
            for u in self._uploads_of(bucket)
            if u.key.startswith(prefix) and u.key.encode("utf-8") > key_marker.encode("utf-8")
        ]
        return uploads[:max_uploads], len(uploads) > max_uploads

    def _uploads_of(self, bucket: str) -> list[Upload]:
        self.storage.require_bucket(bucket)
        uploads = []
        for directory in self.multipart_root.iterdir():
            try:
                data = json.loads((directory / "upload.json").read_text(encoding="utf-8"))
            except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
                continue
            if data["bucket"] == bucket:
                uploads.append(
                    Upload(directory.name, bucket, data["key"], data["initiated"], data.get("content_type"), {})
                )
        uploads.sort(key=lambda u: (u.key.encode("utf-8"), u.initiated))
        return uploads
