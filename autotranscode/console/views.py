"""What the console pages show, computed from store records (no I/O, no HTML: the templates escape everything)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers.domain.records import Job, Upload
from handlers.domain.statuses import FAILED, KIND_THUMBNAIL, SUBMIT_FAILED, SUCCESS, UPLOAD_DONE

# Upload filter values (the list page's status select) -> (store status, outcome it must have or None).
UPLOAD_FILTERS = {
    "": (None, None),
    "open": ("OPEN", None),
    "done": (UPLOAD_DONE, None),
    "failed": (UPLOAD_DONE, "failed"),  # done, and at least one job did not succeed
}

HLS_EXTENSIONS = (".m3u8",)
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".webm", ".mov")


@dataclass
class UploadRow:
    upload: Upload
    outcome: str  # "in progress" | "success" | "partial" | "failed" | "skipped"
    counts: list[tuple[str, int]]  # (job status, how many), in a stable order
    received: datetime
    first_done: datetime | None
    all_done: datetime | None

    @property
    def upload_id(self) -> str:
        return self.upload.upload_id


@dataclass
class Media:
    bucket: str
    key: str


@dataclass
class JobRow:
    job: Job
    preset: str | None
    output_key: str | None  # transcode: the rendition; thumbnail: the key prefix
    bucket: str
    started: str | None
    ended: str | None
    error_code: str | None
    error_message: str | None
    width: Any = None
    height: Any = None
    bitrate_kbps: Any = None
    size_kb: Any = None
    duration_s: Any = None
    frame_rate: Any = None
    thumbnails: list[Media] = field(default_factory=list)

    @property
    def is_hls(self) -> bool:
        return bool(self.output_key) and self.output_key.lower().endswith(HLS_EXTENSIONS)

    @property
    def is_video(self) -> bool:
        return bool(self.output_key) and self.output_key.lower().endswith(VIDEO_EXTENSIONS)

    @property
    def playable(self) -> bool:
        return self.job.status == SUCCESS and self.job.kind != KIND_THUMBNAIL and (self.is_hls or self.is_video)


def outcome(upload: Upload, jobs: list[Job]) -> str:
    if upload.status != UPLOAD_DONE:
        return "in progress"
    if not jobs:
        return "skipped"
    ok = sum(1 for j in jobs if j.status == SUCCESS)
    return "success" if ok == len(jobs) else ("failed" if ok == 0 else "partial")


def upload_row(upload: Upload, jobs: list[Job]) -> UploadRow:
    counts = Counter(j.status for j in jobs)
    order = ["CLAIMED", "RETRYABLE", "PENDING", "RUNNING", SUCCESS, FAILED, SUBMIT_FAILED]
    final_times = sorted(j.updated_at for j in jobs if j.final)
    return UploadRow(
        upload=upload,
        outcome=outcome(upload, jobs),
        counts=[(s, counts[s]) for s in order if counts[s]],
        received=upload.created_at,
        first_done=final_times[0] if final_times else None,
        all_done=upload.done_at,
    )


def wanted(row: UploadRow, filter_name: str) -> bool:
    """The part of a status filter the store cannot answer (the outcome)."""
    _, must = UPLOAD_FILTERS.get(filter_name, (None, None))
    return must is None or (must == "failed" and row.outcome in ("failed", "partial"))


def _num(value: Any) -> Any:
    """MCT reports some numbers as strings ("608.36"); show them as numbers, anything else as it came."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def job_row(job: Job, upload: Upload) -> JobRow:
    target = job.request.get("target") or {}
    result = job.result or {}
    bucket = result.get("target_bucket") or target.get("targetBucket") or upload.bucket
    error = result.get("error") or {}
    if job.status in (FAILED, SUBMIT_FAILED) and not error and job.last_error:
        error = {"code": job.status, "message": job.last_error}
    output = result.get("output") or {}
    video = output.get("video") or {}
    row = JobRow(
        job=job,
        preset=target.get("presetName"),
        output_key=target.get("targetKey") or target.get("keyPrefix"),
        bucket=bucket,
        started=result.get("start_time"),
        ended=result.get("end_time"),
        error_code=error.get("code"),
        error_message=error.get("message"),
        width=video.get("width_in_pixel"),
        height=video.get("height_in_pixel"),
        bitrate_kbps=_num(output.get("bit_rate_in_k_bps")),
        size_kb=_num(video.get("size_in_kilo_byte")),
        duration_s=_num(video.get("duration_in_seconds")),
        frame_rate=_num(video.get("frame_rate")),
    )
    if job.kind == KIND_THUMBNAIL:
        row.thumbnails = [Media(bucket, key) for key in result.get("keys") or []]
    return row


def hls_master_key(events: list[str]) -> str | None:
    """The master playlist the done event named (`playback.hls.key`), from the newest event sent."""
    for text in reversed(events):
        try:
            playback = (json.loads(text).get("playback") or {}).get("hls") or {}
        except (ValueError, AttributeError):
            continue
        if isinstance(playback, dict) and playback.get("key"):
            return str(playback["key"])
    return None


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    seconds = (end - start).total_seconds()
    return f"+{seconds:.1f} s" if seconds < 120 else f"+{seconds / 60:.1f} min"
