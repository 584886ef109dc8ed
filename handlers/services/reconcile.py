"""Use-case: resubmit claims left unsubmitted, re-read jobs stuck in PENDING/RUNNING, redeliver failed downstream
events whose next attempt is due, and sweep the watched prefixes for uploads whose event never came.

Runs from a CFC crontab trigger (handlers.on_schedule.handler; `autotranscode up` runs it on the template's schedule)
or the CLI (`autotranscode reconcile`), so a lost event, a lost callback or a failed delivery loses nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handlers.domain.statuses import DELIVERY_EXPIRED, DELIVERY_FAILED
from handlers.logs import logger
from handlers.services import completion
from handlers.services.callbacks import apply_job_view, read_job
from handlers.services.deps import Deps
from handlers.services.ports import MctError, MctNotFound
from handlers.services.submit import PlannedJob, submit_claim
from handlers.services.sweep import sweep as sweep_prefixes
from handlers.wire.bce_time import bce_time


def reconcile(
    deps: Deps,
    stale_after: timedelta | None = None,
    limit: int | None = None,
    sweep: bool = True,
    grace: timedelta | None = None,
) -> dict[str, Any]:
    rc = deps.config.reconcile
    stale_after = timedelta(minutes=rc.stale_after_minutes) if stale_after is None else stale_after
    limit = rc.batch_size if limit is None else limit
    now = deps.now()
    summary: dict[str, Any] = {
        "checked": 0,
        "updated": 0,
        "errors": 0,
        "missing": 0,
        "resubmitted": 0,
        "redelivered": 0,
        "swept": 0,
    }
    # Claims whose create_job failed transiently after CFC gave up retrying (or whose invocation died).
    for claim in deps.store.unsubmitted_claims(now, limit):
        upload = deps.store.get_upload(claim.upload_id)
        if upload is None:
            continue
        outcome = submit_claim(deps, upload, PlannedJob(claim.target, claim.kind, claim.request))
        if outcome["outcome"] == "submitted":
            summary["resubmitted"] += 1
        elif outcome["outcome"] == "waiting":
            summary["waiting"] = summary.get("waiting", 0) + 1
        elif outcome["outcome"] in ("retryable", "failed"):
            summary["errors"] += 1
        completion.maybe_complete(deps, upload.upload_id)
    for job in deps.store.stale_jobs(now - stale_after, limit):
        summary["checked"] += 1
        try:
            view = read_job(deps, job)
        except MctNotFound:
            summary["missing"] += 1
            logger.warning("job unknown to MCT", extra={"job_id": job.job_id})
            continue
        except MctError as exc:
            summary["errors"] += 1
            logger.warning("reconcile get_job failed", extra={"job_id": job.job_id, "error": str(exc)})
            continue
        if apply_job_view(deps, job, view):
            summary["updated"] += 1
    if deps.config.downstream is not None:
        redeliver(deps, now, limit, summary)
    if sweep:
        found = sweep_prefixes(deps, grace)
        summary["swept"] = found["submitted"]
        summary["sweep"] = found  # its errors stay there: BOS out of reach must not fail the jobs' part
    logger.info("reconcile finished", extra=summary)
    return summary


def redeliver(deps: Deps, now: datetime, limit: int, summary: dict[str, Any]) -> None:
    """Due deliveries (FAILED with their next attempt reached; PENDING for redeliver_after_minutes: a crash before
    the first attempt); then say what still waits and when, so an empty run explains itself."""
    pending_before = now - timedelta(minutes=deps.config.reconcile.redeliver_after_minutes)
    sending_before = now - completion.sending_lease(deps)
    for delivery in deps.store.due_deliveries(now, pending_before, limit, sending_before):
        result = completion.deliver(deps, delivery.upload_id)
        if result is not None and result.status == "DELIVERED":
            summary["redelivered"] += 1
    everything = datetime(9999, 12, 31)
    waiting = [d for d in deps.store.undelivered(everything, limit) if d.status in (DELIVERY_FAILED, DELIVERY_EXPIRED)]
    retrying = [d for d in waiting if d.status == DELIVERY_FAILED and d.next_attempt_at is not None]
    if retrying:
        summary["deliveries_retrying"] = len(retrying)
        summary["next_delivery_attempt"] = bce_time(min(d.next_attempt_at for d in retrying))
    expired = len(waiting) - len(retrying)
    if expired:
        summary["deliveries_expired"] = expired
        summary["hint"] = "expired deliveries are not retried by themselves: `autotranscode deliveries retry --all`"
