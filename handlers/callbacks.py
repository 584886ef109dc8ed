"""Use-case: an MCT notification -> authoritative job state in the store (-> completion).

The callback is a hint, never the truth: we authenticate it, dedupe its messageId, then read the job with
get_job and record that through the same monotonic update the reconciler uses.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from handlers import completion
from handlers.logs import logger
from handlers.mct import JobView, MctError, MctNotFound, with_retries
from handlers.runtime import Deps
from handlers.signing import constant_time_equal, verify_mct_notification
from handlers.store import CLAIMED, FINAL_STATUSES, KIND_THUMBNAIL, MCT_STATUSES, Job

# Pauses (seconds) before looking again for a job id we do not know while a submission is in flight (~1.5 s).
UNKNOWN_JOB_WAITS = (0.1, 0.2, 0.4, 0.8)


@dataclass
class Outcome:
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)


def _problem(status: int, error: str, message: str, field_name: str | None = None) -> Outcome:
    body: dict[str, Any] = {"error": error, "message": message}
    if field_name:
        body["field"] = field_name
    return Outcome(status, body)


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


def parse_notification(body: str) -> tuple[dict[str, Any], str | None] | Outcome:
    """-> (messageBody as a dict, messageId) or a 400 Outcome naming the field."""
    try:
        outer = json.loads(body)
    except json.JSONDecodeError as exc:
        return _problem(400, "bad_request", f"body is not JSON: {exc.msg} at position {exc.pos}", "body")
    if not isinstance(outer, dict):
        return _problem(400, "bad_request", "body must be a JSON object", "body")
    inner = outer.get("messageBody")
    if inner is None:
        return _problem(400, "bad_request", "messageBody is missing", "messageBody")
    if isinstance(inner, str):  # the documented shape: a JSON *string*
        try:
            inner = json.loads(inner)
        except json.JSONDecodeError as exc:
            return _problem(400, "bad_request", f"messageBody is not a JSON string: {exc.msg}", "messageBody")
    if not isinstance(inner, dict):
        return _problem(400, "bad_request", "messageBody must encode a JSON object", "messageBody")
    job_id = inner.get("jobId")
    if not isinstance(job_id, str) or not job_id:
        return _problem(400, "bad_request", f"messageBody.jobId must be a non-empty string, got {job_id!r}",
                        "messageBody.jobId")  # fmt: skip
    message_id = outer.get("messageId")
    return inner, (str(message_id) if message_id else None)


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
    return changed


def check_notification(
    deps: Deps, body: str, headers: dict[str, str] | None, query: dict[str, str] | None, now: float | None = None
) -> tuple[str, str | None] | Outcome:
    """Size limit, authentication and parsing: -> (job id, messageId) or the Outcome refusing the request."""
    headers, query = headers or {}, query or {}
    cb = deps.config.callback
    if len(body.encode("utf-8")) > cb.max_body_bytes:
        return _problem(413, "too_large", f"body is larger than {cb.max_body_bytes} bytes", "body")
    reason = authenticate(deps, body, headers, query, time.time() if now is None else now)
    if reason:
        logger.warning("callback rejected", extra={"reason": reason})
        return _problem(401, "unauthorized", reason)
    parsed = parse_notification(body)
    if isinstance(parsed, Outcome):
        return parsed
    message, message_id = parsed
    return message["jobId"], message_id


def handle_notification(
    deps: Deps, body: str, headers: dict[str, str] | None, query: dict[str, str] | None, now: float | None = None
) -> Outcome:
    """The whole callback inside one request (the CFC function): check, then verify with get_job and record."""
    checked = check_notification(deps, body, headers, query, now)
    if isinstance(checked, Outcome):
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


@dataclass(frozen=True)
class Verdict:
    """What verifying one callback's job came to: recorded (job_status is the stored status), ignored, or retry."""

    outcome: str
    job_status: str | None = None
    reason: str | None = None


RECORDED, IGNORED, RETRY = "recorded", "ignored", "retry"


def verify(deps: Deps, job_id: str, job: Job | None) -> Verdict:
    """Read the job from MCT (the truth) and record it; `job` is the stored job with this MCT id, if any."""
    if job is None:
        if submissions_in_flight(deps):
            # Maybe ours: a fast job's callback can overtake the function storing its id.
            return Verdict(RETRY, reason="job not recorded yet (a submission is in flight)")
        # Not ours (another app on the same pipeline) or unknown.
        return Verdict(IGNORED, reason="job was not created by autotranscode")
    if job.status in FINAL_STATUSES:
        # Final in the store means final in MCT (SUCCESS/FAILED never change): a redelivery, no get_job needed.
        # Completion again anyway: a previous attempt may have died between the update and the completion.
        completion.maybe_complete(deps, job.upload_id)
        return Verdict(RECORDED, job.status)
    try:
        view = read_job(deps, job)
    except MctNotFound:
        return Verdict(IGNORED, reason="MCT does not know this job")
    except MctError as exc:
        logger.warning("get_job failed", extra={"job_id": job_id, "error": str(exc)})
        return Verdict(RETRY, reason="could not read the job from MCT")
    changed = apply_job_view(deps, job, view)
    # Unchanged: the store already held this status or a later one (monotonic update), so read it back.
    current = None if changed else deps.store.get_job(job_id)
    return Verdict(RECORDED, view.status if current is None else current.status)


def _record(deps: Deps, job_id: str, message_id: str | None) -> Outcome:
    if message_id and deps.store.message_seen(message_id):
        return Outcome(200, {"status": "duplicate", "job_id": job_id})
    verdict = verify(deps, job_id, _wait_for_job(deps, job_id))
    if verdict.outcome == RETRY:
        # Let MCT retry; the reconciler is the safety net if it does not.
        return _problem(503, "unavailable", f"{verdict.reason}; retry later")
    if verdict.outcome == IGNORED:
        # Ack so MCT stops retrying.
        return Outcome(200, {"status": "ignored", "job_id": job_id, "reason": verdict.reason})
    if message_id:
        deps.store.remember_message(message_id, deps.now())
    return Outcome(200, {"status": "recorded", "job_id": job_id, "job_status": verdict.job_status})
