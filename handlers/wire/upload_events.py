"""Wire format of upload events -> ObjectCreated.

Accepted shapes (reference events-and-templates §1, §5.1):
  BOS/CFC  {"events": [{"eventId", "eventTime", "eventType",
                         "content": {"bucket", "object", "eTag"|"etag", "filesize"}}]}
  S3-style {"Records": [{"eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name"}, "object": {"key", "eTag", "size"}}}]}
S3 keys are URL-encoded (unquote_plus). Whether BOS encodes `content.object` is [UNVERIFIED]: BOS_KEYS_ARE_ENCODED.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote_plus

from msgspec import Meta, Struct

from handlers.config.decoding import Invalid, decode

# [UNVERIFIED] no source says BOS URL-encodes content.object; bsam samples show plain keys. One switch, here.
BOS_KEYS_ARE_ENCODED = False

# BSAM accepts exactly these BOS event types for triggers (reference §1.4).
CREATE_EVENT_TYPES = frozenset({"PutObject", "PostObject", "CompleteMultipartUpload", "CopyObject", "AppendObject"})


# The log correlation id of an upload event (a JMESPath for Powertools' Logger): the BOS eventId, or S3's request id.
CORRELATION_ID_PATH = 'events[0].eventId || Records[0].responseElements."x-amz-request-id"'


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str
    etag: str
    size: int | None
    event_id: str
    event_time: str
    event_type: str


@dataclass(frozen=True)
class BadRecord:
    index: int
    reason: str


@dataclass(frozen=True)
class IgnoredRecord:
    index: int
    reason: str


NonEmpty = Annotated[str, Meta(min_length=1)]


class _Lenient(Struct, frozen=True):
    """Events carry more fields than we read: unknown ones are ignored."""


class BosContent(_Lenient, kw_only=True):
    bucket: NonEmpty
    object: NonEmpty
    eTag: str | None = None
    etag: str | None = None
    filesize: int | None = None


class BosEvent(_Lenient, kw_only=True):
    eventId: str = ""
    eventTime: str = ""
    eventType: str = "PutObject"
    content: BosContent


class S3Bucket(_Lenient, kw_only=True):
    name: NonEmpty


class S3Object(_Lenient, kw_only=True):
    key: NonEmpty
    eTag: str | None = None
    size: int | None = None
    sequencer: str | None = None


class S3Entity(_Lenient, kw_only=True):
    bucket: S3Bucket
    object: S3Object


class S3Record(_Lenient, kw_only=True):
    eventName: str = "ObjectCreated:Put"
    eventTime: str = ""
    s3: S3Entity
    responseElements: dict[str, Any] | None = None


class UnknownEventShape(ValueError):
    pass


def _first_error(where: str, exc: Invalid) -> str:
    problem = exc.problems[0]
    return f"{where}{'.' if problem.path else ''}{problem.path}: {problem.message}"


def _clean_etag(etag: str | None) -> str:
    return (etag or "").strip().strip('"')


def parse_upload_event(event: Any) -> list[ObjectCreated | BadRecord | IgnoredRecord]:
    """One entry per record, in order. Raises UnknownEventShape when the envelope itself is unrecognised."""
    if not isinstance(event, dict):
        raise UnknownEventShape(f"event must be a JSON object, got {type(event).__name__}")
    if isinstance(event.get("events"), list):
        return [_bos(i, rec) for i, rec in enumerate(event["events"])]
    if isinstance(event.get("Records"), list):
        return [_s3(i, rec) for i, rec in enumerate(event["Records"])]
    raise UnknownEventShape(
        f"expected a BOS event {{'events': [...]}} or an S3-style event {{'Records': [...]}}, got keys {sorted(event)}"
    )


def _bos(index: int, raw: Any) -> ObjectCreated | BadRecord | IgnoredRecord:
    try:
        ev: BosEvent = decode(raw, BosEvent)
    except Invalid as exc:
        return BadRecord(index, _first_error(f"events[{index}]", exc))
    if ev.eventType not in CREATE_EVENT_TYPES:
        return IgnoredRecord(index, f"eventType {ev.eventType!r} does not create an object")
    c = ev.content
    key = unquote_plus(c.object) if BOS_KEYS_ARE_ENCODED else c.object
    etag = _clean_etag(c.eTag or c.etag)
    if not etag:
        return BadRecord(index, f"events[{index}].content.eTag is missing; it tells one upload of a key from the next")
    event_id = ev.eventId or f"{c.bucket}/{key}#{etag}"
    return ObjectCreated(c.bucket, key, etag, c.filesize, event_id, ev.eventTime, ev.eventType)


def _s3(index: int, raw: Any) -> ObjectCreated | BadRecord | IgnoredRecord:
    try:
        rec: S3Record = decode(raw, S3Record)
    except Invalid as exc:
        return BadRecord(index, _first_error(f"Records[{index}]", exc))
    if not rec.eventName.startswith("ObjectCreated:"):
        return IgnoredRecord(index, f"eventName {rec.eventName!r} does not create an object")
    key = unquote_plus(rec.s3.object.key)
    etag = _clean_etag(rec.s3.object.eTag) or (rec.s3.object.sequencer or "")
    if not etag:
        return BadRecord(index, f"Records[{index}].s3.object.eTag is missing")
    event_id = (rec.responseElements or {}).get("x-amz-request-id") or f"{rec.s3.bucket.name}/{key}#{etag}"
    return ObjectCreated(rec.s3.bucket.name, key, etag, rec.s3.object.size, str(event_id), rec.eventTime, rec.eventName)
