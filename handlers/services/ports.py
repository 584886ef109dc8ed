"""The ports the use-cases talk to: the store (a small repository), MCT (see handlers.adapters.mct_sdk) and BOS
(see handlers.adapters.bos_sdk: the sweep's listing and the version check)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from handlers.domain.records import Delivery, DeliveryAttempt, Hint, Job, ObjectVersion, Upload
from handlers.wire.mct_views import JobView

T = TypeVar("T")


class Store(Protocol):
    def ensure_upload(self, upload: Upload) -> Upload: ...
    def get_upload(self, upload_id: str) -> Upload | None: ...
    def claim(self, job: Job, now: datetime, lease: timedelta) -> tuple[Job, bool]: ...
    def record_submitted(self, claim_id: str, job_id: str, now: datetime) -> None: ...
    def record_submit_failed(self, claim_id: str, error: str, retryable: bool, now: datetime) -> None: ...
    def record_superseded(self, claim_id: str, reason: str, now: datetime) -> None: ...
    def get_job(self, job_id: str) -> Job | None: ...
    def get_claim(self, claim_id: str) -> Job | None: ...
    def jobs_for_upload(self, upload_id: str) -> list[Job]: ...
    def final_job_count(self, upload_id: str) -> tuple[int, int]: ...  # (jobs of the upload, how many are final)
    def update_job_status(self, job_id: str, status: str, result: dict[str, Any], now: datetime) -> bool: ...
    def reset_for_redrive(self, claim_id: str, now: datetime) -> bool:
        """In ONE transaction: a FAILED/SUBMIT_FAILED claim back to RETRYABLE (no job id, no result), its upload
        reopened and its delivery (if any) PENDING again. False (nothing changed) for any other status."""
        ...

    def mark_upload_done(self, upload_id: str, now: datetime) -> bool: ...
    def reopen_upload(self, upload_id: str) -> None:
        """A DONE upload back to OPEN (done_at cleared, redrives + 1); nothing for an OPEN one."""
        ...

    def remember_message(self, message_id: str, now: datetime) -> bool: ...
    def message_seen(self, message_id: str) -> bool: ...
    def stale_jobs(self, older_than: datetime, limit: int) -> list[Job]: ...
    def unsubmitted_claims(self, now: datetime, limit: int) -> list[Job]: ...
    def list_jobs(
        self, status: str | None = None, since: datetime | None = None, bucket: str | None = None,
        key_prefix: str | None = None, limit: int = 100,
    ) -> list[tuple[Job, Upload]]: ...  # fmt: skip
    def ensure_delivery(self, upload_id: str, now: datetime) -> Delivery: ...
    def record_delivery(self, delivery: Delivery) -> None: ...
    def get_delivery(self, upload_id: str) -> Delivery | None: ...
    def undelivered(self, older_than: datetime, limit: int) -> list[Delivery]: ...
    def add_delivery_attempt(self, attempt: DeliveryAttempt) -> None: ...
    def delivery_attempts(self, upload_id: str) -> list[DeliveryAttempt]: ...  # oldest first
    def list_uploads(
        self, status: str | None = None, since: datetime | None = None, bucket: str | None = None,
        key_prefix: str | None = None, limit: int = 100,
    ) -> list[Upload]: ...  # newest first  # fmt: skip
    def due_deliveries(
        self, now: datetime, pending_before: datetime, limit: int, sending_before: datetime | None = None
    ) -> list[Delivery]:
        """FAILED deliveries whose next_attempt_at (if none: updated_at) <= now, PENDING ones unchanged since
        pending_before, and SENDING ones unchanged since sending_before (their sender died; None: not those);
        oldest updated_at first. DELIVERED and EXPIRED ones never."""
        ...

    def claim_delivery(self, seen: Delivery, now: datetime) -> bool:
        """Take the delivery for sending: SENDING with updated_at=now, only if it still has the status and attempt
        count of `seen` (one conditional update: of callers that read the same row, exactly one wins)."""
        ...

    # the sweep
    def existing_uploads(self, upload_ids: list[str]) -> set[str]:
        """Which of these upload ids have a record."""
        ...

    def sweep_marker(self, cursor_id: str) -> str | None: ...
    def set_sweep_marker(self, cursor_id: str, marker: str | None, now: datetime) -> None: ...
    # object versions
    def record_version(self, upload_id: str, bucket: str, key: str) -> ObjectVersion:
        """In ONE transaction: the upload's version of (bucket, key), numbered 1, 2, ... in the order recorded;
        recording it again returns the same number."""
        ...

    def get_version(self, upload_id: str) -> ObjectVersion | None: ...
    def object_versions(self, bucket: str, key: str) -> list[ObjectVersion]:
        """Every recorded version of the key, by seq."""
        ...

    def mark_superseded(self, upload_id: str, by_etag: str) -> bool:
        """Set superseded_by once; False when it was already set."""
        ...

    # callback hints (asynchronous webhook)
    def accept_hints(self, hints: list[tuple[str, str | None]], now: datetime) -> list[bool]:
        """Record (job_id, message_id or None) hints in ONE transaction; one bool per input, in order.
        False: a duplicate message id (remembered before, or earlier in this batch); nothing recorded for it.
        True: the message id is remembered and job_id has a pending hint (new: seq=1, attempts=0,
        received_at=not_before=now; already pending: seq+1, not_before=now)."""
        ...

    def due_hints(self, now: datetime, limit: int) -> list[Hint]:
        """Pending hints with not_before <= now, oldest received_at first."""
        ...

    def finish_hints(self, done: list[tuple[str, int]]) -> None:
        """Delete each (job_id, seq) hint only if its seq is still that seq (one transaction)."""
        ...

    def defer_hint(self, job_id: str, seq: int, not_before: datetime) -> bool:
        """attempts+1 and a new not_before, only if seq still matches; True if updated."""
        ...

    def get_jobs(self, job_ids: list[str]) -> dict[str, Job]:
        """Stored jobs by MCT job id; unknown ids are absent."""
        ...


# --- MCT ----------------------------------------------------------------------------------------------------------


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


class MctPort(Protocol):
    def create_job(self, pipeline: str, source: dict[str, Any], target: dict[str, Any]) -> str: ...
    def create_thumbnail_job(
        self, pipeline: str, source: dict[str, Any], target: dict[str, Any] | None, capture: dict[str, Any] | None
    ) -> str: ...
    def get_job(self, job_id: str) -> JobView: ...
    def get_thumbnail_job(self, job_id: str) -> JobView: ...
    def get_mediainfo(self, bucket: str, key: str) -> dict[str, Any]: ...
    def list_jobs(self, pipeline: str, thumbnail: bool, begin: str) -> list[dict[str, Any]]: ...


# --- BOS -----------------------------------------------------------------------------------------------------------


class BosError(Exception):
    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class ListedObject:
    key: str
    etag: str  # without quotes, as upload events carry it
    size: int
    last_modified: datetime  # naive UTC


@dataclass(frozen=True)
class ObjectPage:
    objects: list[ListedObject]
    next_marker: str | None  # None: this was the last page


class BosPort(Protocol):
    # HLS master playlists (handlers.services.playback)
    def get_text(self, bucket: str, key: str) -> str: ...
    def sizes(self, bucket: str, prefix: str) -> dict[str, int]: ...  # key -> bytes of every object under prefix
    def put_text(self, bucket: str, key: str, text: str, content_type: str) -> None: ...
    # the sweep and the version check (they raise BosError)
    def list_objects(self, bucket: str, prefix: str, marker: str | None, max_keys: int) -> ObjectPage:
        """One page of keys after `marker`, in key order."""
        ...

    def current_etag(self, bucket: str, key: str) -> str | None:
        """The etag of the object now stored at the key; None when there is none."""
        ...
