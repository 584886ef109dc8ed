"""`autotranscode redrive`: re-create FAILED jobs (and permanently failed submissions)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

from autotranscode.commands._functions import add_common, load_deps


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "redrive",
        help="re-create FAILED jobs with the same request; the upload's done event is sent again when they finish",
    )
    add_common(p)
    p.add_argument("job_ids", nargs="*", metavar="JOB_ID", help="MCT job ids to redrive")
    p.add_argument("--all-failed", action="store_true", help="every FAILED / SUBMIT_FAILED job (up to --limit)")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from handlers.store import FAILED, SUBMIT_FAILED

    if not args.job_ids and not args.all_failed:
        print("error: name JOB_IDs or use --all-failed", file=sys.stderr)
        return 2
    deps = load_deps(args)
    store = deps.store
    jobs = []
    for job_id in args.job_ids:
        job = store.get_job(job_id)
        if job is None:
            print(f"error: no job {job_id!r} in the store", file=sys.stderr)
            return 1
        jobs.append(job)
    if args.all_failed:
        for status in (FAILED, SUBMIT_FAILED):
            jobs += [j for j, _ in store.list_jobs(status=status, limit=args.limit)]
    results = []
    for job in jobs[: args.limit]:
        if job.status not in (FAILED, SUBMIT_FAILED):
            results.append({"target": job.target, "job_id": job.job_id, "outcome": f"skipped: status {job.status}"})
            continue
        if args.dry_run:
            results.append({"target": job.target, "job_id": job.job_id, "outcome": "would redrive"})
            continue
        outcome = redrive_job(deps, job)
        if outcome is not None:
            results.append({"previous_job_id": job.job_id, **outcome})
    print(json.dumps(results, indent=2))
    return 1 if any(r.get("outcome") in ("failed", "retryable") for r in results) else 0


def redrive_job(deps, job) -> dict | None:
    """Reset a FAILED / SUBMIT_FAILED job, reopen its upload (its done event goes out again) and submit it again;
    None when someone else redrove it first or it is no longer failed. (Also the console's "redrive" action.)"""
    from handlers.store import DELIVERY_PENDING
    from handlers.submission import PlannedJob, submit_claim

    store = deps.store
    if not store.reset_for_redrive(job.claim_id, deps.now()):
        return None
    store.reopen_upload(job.upload_id)
    delivery = store.get_delivery(job.upload_id)
    if delivery is not None:
        store.record_delivery(replace(delivery, status=DELIVERY_PENDING, updated_at=deps.now()))
    upload = store.get_upload(job.upload_id)
    return submit_claim(deps, upload, PlannedJob(job.target, job.kind, job.request))
