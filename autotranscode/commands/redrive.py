"""`autotranscode redrive`: re-create FAILED jobs (and permanently failed submissions)."""

from __future__ import annotations

import json
import sys

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
    from handlers.services.redrive import failed_jobs, redrive

    if not args.job_ids and not args.all_failed:
        print("error: name JOB_IDs or use --all-failed", file=sys.stderr)
        return 2
    deps = load_deps(args)
    jobs = []
    for job_id in args.job_ids:
        job = deps.store.get_job(job_id)
        if job is None:
            print(f"error: no job {job_id!r} in the store", file=sys.stderr)
            return 1
        jobs.append(job)
    if args.all_failed:
        jobs += failed_jobs(deps, args.limit)
    results = redrive(deps, jobs[: args.limit], dry_run=args.dry_run)
    print(json.dumps(results, indent=2))
    return 1 if any(r.get("outcome") in ("failed", "retryable") for r in results) else 0
