"""Use-case: an MCT notification -> authoritative job state in the store (-> completion).

The callback is a hint, never the truth: we authenticate it, dedupe its messageId, then read the job with
get_job and record that through the same monotonic update the reconciler uses. Every answer is a `Verdict`;
handlers.wire.callback_http is the one place a verdict becomes an answer to the caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from handlers.domain.records import Job
from handlers.domain.statuses import CLAIMED, FINAL_STATUSES, KIND_THUMBNAIL, MCT_STATUSES
from handlers.logs import logger
from handlers.services import completion
from handlers.services.deps import Deps
from handlers.services.ports import MctError, MctNotFound
from handlers.services.retry import with_retries
from handlers.services.submit import submit_waiting_newer
from handlers.wire.mct_notification import MalformedNotification, parse_notification
from handlers.wire.mct_sign import constant_time_equal, verify_mct_notification
from handlers.wire.mct_views import JobView

# Pauses (seconds) before looking again for a job id we do not know while a submission is in flight (~1.5 s).
UNKNOWN_JOB_WAITS = (0.1, 0.2, 0.4, 0.8)

# What became of one callback. Recorded/duplicate/ignored/accepted are acknowledged; retry asks MCT to send it
# again; unauthorized/malformed refuse it.
RECORDED, DUPLICATE, IGNORED, ACCEPTED, RETRY = "recorded", "duplicate", "ignored", "accepted", "retry"
UNAUTHORIZED, MALFORMED = "unauthorized", "malformed"


@dataclass(frozen=True)
class Verdict:
    outcome: str
    job_id: str | None = None
    job_status: str | None = None  # RECORDED: the stored status
    reason: str | None = None
    field: str | None = None  # MALFORMED: the part of the notification at fault


def authenticate(deps: Deps, body: str, headers: dict[str, str], query: dict[str, str], now: float) -> str | None:
    """None when the request passes every configured check, else the reason."""
    cb = deps.config.callback
    if cb.sign_token is None and cb.url_token is None:
        return None if cb.allow_unauthenticated else "no callback auth configured (set callback.url_token/sign_token)"
    if cb.url_token is not None and not constant_time_equal(query.get("token"), cb.url_token.get_secret_value()):
        return "missing or wrong ?token= in the callback URL"
    if cb.sign_token is not None:
        reason = verify_mct_notification(
            cb.sign_token.get_secret_value(), cb.endpoint or "", body, headers, now, cb.sign_max_age_seconds
        )
        if reason:
            return reason
    return None


def read_job(deps: Deps, job: Job) -> JobView:
    m = deps.config.mct
    get = deps.mct.get_thumbnail_job if job.kind == KIND_THUMBNAIL else deps.mct.get_job
    assert job.job_id
    return with_retries(lambda: get(job.job_id), attempts=m.max_attempts, backoff=m.backoff_seconds, sleep=deps.sleep)


def apply_job_view(deps: Deps, job: Job, view: JobView) -> bool:
    """Monotonic update (a late RUNNING never overwrites SUCCESS/FAILED), then completion when final."""
    if view.status not in MCT_STATUSES:
        logger.warning("unknown job status ignored", extra={"job_id": job.job_id, "job_status": view.status})
        return False
    changed = deps.store.update_job_status(job.job_id or "", view.status, view.result(), deps.now())
    if changed:
        logger.info("job status", extra={"job_id": job.job_id, "job_status": view.status, "target": job.target})
    # Even when unchanged: a previous attempt may have died between the update and the completion.
    if view.status in FINAL_STATUSES:
        completion.maybe_complete(deps, job.upload_id)
        submit_waiting_newer(deps, job.upload_id)  # a newer version of the key may wait for this job's output
    return changed


def check_notification(
    deps: Deps, body: str, headers: dict[str, str] | None, query: dict[str, str] | None, now: float | None = None
) -> tuple[str, str | None] | Verdict:
    """Authentication and parsing: -> (job id, messageId) or the Verdict refusing the request. (The body size limit
    is the transport's: handlers.wire.callback_http.)"""
    headers, query = headers or {}, query or {}
    reason = authenticate(deps, body, headers, query, time.time() if now is None else now)
    if reason:
        logger.warning("callback rejected", extra={"reason": reason})
        return Verdict(UNAUTHORIZED, reason=reason)
    try:
        message, message_id = parse_notification(body)
    except MalformedNotification as exc:
        return Verdict(MALFORMED, reason=exc.message, field=exc.field)
    return message["jobId"], message_id


def handle_notification(
    deps: Deps, body: str, headers: dict[str, str] | None, query: dict[str, str] | None, now: float | None = None
) -> Verdict:
    """The whole callback inside one request (the CFC function): check, then verify with get_job and record."""
    checked = check_notification(deps, body, headers, query, now)
    if isinstance(checked, Verdict):
        return checked
    job_id, message_id = checked
    # Thread-safe keys: one process may handle several callbacks at once (localcloud, tests).
    logger.thread_safe_append_keys(correlation_id=job_id)
    try:
        return _record(deps, job_id, message_id)
    finally:
        logger.thread_safe_remove_keys(["correlation_id"])


def submissions_in_flight(deps: Deps) -> bool:
    """Some claim is between create_job and storing its job id, under a live lease."""
    now = deps.now()
    claimed = deps.store.list_jobs(status=CLAIMED, limit=50)
    return any(j.job_id is None and j.lease_until is not None and j.lease_until > now for j, _ in claimed)


def _wait_for_job(deps: Deps, job_id: str) -> Job | None:
    """The stored job; while submissions are in flight, wait a little for this one to appear."""
    job = deps.store.get_job(job_id)
    for delay in UNKNOWN_JOB_WAITS:
        if job is not None or not submissions_in_flight(deps):
            break
        deps.sleep(delay)
        job = deps.store.get_job(job_id)
    return job


def verify(deps: Deps, job_id: str, job: Job | None) -> Verdict:
    """Read the job from MCT (the truth) and record it; `job` is the stored job with this MCT id, if any."""
    if job is None:
        if submissions_in_flight(deps):
            # Maybe ours: a fast job's callback can overtake the function storing its id.
            return Verdict(RETRY, job_id, reason="job not recorded yet (a submission is in flight)")
        # Not ours (another app on the same pipeline) or unknown.
        return Verdict(IGNORED, job_id, reason="job was not created by autotranscode")
    if job.status in FINAL_STATUSES:
        # Final in the store means final in MCT (SUCCESS/FAILED never change): a redelivery, no get_job needed.
        # Completion again anyway: a previous attempt may have died between the update and the completion.
        completion.maybe_complete(deps, job.upload_id)
        return Verdict(RECORDED, job_id, job.status)
    try:
        view = read_job(deps, job)
    except MctNotFound:
        return Verdict(IGNORED, job_id, reason="MCT does not know this job")
    except MctError as exc:
        logger.warning("get_job failed", extra={"job_id": job_id, "error": str(exc)})
        return Verdict(RETRY, job_id, reason="could not read the job from MCT")
    changed = apply_job_view(deps, job, view)
    # Unchanged: the store already held this status or a later one (monotonic update), so read it back.
    current = None if changed else deps.store.get_job(job_id)
    return Verdict(RECORDED, job_id, view.status if current is None else current.status)


def _record(deps: Deps, job_id: str, message_id: str | None) -> Verdict:
    if message_id and deps.store.message_seen(message_id):
        return Verdict(DUPLICATE, job_id)
    verdict = verify(deps, job_id, _wait_for_job(deps, job_id))
    # RETRY: let MCT retry; the reconciler is the safety net if it does not. IGNORED: acknowledged so MCT stops.
    if verdict.outcome == RECORDED and message_id:
        deps.store.remember_message(message_id, deps.now())
    return verdict
