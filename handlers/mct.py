"""MCT port: the four calls the functions make, over the real SDK (SdkMct) or in memory (MemoryMct, unit tests).

Results are plain snake_case dicts (the SDK's Expando objects converted; callback bodies are camelCase and go
through `snake()` the same way), so domain code never touches SDK types. Errors become MctError with
`transient` saying whether trying again can help (5xx, throttling, network).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# HTTP statuses / error codes worth retrying. 429 and the *Throttl* codes are [INFERRED]: MCT's throttling code is
# not documented (reference mct-api §10); the SDK itself only retries 500/503/IOError/RequestExpired.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
TRANSIENT_CODES = frozenset({"RequestExpired", "InternalError", "ServiceUnavailable", "Throttling", "TooManyRequests"})


class MctError(Exception):
    def __init__(self, message: str, *, status: int | None = None, code: str | None = None, transient: bool = False):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.transient = transient

    def __str__(self) -> str:
        parts = [self.message]
        if self.status or self.code:
            parts.append(f"(HTTP {self.status}, code {self.code})")
        return " ".join(parts)


class MctNotFound(MctError):
    pass


def classify(status: int | None, code: str | None, message: str) -> MctError:
    transient = (status in TRANSIENT_STATUSES) or bool(code and (code in TRANSIENT_CODES or "hrottl" in code))
    if status == 404 or "does not exist" in message:
        return MctNotFound(message, status=status, code=code)
    return MctError(message, status=status, code=code, transient=transient)


_first_cap = re.compile(r"(.)([A-Z][a-z]+)")
_number_cap = re.compile(r"([a-z])([0-9]{2,})")
_end_cap = re.compile(r"([a-z0-9])([A-Z])")


@functools.lru_cache(maxsize=1024)  # the same few dozen field names on every response: three regexes each
def pythonize(name: str) -> str:
    """The SDK's camelCase -> snake_case rule (baidubce.utils.pythonize_name), so both sources agree."""
    if name == "eTag":
        return "etag"
    return _end_cap.sub(r"\1_\2", _number_cap.sub(r"\1_\2", _first_cap.sub(r"\1_\2", name))).lower()


def snake(value: Any) -> Any:
    """camelCase dicts / SDK Expando objects -> snake_case plain dicts, recursively."""
    if isinstance(value, dict):
        return {pythonize(str(k)): snake(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [snake(v) for v in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {pythonize(k): snake(v) for k, v in vars(value).items() if k != "metadata" and not k.startswith("_")}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


@dataclass(frozen=True)
class JobView:
    """What we read from a job (transcoding or thumbnail)."""

    job_id: str
    status: str
    error: dict[str, Any] | None = None
    output: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobView:
        d = snake(data)
        target = d.get("target") or {}
        return cls(
            job_id=str(d.get("job_id") or ""),
            status=str(d.get("job_status") or "").upper(),
            error=d.get("error") or None,
            output=d.get("output") or {},
            target=target,
            keys=list(target.get("keys") or []),
            raw=d,
        )

    def result(self) -> dict[str, Any]:
        """The part we store and send downstream."""
        out: dict[str, Any] = {"status": self.status}
        for name in ("create_time", "start_time", "end_time"):
            if self.raw.get(name):
                out[name] = self.raw[name]
        if self.output:
            out["output"] = self.output
        if self.error:
            out["error"] = self.error
        if self.keys:
            out["keys"] = self.keys
        if self.target.get("target_bucket"):  # where MCT actually wrote (the pipeline's target bucket by default)
            out["target_bucket"] = self.target["target_bucket"]
        return out


class MctPort(Protocol):
    def create_job(self, pipeline: str, source: dict[str, Any], target: dict[str, Any]) -> str: ...
    def create_thumbnail_job(
        self, pipeline: str, source: dict[str, Any], target: dict[str, Any] | None, capture: dict[str, Any] | None
    ) -> str: ...
    def get_job(self, job_id: str) -> JobView: ...
    def get_thumbnail_job(self, job_id: str) -> JobView: ...
    def get_mediainfo(self, bucket: str, key: str) -> dict[str, Any]: ...
    def list_jobs(self, pipeline: str, thumbnail: bool, begin: str) -> list[dict[str, Any]]: ...


def mct_time(moment: datetime) -> str:
    """MCT's time format for list filters (``begin``/``end``): UTC, seconds, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def with_retries(
    call: Callable[[], T], *, attempts: int, backoff: float, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run `call`, retrying transient MctErrors with exponential backoff (backoff, 2*backoff, ...)."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except MctError as exc:
            if not exc.transient or attempt == attempts:
                raise
            sleep(backoff * (2 ** (attempt - 1)))
    raise AssertionError("unreachable")


# --- the real SDK -----------------------------------------------------------------------------------------------------


class SdkMct:
    """baidubce MediaClient behind the port. Build once per cold start."""

    def __init__(self, endpoint: str, access_key_id: str, secret_access_key: str, session_token: str | None = None,
                 timeout_seconds: float = 10) -> None:  # fmt: skip
        from handlers import sdk_imports

        sdk_imports.prepare()
        from baidubce.auth.bce_credentials import BceCredentials
        from baidubce.bce_client_configuration import BceClientConfiguration
        from baidubce.retry.retry_policy import NoRetryPolicy
        from baidubce.services.media.media_client import MediaClient

        config = BceClientConfiguration(
            credentials=BceCredentials(access_key_id, secret_access_key),
            endpoint=endpoint,
            security_token=session_token,
            connection_timeout_in_mills=int(timeout_seconds * 1000),
            # We retry in with_retries (one place, with our own classification), not inside the SDK too.
            retry_policy=NoRetryPolicy(),
        )
        self.client = MediaClient(config)

    def _call(self, fn: Callable[[], Any]) -> Any:
        from baidubce.exception import BceError, BceHttpClientError, BceServerError

        try:
            return fn()
        except BceHttpClientError as exc:
            last = exc.last_error
            if isinstance(last, BceServerError):
                raise classify(last.status_code, last.code, str(last)) from None
            # Network-level failure (refused, reset, timeout): worth retrying.
            raise MctError(f"MCT unreachable: {last!r}", transient=True) from None
        except BceServerError as exc:
            raise classify(exc.status_code, exc.code, str(exc)) from None
        except BceError as exc:
            raise MctError(f"MCT client error: {exc}") from None
        except OSError as exc:
            raise MctError(f"MCT unreachable: {exc!r}", transient=True) from None

    def create_job(self, pipeline: str, source: dict[str, Any], target: dict[str, Any]) -> str:
        return _job_id(self._call(lambda: self.client.create_job(pipeline, source, target)))

    def create_thumbnail_job(self, pipeline, source, target, capture) -> str:
        return _job_id(self._call(lambda: self.client.create_thumbnail_job(pipeline, source, target, capture)))

    def get_job(self, job_id: str) -> JobView:
        return JobView.from_dict(_body(self._call(lambda: self.client.get_job(job_id))))

    def get_thumbnail_job(self, job_id: str) -> JobView:
        return JobView.from_dict(_body(self._call(lambda: self.client.get_thumbnail_job(job_id))))

    def get_mediainfo(self, bucket: str, key: str) -> dict[str, Any]:
        return _body(self._call(lambda: self.client.get_mediainfo_of_file(bucket, key)))

    def list_jobs(self, pipeline: str, thumbnail: bool, begin: str) -> list[dict[str, Any]]:
        if thumbnail:
            body = _body(self._call(lambda: self.client.list_thumbnail_jobs_by_pipeline(pipeline, begin=begin)))
            return list(body.get("thumbnails") or [])
        return list(_body(self._call(lambda: self.client.list_jobs(pipeline, begin=begin))).get("jobs") or [])


def _body(resp: Any) -> dict[str, Any]:
    """The response JSON as snake_case dict: from the SDK's raw_data (exact server JSON) when present."""
    raw = getattr(resp, "raw_data", None)
    if isinstance(raw, str | bytes) and raw:
        try:
            data = json.loads(raw)
            if isinstance(data, dict):
                return snake(data)
        except ValueError:
            pass
    data = snake(resp)
    for noise in ("raw_data", "status_code", "metadata"):
        data.pop(noise, None)
    return data


def _job_id(resp: Any) -> str:
    # Expando returns None for unknown attributes, so hasattr() is always True: read both spellings.
    job_id = _body(resp).get("job_id")
    if not job_id:
        raise MctError(f"MCT answered without a jobId: {getattr(resp, 'raw_data', resp)!r}")
    return str(job_id)


# --- in-memory twin ---------------------------------------------------------------------------------------------------


class MemoryMct:
    """Same port, in memory. Tests drive job states with `set_status` and inject failures with `fail_next`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.mediainfo: dict[tuple[str, str], dict[str, Any]] = {}
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
        info = self.mediainfo.get((bucket, key))
        if info is None:
            raise MctError("Get media info failed with errno: 1001", status=400,
                           code="MetaInfoExceptions.GetMediaInfoFailed")  # fmt: skip
        return snake(info)
