"""Use-case: re-read jobs stuck in PENDING/RUNNING and redeliver failed downstream events.

Runs from a CFC cron trigger (handlers.on_schedule.handler) or the CLI (`autotranscode reconcile`), so a lost
callback or a failed delivery loses nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from handlers.logs import logger
from handlers.services import completion
from handlers.services.callbacks import apply_job_view, read_job
from handlers.services.deps import Deps
from handlers.services.ports import MctError, MctNotFound
from handlers.services.submit import PlannedJob, submit_claim


def reconcile(deps: Deps, stale_after: timedelta | None = None, limit: int | None = None) -> dict[str, Any]:
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
    }
    # Claims whose create_job failed transiently after CFC gave up retrying (or whose invocation died).
    for claim in deps.store.unsubmitted_claims(now, limit):
        upload = deps.store.get_upload(claim.upload_id)
        if upload is None:
            continue
        outcome = submit_claim(deps, upload, PlannedJob(claim.target, claim.kind, claim.request))
        if outcome["outcome"] == "submitted":
            summary["resubmitted"] += 1
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
    redeliver_after = timedelta(minutes=rc.redeliver_after_minutes)
    if deps.config.downstream is not None:
        for delivery in deps.store.undelivered(now - redeliver_after, limit):
            result = completion.deliver(deps, delivery.upload_id)
            if result is not None and result.status == "DELIVERED":
                summary["redelivered"] += 1
    logger.info("reconcile finished", extra=summary)
    return summary
