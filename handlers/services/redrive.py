"""Use-case: re-create FAILED jobs (and permanently failed submissions) with the same request.

Each job is reset, its upload reopened and its delivery made pending again in one store transaction, then submitted
through the same claim path as an upload; the upload's done event is sent again when the new jobs are final.
"""

from __future__ import annotations

from typing import Any

from handlers.domain.records import Job
from handlers.domain.statuses import FAILED, SUBMIT_FAILED
from handlers.services.deps import Deps
from handlers.services.submit import PlannedJob, submit_claim

REDRIVABLE = (FAILED, SUBMIT_FAILED)


def failed_jobs(deps: Deps, limit: int) -> list[Job]:
    jobs: list[Job] = []
    for status in REDRIVABLE:
        jobs += [j for j, _ in deps.store.list_jobs(status=status, limit=limit)]
    return jobs[:limit]


def redrive(deps: Deps, jobs: list[Job], dry_run: bool = False) -> list[dict[str, Any]]:
    """-> one result per job: skipped (not failed), would redrive (dry run), or the new submission's outcome."""
    results: list[dict[str, Any]] = []
    for job in jobs:
        upload = deps.store.get_upload(job.upload_id)
        where = {"target": job.target, "job_id": job.job_id, "source": upload.key if upload else None}
        if job.status not in REDRIVABLE:
            results.append({**where, "outcome": f"skipped: status {job.status}"})
        elif dry_run:
            results.append({**where, "outcome": "would redrive"})
        elif not deps.store.reset_for_redrive(job.claim_id, deps.now()):
            results.append({**where, "outcome": "skipped: redriven meanwhile"})
        else:
            outcome = submit_claim(deps, upload, PlannedJob(job.target, job.kind, job.request))
            results.append({"previous_job_id": job.job_id, "source": where["source"], **outcome})
    return results
