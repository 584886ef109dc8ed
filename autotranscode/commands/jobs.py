"""`autotranscode jobs list|show`: what the functions recorded in the store."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta

from autotranscode.commands._functions import add_common, load_deps

STATUSES = ["CLAIMED", "RETRYABLE", "SUBMIT_FAILED", "PENDING", "RUNNING", "SUCCESS", "FAILED"]


def register(subparsers) -> None:
    p = subparsers.add_parser("jobs", help="list / show the MCT jobs the functions created")
    sub = p.add_subparsers(dest="jobs_command", metavar="list|show")
    ls = sub.add_parser("list", help="list jobs, newest first")
    add_common(ls)
    ls.add_argument("--status", choices=STATUSES, type=str.upper)
    ls.add_argument("--since", help="created at or after: ISO time (2026-11-23T10:00:00) or an age like 30m, 2h, 1d")
    ls.add_argument("--bucket")
    ls.add_argument("--prefix", help="source key prefix")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    ls.set_defaults(func=run_list)
    show = sub.add_parser("show", help="one job (by MCT job id) with its upload; --live also asks MCT")
    add_common(show)
    show.add_argument("job_id")
    show.add_argument("--live", action="store_true", help="also read the job from MCT (get_job)")
    show.set_defaults(func=run_show)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def parse_since(text: str | None, now: datetime) -> datetime | None:
    if not text:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days", "s": "seconds"}
    if text[-1:] in units and text[:-1].replace(".", "", 1).isdigit():
        return now - timedelta(**{units[text[-1]]: float(text[:-1])})
    try:
        parsed = datetime.fromisoformat(text.rstrip("Z"))
    except ValueError:
        raise SystemExit(
            f"error: --since {text!r}: use an ISO time (2026-11-23T10:00:00) or an age (30m, 2h, 1d)"
        ) from None
    return parsed.replace(tzinfo=None)


def _row(job, upload) -> dict:
    target = job.request.get("target", {})
    return {
        "job_id": job.job_id,
        "status": job.status,
        "target": job.target,
        "kind": job.kind,
        "created_at": job.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bucket": upload.bucket,
        "key": upload.key,
        "output": target.get("targetKey") or target.get("keyPrefix"),
        "error": (job.result.get("error") or {}).get("message") or job.last_error,
    }


def run_list(args) -> int:
    from handlers.domain.clock import utcnow

    deps = load_deps(args)
    since = parse_since(args.since, utcnow())
    rows = [_row(j, u) for j, u in deps.store.list_jobs(args.status, since, args.bucket, args.prefix, args.limit)]
    if args.json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return 0
    if not rows:
        print("no jobs", file=sys.stderr)
        return 0
    cols = ["job_id", "status", "target", "created_at", "key", "output"]
    widths = {c: max(len(c), *(len(str(r[c] or "")) for r in rows)) for c in cols}
    print("  ".join(c.upper().ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r[c] or "-").ljust(widths[c]) for c in cols))
    return 0


def run_show(args) -> int:
    deps = load_deps(args)
    job = deps.store.get_job(args.job_id)
    if job is None:
        print(f"error: no job {args.job_id!r} in the store (was it created by autotranscode?)", file=sys.stderr)
        return 1
    upload = deps.store.get_upload(job.upload_id)
    out = {
        "job": {**_row(job, upload), "request": job.request, "result": job.result, "attempts": job.attempts},
        "upload": {
            "id": upload.upload_id,
            "bucket": upload.bucket,
            "key": upload.key,
            "etag": upload.etag,
            "status": upload.status,
            "skipped": upload.skipped,
        },  # fmt: skip
    }
    delivery = deps.store.get_delivery(upload.upload_id)
    if delivery:
        out["delivery"] = {"status": delivery.status, "attempts": delivery.attempts, "last_error": delivery.last_error}
    if args.live:
        from handlers.services.callbacks import read_job

        out["mct"] = read_job(deps, job).raw
    print(json.dumps(out, indent=2, ensure_ascii=False, default=str))
    return 0
