"""`autotranscode jobs list|show`: what the functions recorded in the store."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta

from autotranscode.commands._functions import add_common, load_deps
from autotranscode.tables import format_table
from handlers.domain.statuses import STATUS_RANK

STATUSES = list(STATUS_RANK)  # every job status, in lifecycle order (handlers/domain/statuses.py)


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
    ls.add_argument("--json", action="store_true", help="a JSON array on stdout instead of a table")
    ls.set_defaults(func=run_list)
    show = sub.add_parser("show", help="one job (MCT job id) with its upload, or one upload (its id, as in the "
                          "done event) with its jobs and skipped targets; --live also asks MCT")  # fmt: skip
    add_common(show)
    show.add_argument("job_id", metavar="ID", help="an MCT job id or an upload id")
    show.add_argument("--live", action="store_true", help="also read the job from MCT (get_job)")
    show.set_defaults(func=run_show)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """An ISO time or an age before `now` (30m, 2h, 1d); ValueError naming the value and the forms."""
    if not text:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days", "s": "seconds"}
    if text[-1:] in units and text[:-1].replace(".", "", 1).isdigit():
        return now - timedelta(**{units[text[-1]]: float(text[:-1])})
    try:
        parsed = datetime.fromisoformat(text.rstrip("Z"))
    except ValueError:
        raise ValueError(f"{text!r}: use an ISO time (2026-11-23T10:00:00) or an age (30m, 2h, 1d)") from None
    return parsed.replace(tzinfo=None)


def _row(job, upload) -> dict:
    target = job.request.get("target", {})
    note = {"note": job.request["note"]} if job.request.get("note") else {}
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
        **note,
    }


def run_list(args) -> int:
    from handlers.domain.clock import utcnow

    deps = load_deps(args)
    try:
        since = parse_since(args.since, utcnow())
    except ValueError as exc:
        raise SystemExit(f"error: --since {exc}") from None
    rows = [_row(j, u) for j, u in deps.store.list_jobs(args.status, since, args.bucket, args.prefix, args.limit)]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("no jobs", file=sys.stderr)
        return 0
    print(format_table(["job_id", "status", "target", "created_at", "key", "output"], rows))
    return 0


def run_show(args) -> int:
    deps = load_deps(args)
    job = deps.store.get_job(args.job_id)
    upload = deps.store.get_upload(job.upload_id if job else args.job_id)
    if upload is None:
        print(f"error: no job or upload {args.job_id!r} in the store (was it created by autotranscode?)",
              file=sys.stderr)  # fmt: skip
        return 1
    out: dict = {}
    if job is not None:
        out["job"] = {**_row(job, upload), "request": job.request, "result": job.result, "attempts": job.attempts}
    out["upload"] = {
        "id": upload.upload_id,
        "bucket": upload.bucket,
        "key": upload.key,
        "etag": upload.etag,
        "status": upload.status,
        "skipped": upload.skipped,  # targets not made, each with its reason
    }
    if job is None:
        out["jobs"] = [_row(j, upload) for j in deps.store.jobs_for_upload(upload.upload_id)]
    delivery = deps.store.get_delivery(upload.upload_id)
    if delivery:
        out["delivery"] = {"status": delivery.status, "attempts": delivery.attempts, "last_error": delivery.last_error}
    if args.live and job is not None:
        from handlers.services.callbacks import read_job
        from handlers.services.ports import MctError

        try:
            out["mct"] = read_job(deps, job).raw
        except MctError as exc:
            print(f"error: --live: MCT at {deps.config.mct.endpoint} did not answer: {exc} (is the stack up? "
                  "the stored record is above)", file=sys.stderr)  # fmt: skip
            print(json.dumps(out, indent=2, ensure_ascii=False, default=str))
            return 1
    print(json.dumps(out, indent=2, ensure_ascii=False, default=str))
    return 0
