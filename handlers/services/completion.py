"""Use-case: when every job of an upload is final, mark it done once and send one signed "upload done" event."""

from __future__ import annotations

import json
from dataclasses import replace

from handlers.domain.records import Delivery, DeliveryAttempt
from handlers.domain.statuses import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    FINAL_STATUSES,
    UPLOAD_DONE,
)
from handlers.logs import logger
from handlers.services.deps import Deps
from handlers.services.playback import publish_master
from handlers.wire.downstream import build_event, downstream_headers

EVENT_TYPE = "autotranscode.upload.done"


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
    jobs = store.jobs_for_upload(upload_id)
    # Every delivery (a retry too) writes the master again: the same object, and a write that failed before heals.
    event = build_event(upload, jobs, hls_master=publish_master(deps, upload, jobs))
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
        ok = code is not None and 200 <= code < 300
        delivery = replace(
            delivery,
            status=DELIVERY_DELIVERED if ok else DELIVERY_FAILED,
            attempts=delivery.attempts + 1,
            last_status_code=code,
            last_error=None if ok else (error or f"HTTP {code}"),
            updated_at=deps.now(),
        )
        store.record_delivery(delivery)
        attempt_log = DeliveryAttempt(
            upload_id, delivery.attempts, delivery.updated_at, code, delivery.last_error, body
        )
        store.add_delivery_attempt(attempt_log)  # history for the console; the delivery row above is what counts
        if ok:
            logger.info("downstream delivered", extra={"upload_id": upload_id, "status_code": code})
            return delivery
        # 4xx other than 408/429 will not get better by retrying now.
        if code is not None and 400 <= code < 500 and code not in (408, 429):
            break
        if attempt < ds.max_attempts:
            deps.sleep(ds.backoff_seconds * (2 ** (attempt - 1)))
    logger.warning("downstream delivery failed", extra={"upload_id": upload_id, "error": delivery.last_error})
    return delivery
