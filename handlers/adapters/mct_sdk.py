"""MCT through baidubce's MediaClient (the real SDK). Errors become MctError with `transient` saying whether trying
again can help (5xx, throttling, network)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from handlers.services.ports import MctError, MctNotFound
from handlers.wire.mct_views import JobView, snake

# HTTP statuses / error codes worth retrying. 429 and the *Throttl* codes are [INFERRED]: MCT's throttling code is
# not documented (reference mct-api §10); the SDK itself only retries 500/503/IOError/RequestExpired.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
TRANSIENT_CODES = frozenset({"RequestExpired", "InternalError", "ServiceUnavailable", "Throttling", "TooManyRequests"})


def classify(status: int | None, code: str | None, message: str) -> MctError:
    transient = (status in TRANSIENT_STATUSES) or bool(code and (code in TRANSIENT_CODES or "hrottl" in code))
    if status == 404 or "does not exist" in message:
        return MctNotFound(message, status=status, code=code)
    return MctError(message, status=status, code=code, transient=transient)


_first_cap = re.compile(r"(.)([A-Z][a-z]+)")
_number_cap = re.compile(r"([a-z])([0-9]{2,})")
_end_cap = re.compile(r"([a-z0-9])([A-Z])")


class SdkMct:
    """baidubce MediaClient behind the port. Build once per cold start."""

    def __init__(self, endpoint: str, access_key_id: str, secret_access_key: str, session_token: str | None = None,
                 timeout_seconds: float = 10) -> None:  # fmt: skip
        from handlers.adapters import sdk_imports

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
