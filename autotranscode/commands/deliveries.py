"""`autotranscode deliveries list|retry`: "upload done" events not (yet) acknowledged by the app, and sending them
again now."""

from __future__ import annotations

import json
import sys
from datetime import datetime

from autotranscode.commands._functions import add_common, load_deps

SHOWN = ["PENDING", "FAILED", "EXPIRED"]
EVERYTHING = datetime(9999, 12, 31)  # `undelivered` takes "last changed before"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "deliveries",
        help="list 'upload done' events the app has not acknowledged; retry one or all now",
        description="Failed events are retried by the reconciler with backoff (reconcile.redeliver_after_minutes, "
        "doubling up to redeliver_max_interval_minutes) until redeliver_max_age_hours; then they are EXPIRED and "
        "only `deliveries retry` sends them.",
    )
    sub = p.add_subparsers(dest="deliveries_command", metavar="list|retry")
    ls = sub.add_parser("list", help="events not delivered, oldest change first")
    add_common(ls)
    ls.add_argument("--status", choices=SHOWN, type=str.upper, help="only this status")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    ls.set_defaults(func=run_list)
    retry = sub.add_parser("retry", help="send events again now (one upload id, or --all)")
    add_common(retry)
    retry.add_argument("upload_ids", nargs="*", metavar="UPLOAD_ID", help="upload ids (from `deliveries list`)")
    retry.add_argument("--all", action="store_true", help="every event not delivered (up to --limit)")
    retry.add_argument("--limit", type=int, default=100)
    retry.add_argument("--json", action="store_true", help="JSON instead of a line per event")
    retry.set_defaults(func=run_retry)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _time(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _row(deps, delivery) -> dict:
    upload = deps.store.get_upload(delivery.upload_id)
    return {
        "upload_id": delivery.upload_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "updated_at": _time(delivery.updated_at),
        "next_attempt_at": _time(delivery.next_attempt_at),
        "bucket": upload.bucket if upload else None,
        "key": upload.key if upload else None,
        "etag": upload.etag if upload else None,
    }


def _not_delivered(deps, status: str | None, limit: int):
    found = [d for d in deps.store.undelivered(EVERYTHING, 10_000) if d.status in SHOWN]
    return [d for d in found if status is None or d.status == status][:limit]


def run_list(args) -> int:
    deps = load_deps(args)
    if deps.config.downstream is None:
        print("no downstream configured (config `downstream.url`): no events are sent", file=sys.stderr)
        return 0
    rows = [_row(deps, d) for d in _not_delivered(deps, args.status, args.limit)]
    if args.json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return 0
    if not rows:
        print("every event was delivered", file=sys.stderr)
        return 0
    cols = ["upload_id", "status", "attempts", "next_attempt_at", "key", "last_error"]
    shown = [{**r, "upload_id": r["upload_id"][:16]} for r in rows]
    widths = {c: max(len(c), *(len(str(r[c] or "-")) for r in shown)) for c in cols}
    print("  ".join(c.upper().ljust(widths[c]) for c in cols))
    for r in shown:
        print("  ".join(str(r[c] or "-").ljust(widths[c]) for c in cols))
    return 0


def run_retry(args) -> int:
    from handlers.services.completion import deliver

    if not args.upload_ids and not args.all:
        print("error: name UPLOAD_IDs or use --all", file=sys.stderr)
        return 2
    deps = load_deps(args)
    if deps.config.downstream is None:
        print("error: no downstream configured (config `downstream.url`)", file=sys.stderr)
        return 2
    ids = list(args.upload_ids)
    for upload_id in ids:
        if deps.store.get_delivery(upload_id) is None:
            known = [d.upload_id for d in _not_delivered(deps, None, 10_000) if d.upload_id.startswith(upload_id)]
            if len(known) != 1:
                print(f"error: no single undelivered event for upload id {upload_id!r}", file=sys.stderr)
                return 1
            ids[ids.index(upload_id)] = known[0]  # a prefix, as `deliveries list` shows them
    if args.all:
        ids += [d.upload_id for d in _not_delivered(deps, None, args.limit) if d.upload_id not in ids]
    results = []
    for upload_id in ids[: args.limit]:
        delivery = deliver(deps, upload_id)
        results.append(_row(deps, delivery) if delivery else {"upload_id": upload_id, "status": None})
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        for r in results:
            print(f"{r['upload_id'][:16]}  {r['status']}  {r.get('key') or '-'}  {r.get('last_error') or ''}".rstrip())
        if not results:
            print("nothing to retry", file=sys.stderr)
    return 0 if all(r["status"] == "DELIVERED" for r in results) else 1
