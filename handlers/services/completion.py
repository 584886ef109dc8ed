"""Use-case: when every job of an upload is final, mark it done once and send one signed "upload done" event."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

from handlers.domain.lifecycle import redelivery_delay
from handlers.domain.records import Delivery, DeliveryAttempt, Upload
from handlers.domain.statuses import (
    DELIVERY_DELIVERED,
    DELIVERY_EXPIRED,
    DELIVERY_FAILED,
    DELIVERY_SENDING,
    FINAL_STATUSES,
    UPLOAD_DONE,
)
from handlers.logs import logger
from handlers.services import versions
from handlers.services.deps import Deps
from handlers.services.playback import publish_master
from handlers.wire.downstream import app_answer, build_event, downstream_headers


def maybe_complete(deps: Deps, upload_id: str) -> bool:
    """True when this call marked the upload done (exactly one caller wins), and then delivers downstream."""
    store = deps.store
    upload = store.get_upload(upload_id)
    if upload is None or upload.status == UPLOAD_DONE:
        return False
    total, final = store.final_job_count(upload_id)
    if total < upload.expected_jobs or final < total:
        return False
    jobs = store.jobs_for_upload(upload_id)
    if any(j.status not in FINAL_STATUSES for j in jobs):  # changed in between (a redrive): not complete after all
        return False
    versions.superseded_now(deps, upload)  # overwritten meanwhile: the event says so
    if deps.config.downstream is not None:
        # Before marking done: a crash between the two then leaves a row the reconciler redelivers.
        store.ensure_delivery(upload_id, deps.now())
    if not store.mark_upload_done(upload_id, deps.now()):
        return False
    logger.info("upload done", extra={"upload_id": upload_id, "key": upload.key, "jobs": len(jobs)})
    if deps.config.downstream is not None:
        deliver(deps, upload_id)  # publishes the HLS master playlist first, to name it in the event
    else:
        publish_master(deps, upload, jobs)
    return True


def deliver(deps: Deps, upload_id: str) -> Delivery | None:
    """POST the event with retries and backoff; the outcome is recorded (the reconciler redelivers failures)."""
    ds = deps.config.downstream
    store = deps.store
    upload = store.get_upload(upload_id)
    delivery = store.get_delivery(upload_id)
    if ds is None or upload is None or delivery is None or delivery.status == DELIVERY_DELIVERED:
        return delivery
    if upload.status != UPLOAD_DONE:  # reopened by a redrive: the event goes out when it is done again
        return delivery
    # One sender at a time: the completion that just marked the upload done, a reconcile run and
    # `autotranscode deliveries retry` may all get here for the same event.
    if not store.claim_delivery(delivery, deps.now()):
        return store.get_delivery(upload_id)
    delivery = replace(delivery, status=DELIVERY_SENDING)
    jobs = store.jobs_for_upload(upload_id)
    # Every delivery (a retry too) writes the master again: the same object, and a write that failed before heals.
    event = build_event(
        upload, jobs, hls_master=publish_master(deps, upload, jobs), version=store.get_version(upload_id)
    )
    body = json.dumps(event, sort_keys=True, separators=(",", ":"))
    secret = ds.secret.get_secret_value() if ds.secret else None
    for attempt in range(1, ds.max_attempts + 1):
        headers = downstream_headers(secret, body)
        headers["X-Autotranscode-Delivery"] = f"{upload_id}:{delivery.attempts + 1}"
        code, error = None, None
        try:
            code = deps.post(ds.url, body.encode("utf-8"), headers, ds.timeout_seconds)
        except Exception as exc:  # network: refused, timeout, DNS
            error = f"{type(exc).__name__}: {exc}"
        answer = app_answer(code, error)
        ok = answer.delivered
        now = deps.now()
        delivery = replace(
            delivery,
            attempts=delivery.attempts + 1,
            last_status_code=code,
            last_error=answer.error,
            updated_at=now,
        )
        give_up = answer.give_up
        if ok:
            status, next_at = DELIVERY_DELIVERED, None
        elif give_up or attempt == ds.max_attempts:
            status, next_at = next_attempt(deps, upload, delivery, now)  # when the reconciler tries next
        else:
            status, next_at = DELIVERY_SENDING, None  # still ours: updated_at renews the lease (sending_lease)
        delivery = replace(delivery, status=status, next_attempt_at=next_at)
        store.record_delivery(delivery)
        attempt_log = DeliveryAttempt(
            upload_id, delivery.attempts, delivery.updated_at, code, delivery.last_error, body
        )
        store.add_delivery_attempt(attempt_log)  # history for the console; the delivery row above is what counts
        if ok:
            logger.info("downstream delivered", extra={"upload_id": upload_id, "status_code": code})
            return delivery
        if give_up:
            break
        if attempt < ds.max_attempts:
            deps.sleep(ds.backoff_seconds * (2 ** (attempt - 1)))
    logger.warning(
        "downstream delivery failed",
        extra={"upload_id": upload_id, "error": delivery.last_error, "status": delivery.status,
               "next_attempt_at": str(delivery.next_attempt_at)},
    )  # fmt: skip
    return delivery


def sending_lease(deps: Deps) -> timedelta:
    """How long a sender may hold a delivery: its whole round of attempts (timeouts and backoff) plus a margin.
    A SENDING delivery older than this lost its sender (a crash) and is due again."""
    ds = deps.config.downstream
    if ds is None:
        return timedelta(0)
    backoff = sum(ds.backoff_seconds * 2**n for n in range(ds.max_attempts - 1))
    return timedelta(seconds=ds.max_attempts * ds.timeout_seconds + backoff + 60)


def next_attempt(deps: Deps, upload: Upload, delivery: Delivery, now: datetime) -> tuple[str, datetime | None]:
    """FAILED with the time of the next round of attempts (backoff; the last one at the maximum age), or EXPIRED
    once the maximum age is reached."""
    rc, ds = deps.config.reconcile, deps.config.downstream
    deadline = (upload.done_at or upload.created_at) + timedelta(hours=rc.redeliver_max_age_hours)
    if now >= deadline:
        return DELIVERY_EXPIRED, None
    rounds = -(-delivery.attempts // max(ds.max_attempts if ds else 1, 1))  # rounds of attempts so far
    first, longest = timedelta(minutes=rc.redeliver_after_minutes), timedelta(minutes=rc.redeliver_max_interval_minutes)
    return DELIVERY_FAILED, min(now + redelivery_delay(rounds, first, longest), deadline)
