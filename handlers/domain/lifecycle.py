"""Rules over a job's life, free of I/O. The SQL store states the same rules in SQL; the store contract tests
(tests/unit/handlers/store_contract.py) hold both to them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from handlers.domain.records import Job
from handlers.domain.statuses import CLAIMED, RETRYABLE, STATUS_RANK


def is_advance(current: str | None, new: str) -> bool:
    """Monotonic status updates: a status may replace only a status of lower rank (a late RUNNING never
    overwrites SUCCESS or FAILED)."""
    return current is None or STATUS_RANK[new] > STATUS_RANK[current]


def can_take_over(job: Job, now: datetime) -> bool:
    """A claim without a job id may be retried when its last create_job failed transiently or its lease ran out."""
    if job.job_id is not None:
        return False
    if job.status == RETRYABLE:
        return True
    return job.status == CLAIMED and job.lease_until is not None and job.lease_until < now


def all_final(jobs: Iterable[Job]) -> bool:
    return all(j.final for j in jobs)


def redelivery_delay(rounds: int, first: timedelta, longest: timedelta) -> timedelta:
    """Pause before the next round of attempts at an "upload done" event: first, then doubling, at most longest."""
    return min(first * (2 ** min(max(rounds - 1, 0), 30)), longest)
