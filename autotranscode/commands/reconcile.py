"""`autotranscode reconcile`: re-read stuck jobs, redeliver due "upload done" events and sweep the watched prefixes
for uploads whose event never came (what the crontab trigger runs)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from autotranscode.commands._functions import add_common, load_deps


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "reconcile",
        help="re-read stuck jobs, redeliver due 'upload done' events, sweep BOS for uploads whose event was lost",
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
    p.add_argument("--no-sweep", action="store_true", help="do not list BOS for uploads without a record")
    p.add_argument(
        "--grace",
        type=float,
        default=None,
        metavar="MINUTES",
        help="sweep objects older than this (default: config sweep.grace_minutes)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from handlers.services.reconcile import reconcile

    deps = load_deps(args)
    stale = timedelta(minutes=args.stale_after) if args.stale_after is not None else None
    grace = timedelta(minutes=args.grace) if args.grace is not None else None
    summary = reconcile(deps, stale_after=stale, limit=args.limit, sweep=not args.no_sweep, grace=grace)
    print(json.dumps(summary, indent=2))
    sweep = summary.get("sweep") or {}
    if sweep.get("errors"):
        print(f"warning: the sweep of BOS had {sweep['errors']} error(s) (see sweep in the summary above; is "
              f"bos.endpoint right, {deps.config.bos.endpoint}?)", file=sys.stderr)  # fmt: skip
    return 1 if summary["errors"] else 0
