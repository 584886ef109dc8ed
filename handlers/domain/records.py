"""What the store holds: uploads, jobs (claims), downstream deliveries (and each attempt), callback hints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers.domain.clock import utcnow
from handlers.domain.statuses import CLAIMED, FINAL_STATUSES, UPLOAD_OPEN


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    etag: str
    rule: str
    expected_jobs: int
    skipped: list[dict[str, Any]] = field(default_factory=list)
    status: str = UPLOAD_OPEN
    created_at: datetime = field(default_factory=utcnow)
    done_at: datetime | None = None
    redrives: int = 0  # how many times a redrive reopened it after it was done: its event's attempt is this + 1


@dataclass(frozen=True)
class Job:
    claim_id: str
    upload_id: str
    target: str
    kind: str
    request: dict[str, Any]
    status: str = CLAIMED
    job_id: str | None = None
    attempts: int = 1
    result: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None
    lease_until: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class Delivery:
    upload_id: str
    status: str
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    updated_at: datetime = field(default_factory=utcnow)
    next_attempt_at: datetime | None = None  # FAILED: when the reconciler tries again; None: not scheduled


@dataclass(frozen=True)
class ObjectVersion:
    """One version (etag) of an object key, in the order the store recorded them. An upload is recorded before
    its version is checked against BOS, so among the versions that pass the check, a greater seq is a newer object."""

    upload_id: str
    seq: int
    superseded_by: str | None = None  # the etag that replaced this version at the key, once found out


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of the "upload done" event: when, the HTTP status (None: no answer), the error, the body as sent."""

    upload_id: str
    attempt: int
    sent_at: datetime
    status_code: int | None
    error: str | None
    event: str


@dataclass(frozen=True)
class Hint:
    """A pending callback hint: "job_id was reported changed; verify it with get_job" (asynchronous webhook)."""

    job_id: str
    seq: int  # bumped by every accepted callback for this job while the hint is pending
    received_at: datetime  # first accepted callback of this pending hint
    attempts: int = 0  # how many times the verifier deferred it
    not_before: datetime | None = None  # earliest next check; None -> received_at

    def __post_init__(self) -> None:
        if self.not_before is None:
            object.__setattr__(self, "not_before", self.received_at)
