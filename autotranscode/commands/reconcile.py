"""`autotranscode reconcile`: re-read stuck jobs and redeliver failed "upload done" events (what the cron does)."""

from __future__ import annotations

import json
from datetime import timedelta

from autotranscode.commands._functions import add_common, load_deps


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "reconcile",
        help="re-read jobs stuck in PENDING/RUNNING via get_job; redeliver failed downstream events",
        description="The same code as the Reconcile function (handlers.on_schedule.handler), run once.",
    )
    add_common(p)
    p.add_argument(
        "--stale-after",
        type=float,
        default=None,
        metavar="MINUTES",
        help="only jobs unchanged for this long (default: config reconcile.stale_after_minutes)",
    )
    p.add_argument("--limit", type=int, default=None, help="at most this many jobs (default: config batch_size)")
    p.set_defaults(func=run)


def run(args) -> int:
    from handlers.services.reconcile import reconcile

    deps = load_deps(args)
    stale = timedelta(minutes=args.stale_after) if args.stale_after is not None else None
    summary = reconcile(deps, stale_after=stale, limit=args.limit)
    print(json.dumps(summary, indent=2))
    return 1 if summary["errors"] else 0
