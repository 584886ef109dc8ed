"""The in-memory twin of the MCT port (tests only; `autotranscode build` leaves handlers/testing out of the zip)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from handlers.adapters.mct_sdk import classify
from handlers.services.ports import MctError, MctNotFound
from handlers.wire.mct_views import JobView, snake

# What an object nobody described reads as: a 1080p clip with sound. Register None for "not media".
DEFAULT_MEDIAINFO: dict[str, Any] = {"type": "video", "video": {"widthInPixel": 1920, "heightInPixel": 1080},
                                     "audio": {"codec": "aac"}}  # fmt: skip


class MemoryMct:
    """Same port, in memory. Tests drive job states with `set_status` and inject failures with `fail_next`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.mediainfo: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._failures: list[MctError] = []
        self.calls = 0

    def fail_next(self, count: int = 1, *, status: int = 503, code: str = "ServiceUnavailable",
                  message: str = "injected failure") -> None:  # fmt: skip
        with self._lock:
            self._failures.extend(classify(status, code, message) for _ in range(count))

    def heal(self) -> None:
        """Drop the failures fail_next queued and not yet raised."""
        with self._lock:
            self._failures.clear()

    def _maybe_fail(self) -> None:
        with self._lock:
            self.calls += 1
            if self._failures:
                raise self._failures.pop(0)

    def create_job(self, pipeline: str, source: dict[str, Any], target: dict[str, Any]) -> str:
        self._maybe_fail()
        if not target.get("presetName"):
            raise MctError("target.presetName is required", status=400, code="InvalidArgument")
        if target["presetName"].startswith("missing"):
            raise MctNotFound("The requested preset does not exist", status=404, code="NoSuchPreset")
        job_id = f"job-mem{next(self._ids):013d}"
        with self._lock:
            self.jobs[job_id] = {"jobId": job_id, "pipelineName": pipeline, "source": source, "target": dict(target),
                                 "jobStatus": "PENDING", "kind": "transcode"}  # fmt: skip
        return job_id

    def create_thumbnail_job(self, pipeline, source, target, capture) -> str:
        self._maybe_fail()
        job_id = f"job-thm{next(self._ids):013d}"
        with self._lock:
            self.jobs[job_id] = {"jobId": job_id, "pipelineName": pipeline, "source": source,
                                 "target": dict(target or {}), "capture": capture or {}, "jobStatus": "PENDING",
                                 "kind": "thumbnail"}  # fmt: skip
        return job_id

    def set_status(self, job_id: str, status: str, *, output: dict | None = None, error: dict | None = None,
                   keys: list[str] | None = None) -> None:  # fmt: skip
        with self._lock:
            job = self.jobs[job_id]
            job["jobStatus"] = status
            if output is not None:
                job["output"] = output
            if error is not None:
                job["error"] = error
            if keys is not None:
                job["target"]["keys"] = keys

    def _get(self, job_id: str, kind: str) -> JobView:
        self._maybe_fail()
        job = self.jobs.get(job_id)
        if job is None or job["kind"] != kind:
            raise MctNotFound("The requested job does not exist", status=404, code="NoSuchJob")
        data = {k: v for k, v in job.items() if k != "kind"}
        return JobView.from_dict(data)

    def get_job(self, job_id: str) -> JobView:
        return self._get(job_id, "transcode")

    def get_thumbnail_job(self, job_id: str) -> JobView:
        return self._get(job_id, "thumbnail")

    def list_jobs(self, pipeline: str, thumbnail: bool, begin: str) -> list[dict[str, Any]]:
        self._maybe_fail()
        kind = "thumbnail" if thumbnail else "transcode"
        with self._lock:
            jobs = [j for j in self.jobs.values() if j["kind"] == kind and j["pipelineName"] == pipeline]
        return [snake({k: v for k, v in j.items() if k != "kind"}) for j in jobs]

    def get_mediainfo(self, bucket: str, key: str) -> dict[str, Any]:
        self._maybe_fail()
        info = self.mediainfo.get((bucket, key), DEFAULT_MEDIAINFO)
        if info is None:  # registered as not media (e.g. a text file)
            raise MctError("Get media info failed with errno: 1001", status=400,
                           code="MetaInfoExceptions.GetMediaInfoFailed")  # fmt: skip
        return snake(info)
