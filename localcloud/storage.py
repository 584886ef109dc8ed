"""Filesystem object storage shared by localcloud BOS and MCT.

A bucket is a directory ``<data_dir>/buckets/<bucket>``; an object is the file at its key inside it, so a file
dropped straight into a bucket directory *is* an object (watch mode). Per-object metadata (ETag, content type,
user metadata) lives in a mirror tree ``<data_dir>/meta/<bucket>/<key>`` as JSON and is recomputed when the data
file changed behind our back. Writes go to ``<data_dir>/tmp`` first and are moved into place with ``os.replace``,
so no reader ever sees a partial object at a key.
"""

from __future__ import annotations

import errno
import hashlib
import json
import mimetypes
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
MAX_KEY_BYTES = 1024  # BOS: an object key is at most 1024 bytes of UTF-8
# localcloud's own limit: each key segment is a file name, and Linux file systems (ext4, xfs, btrfs, tmpfs) cap a
# name at 255 bytes. Real BOS stores such keys; localcloud answers InvalidObjectName instead of failing with 500.
MAX_SEGMENT_BYTES = 255
CHUNK = 1024 * 1024


class StorageError(Exception):
    """Base of storage errors; ``code`` is the BOS-style error code."""

    code = "InvalidArgument"
    status = 400


class InvalidBucketName(StorageError):
    code = "InvalidBucketName"


class InvalidKey(StorageError):
    # BOS error-code table (cloud.baidu.com/doc/BOS/s/Ajwvysfpl): InvalidObjectName, 400. [UNVERIFIED] the row
    # itself: the stored excerpts of that page stop before it; S3 and OSS answer key-name errors the same way.
    code = "InvalidObjectName"


class NoSuchBucket(StorageError):
    code = "NoSuchBucket"
    status = 404


class NoSuchKey(StorageError):
    code = "NoSuchKey"
    status = 404


class BucketAlreadyExists(StorageError):
    code = "BucketAlreadyExists"
    status = 409


class BucketNotEmpty(StorageError):
    code = "BucketNotEmpty"
    status = 409


@dataclass
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str  # MD5 hex, as BOS reports it for simple uploads
    last_modified: float  # epoch seconds
    content_type: str = "application/octet-stream"
    user_metadata: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # e.g. multipart ETag override, storage class


@dataclass
class ListResult:
    objects: list[ObjectInfo]
    common_prefixes: list[str]
    is_truncated: bool
    next_marker: str


def validate_bucket_name(bucket: str) -> None:
    if not isinstance(bucket, str) or not BUCKET_NAME.match(bucket):
        raise InvalidBucketName(
            f"bucket name {bucket!r} is invalid: use 3-63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )


def validate_key(key: str) -> None:
    """Reject keys BOS refuses (empty, over 1024 bytes) and keys that cannot be stored safely as a path here
    (traversal, empty segments, NUL, a segment longer than a file name may be)."""
    if not isinstance(key, str) or not key:
        raise InvalidKey("object key must be a non-empty string")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidKey(
            f"object key is {len(key.encode('utf-8'))} bytes; BOS allows at most {MAX_KEY_BYTES} bytes (UTF-8)"
        )
    if "\x00" in key or "\\" in key:
        raise InvalidKey(f"object key {key!r} contains a NUL or backslash character")
    if key.startswith("/"):
        raise InvalidKey(f"object key {key!r} must not start with '/'")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"object key {key!r} has an empty, '.' or '..' path segment")
        size = len(segment.encode("utf-8"))
        if size > MAX_SEGMENT_BYTES:
            raise InvalidKey(
                f"object key segment {segment[:40]!r}... is {size} bytes; localcloud stores each '/'-separated "
                f"segment as a file name of at most {MAX_SEGMENT_BYTES} bytes (real BOS allows up to "
                f"{MAX_KEY_BYTES} bytes in all): split it with '/' or shorten it"
            )


def _name_too_long(key: str, exc: OSError) -> Exception:
    """The file system refused the path (e.g. a data dir so deep that the whole path passes PATH_MAX)."""
    if exc.errno == errno.ENAMETOOLONG:
        return InvalidKey(f"object key {key[:60]!r}... makes a path the file system cannot store ({exc.strerror})")
    return exc


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def guess_content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


class LocalStorage:
    def __init__(self, data_dir: str | os.PathLike[str]):
        self.data_dir = Path(data_dir).resolve()
        self.buckets_root = self.data_dir / "buckets"
        self.meta_root = self.data_dir / "meta"
        self.tmp_root = self.data_dir / "tmp"
        for d in (self.buckets_root, self.meta_root, self.tmp_root):
            d.mkdir(parents=True, exist_ok=True)

    # ----- buckets -------------------------------------------------------------------------------------------
    def bucket_path(self, bucket: str) -> Path:
        validate_bucket_name(bucket)
        return self.buckets_root / bucket

    def bucket_exists(self, bucket: str) -> bool:
        try:
            return self.bucket_path(bucket).is_dir()
        except InvalidBucketName:
            return False

    def require_bucket(self, bucket: str) -> Path:
        path = self.bucket_path(bucket)
        if not path.is_dir():
            raise NoSuchBucket(f"bucket {bucket!r} does not exist")
        return path

    def create_bucket(self, bucket: str, exist_ok: bool = False) -> None:
        path = self.bucket_path(bucket)
        if path.is_dir():
            if exist_ok:
                return
            raise BucketAlreadyExists(f"bucket {bucket!r} already exists")
        path.mkdir(parents=True)

    def delete_bucket(self, bucket: str) -> None:
        path = self.require_bucket(bucket)
        if any(path.iterdir()):
            raise BucketNotEmpty(f"bucket {bucket!r} is not empty")
        path.rmdir()
        shutil.rmtree(self.meta_root / bucket, ignore_errors=True)

    def list_buckets(self) -> list[tuple[str, float]]:
        """(name, creation time) of every bucket, sorted by name."""
        return sorted((p.name, p.stat().st_mtime) for p in self.buckets_root.iterdir() if p.is_dir())

    # ----- paths ---------------------------------------------------------------------------------------------
    def object_path(self, bucket: str, key: str) -> Path:
        """Where the object's bytes live. Validates both names; never escapes the bucket directory."""
        root = self.bucket_path(bucket)
        validate_key(key)
        path = root / key
        if root not in path.parents:  # belt and braces against traversal through odd segments
            raise InvalidKey(f"object key {key!r} escapes its bucket")
        return path

    def _meta_path(self, bucket: str, key: str) -> Path:
        return self.meta_root / bucket / key

    def new_temp_path(self, suffix: str = "") -> Path:
        """A fresh path on the same filesystem as the buckets (for build-then-move writes)."""
        return self.tmp_root / f"{uuid.uuid4().hex}{suffix}"

    def new_temp_dir(self) -> Path:
        path = self.tmp_root / uuid.uuid4().hex
        path.mkdir()
        return path

    # ----- objects -------------------------------------------------------------------------------------------
    def put(
        self,
        bucket: str,
        key: str,
        data: bytes | BinaryIO | Iterable[bytes],
        content_type: str | None = None,
        user_metadata: dict[str, str] | None = None,
        expected_md5: str | None = None,
    ) -> ObjectInfo:
        """Store an object from bytes, a file object or an iterable of chunks; returns its info."""
        self.require_bucket(bucket)
        self.object_path(bucket, key)
        tmp = self.new_temp_path()
        digest = hashlib.md5()
        try:
            with open(tmp, "wb") as out:
                for chunk in _chunks(data):
                    digest.update(chunk)
                    out.write(chunk)
            etag = digest.hexdigest()
            if expected_md5 is not None and expected_md5 != etag:
                raise StorageError(f"content MD5 {etag} does not match the expected {expected_md5}")
            return self.commit_file(bucket, key, tmp, content_type, user_metadata, etag=etag)
        finally:
            tmp.unlink(missing_ok=True)

    def commit_file(
        self,
        bucket: str,
        key: str,
        src: Path,
        content_type: str | None = None,
        user_metadata: dict[str, str] | None = None,
        etag: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> ObjectInfo:
        """Move a completed file (normally under ``tmp``) to the object's key atomically."""
        self.require_bucket(bucket)
        path = self.object_path(bucket, key)
        if path.is_dir():
            raise InvalidKey(f"object key {key!r} is already used as a prefix of other objects")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidKey(f"object key {key!r} runs through an existing object") from exc
        except OSError as exc:
            raise _name_too_long(key, exc) from exc
        etag = etag or md5_file(src)
        try:
            os.replace(src, path)
        except OSError as exc:
            raise _name_too_long(key, exc) from exc
        stat = path.stat()
        info = ObjectInfo(
            bucket=bucket,
            key=key,
            size=stat.st_size,
            etag=etag,
            last_modified=stat.st_mtime,
            content_type=content_type or guess_content_type(key),
            user_metadata=dict(user_metadata or {}),
            extra=dict(extra or {}),
        )
        self._write_meta(info, stat.st_mtime_ns)
        return info

    def _write_meta(self, info: ObjectInfo, mtime_ns: int) -> None:
        meta_path = self._meta_path(info.bucket, info.key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "size": info.size,
            "mtime_ns": mtime_ns,
            "etag": info.etag,
            "content_type": info.content_type,
            "user_metadata": info.user_metadata,
            "extra": info.extra,
        }
        tmp = self.new_temp_path(".meta")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, meta_path)

    def head(self, bucket: str, key: str) -> ObjectInfo:
        self.require_bucket(bucket)
        path = self.object_path(bucket, key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise NoSuchKey(f"object {key!r} does not exist in bucket {bucket!r}") from None
        if not path.is_file():
            raise NoSuchKey(f"object {key!r} does not exist in bucket {bucket!r}")
        record = self._read_meta(bucket, key)
        if record and record.get("size") == stat.st_size and record.get("mtime_ns") == stat.st_mtime_ns:
            return ObjectInfo(
                bucket=bucket,
                key=key,
                size=stat.st_size,
                etag=record["etag"],
                last_modified=stat.st_mtime,
                content_type=record.get("content_type") or guess_content_type(key),
                user_metadata=record.get("user_metadata") or {},
                extra=record.get("extra") or {},
            )
        # The file was written behind our back (dropped into the bucket dir): describe it afresh.
        info = ObjectInfo(bucket, key, stat.st_size, md5_file(path), stat.st_mtime, guess_content_type(key))
        self._write_meta(info, stat.st_mtime_ns)
        return info

    def _read_meta(self, bucket: str, key: str) -> dict | None:
        try:
            return json.loads(self._meta_path(bucket, key).read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            return None

    def exists(self, bucket: str, key: str) -> bool:
        try:
            return self.object_path(bucket, key).is_file()
        except StorageError:
            return False

    def open(self, bucket: str, key: str) -> BinaryIO:
        self.head(bucket, key)
        return open(self.object_path(bucket, key), "rb")

    def read_bytes(self, bucket: str, key: str) -> bytes:
        with self.open(bucket, key) as fh:
            return fh.read()

    def delete(self, bucket: str, key: str) -> None:
        path = self.object_path(bucket, key)
        if not path.is_file():
            self.require_bucket(bucket)
            raise NoSuchKey(f"object {key!r} does not exist in bucket {bucket!r}")
        path.unlink()
        self._meta_path(bucket, key).unlink(missing_ok=True)
        _prune_empty_parents(path.parent, self.bucket_path(bucket))
        _prune_empty_parents(self._meta_path(bucket, key).parent, self.meta_root / bucket)

    def copy(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        content_type: str | None = None,
        user_metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        """Copy an object; metadata is kept unless new metadata is given (BOS "REPLACE" directive)."""
        src = self.head(src_bucket, src_key)
        self.require_bucket(dst_bucket)
        tmp = self.new_temp_path()
        try:
            shutil.copyfile(self.object_path(src_bucket, src_key), tmp)
            return self.commit_file(
                dst_bucket,
                dst_key,
                tmp,
                content_type or src.content_type,
                src.user_metadata if user_metadata is None else user_metadata,
                etag=src.etag,
                extra=src.extra,
            )
        finally:
            tmp.unlink(missing_ok=True)

    def iter_keys(self, bucket: str, prefix: str = "") -> Iterator[str]:
        """Every key in the bucket starting with ``prefix``, in lexicographic (UTF-8 byte) order."""
        root = self.require_bucket(bucket)
        keys = []
        for dirpath, _dirnames, filenames in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root)
            for name in filenames:
                key = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
                if key.startswith(prefix):
                    keys.append(key)
        keys.sort(key=lambda k: k.encode("utf-8"))
        return iter(keys)

    def list(
        self, bucket: str, prefix: str = "", marker: str = "", max_keys: int = 1000, delimiter: str = ""
    ) -> ListResult:
        """BOS ListObjects semantics: keys after ``marker``; keys past ``delimiter`` roll up to prefixes."""
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        last = ""
        marker_bytes = marker.encode("utf-8")
        for key in self.iter_keys(bucket, prefix):
            if marker and key.encode("utf-8") <= marker_bytes:
                continue
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if prefixes and prefixes[-1] == common:
                        continue
                    if marker and common.encode("utf-8") <= marker_bytes:
                        continue
                    if len(objects) + len(prefixes) >= max_keys:
                        return ListResult(objects, prefixes, True, last)
                    prefixes.append(common)
                    last = common
                    continue
            if len(objects) + len(prefixes) >= max_keys:
                return ListResult(objects, prefixes, True, last)
            try:
                objects.append(self.head(bucket, key))
            except NoSuchKey:  # deleted while listing
                continue
            last = key
        return ListResult(objects, prefixes, False, "")


def _chunks(data: bytes | BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        yield bytes(data)
    elif hasattr(data, "read"):
        while chunk := data.read(CHUNK):
            yield chunk
    else:
        yield from data


def _prune_empty_parents(directory: Path, stop: Path) -> None:
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
