"""The downstream "upload done" event: its JSON shape and its HMAC-SHA256 signature. `verify_downstream_signature`
is what users import in their own app."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.domain.records import Job, ObjectVersion, Upload
from handlers.domain.statuses import KIND_THUMBNAIL, SUCCESS, SUPERSEDED
from handlers.wire.bce_time import bce_time
from handlers.wire.mct_sign import header

# Downstream event headers.
HEADER_TIMESTAMP = "X-Autotranscode-Timestamp"
HEADER_SIGNATURE = "X-Autotranscode-Signature"
SIGNATURE_VERSION = "v1"

EVENT_TYPE = "autotranscode.upload.done"


def sign_downstream(secret: str, body: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def downstream_headers(secret: str | None, body: str, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": "application/json", HEADER_TIMESTAMP: str(ts)}
    if secret:
        headers[HEADER_SIGNATURE] = sign_downstream(secret, body, ts)
    return headers


def verify_downstream_signature(
    secret: str, headers: Mapping[str, str], body: str | bytes, now: float | None = None, window: int = 300
) -> bool:
    """For the receiving app: True when the "upload done" event is authentic and recent.

    `headers` may use any casing; `body` is the raw request body; `window` bounds clock skew / replay (seconds).
    """
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    ts_text, sig = header(headers, HEADER_TIMESTAMP), header(headers, HEADER_SIGNATURE)
    if not ts_text or not sig or not ts_text.strip().lstrip("-").isdigit():
        return False
    ts = int(ts_text.strip())
    now = time.time() if now is None else now
    if abs(now - ts) > window:
        return False
    expected = sign_downstream(secret, body, ts)
    # A receiver may get several comma-separated signatures during secret rotation.
    return any(hmac.compare_digest(expected, part.strip()) for part in sig.split(","))


def event_id(upload: Upload) -> str:
    """The id of one outcome of an upload: the same for every redelivery of that outcome (dedupe on it), a new one
    after a redrive reopened it (a new outcome of the same upload)."""
    basis = f"{upload.upload_id}|{upload.redrives}"
    return "evt-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


def build_event(
    upload: Upload, jobs: list[Job], hls_master: dict[str, Any] | None = None, version: ObjectVersion | None = None
) -> dict[str, Any]:
    """The event of one version of an object (upload.etag); `hls_master` ({"bucket", "key", "variants"}) names the
    adaptive-bitrate master playlist. `version` (when the store tracks versions): its number among the key's
    versions, and the etag that replaced it at the key, if any: then status is SUPERSEDED and the outputs (when there
    are any) may already hold the newer version's renditions."""
    outputs, thumbnails, errors = [], [], []
    for j in jobs:
        target = j.request.get("target", {})
        entry: dict[str, Any] = {"target": j.target, "job_id": j.job_id, "status": j.status}
        if j.kind == KIND_THUMBNAIL:
            entry.update(
                bucket=target.get("targetBucket") or j.result.get("target_bucket"),
                key_prefix=target.get("keyPrefix"),
                format=target.get("format"),
                keys=j.result.get("keys", []),
            )
            thumbnails.append(entry)
        else:
            entry.update(
                preset=target.get("presetName"),
                bucket=target.get("targetBucket") or j.result.get("target_bucket"),
                key=target.get("targetKey"),
                output=j.result.get("output", {}),
            )
            if j.request.get("note"):  # a planning choice, e.g. the portrait preset used
                entry["note"] = j.request["note"]
            outputs.append(entry)
        if j.status not in (SUCCESS, SUPERSEDED):
            err = j.result.get("error") or {"code": j.status, "message": j.last_error or "job did not succeed"}
            errors.append({"target": j.target, "job_id": j.job_id, **err})
    if not jobs:  # nothing was made (e.g. the source is not media): say why
        errors = [{"target": s.get("target"), "code": s.get("code") or "SKIPPED", "message": s.get("reason")}
                  for s in upload.skipped]  # fmt: skip
    ok = sum(1 for j in jobs if j.status == SUCCESS)
    status = "SUCCESS" if jobs and ok == len(jobs) else ("FAILED" if ok == 0 else "PARTIAL")
    superseded_by = version.superseded_by if version is not None else None
    if superseded_by is not None:
        status = SUPERSEDED
    attempt = upload.redrives + 1
    event: dict[str, Any] = {
        "type": EVENT_TYPE,
        "version": 1,
        "id": event_id(upload),
        "attempt": attempt,
        "status": status,
        "upload": {
            "id": upload.upload_id,
            "bucket": upload.bucket,
            "key": upload.key,
            "etag": upload.etag,
            "rule": upload.rule,
            "created_at": bce_time(upload.created_at),
            "done_at": bce_time(upload.done_at),
            "version": version.seq if version is not None else None,
            "superseded_by": superseded_by,
        },
        "outputs": outputs,
        "thumbnails": thumbnails,
        "skipped": upload.skipped,
        "errors": errors,
    }
    if hls_master:
        event["playback"] = {"hls": hls_master}
    return event


@dataclass(frozen=True)
class AppAnswer:
    delivered: bool  # 2xx
    give_up: bool  # a 4xx other than 408/429: trying again now will not help
    error: str | None  # what to record when not delivered


def app_answer(status_code: int | None, error: str | None = None) -> AppAnswer:
    """What the user's app answered to the event (None: no answer, `error` says why)."""
    if status_code is not None and 200 <= status_code < 300:
        return AppAnswer(True, False, None)
    give_up = status_code is not None and 400 <= status_code < 500 and status_code not in (408, 429)
    return AppAnswer(False, give_up, error or f"HTTP {status_code}")
