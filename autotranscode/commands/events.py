"""`autotranscode events`: localcloud's durable event queue (BOS upload events on their way to CFC functions).

  autotranscode events dead-letters [--function F] [--json]   events that exhausted CFC's retries
  autotranscode events replay ID [ID ...] | --all [--function F]   queue them again (fresh retries)

The queue is ``<data-dir>/cfc/async.sqlite3``; a running ``autotranscode up`` picks replayed events up within a
second, otherwise the next ``up`` delivers them.
"""

from __future__ import annotations

import json
import sys

from localcloud import defaults


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "events",
        help="localcloud's durable event queue: list dead-lettered events and replay them",
        description="BOS upload events reach the CFC functions through a durable queue in <data-dir>; an event "
        "whose function failed every retry becomes a dead letter. List them and replay them here.",
    )
    sub = p.add_subparsers(dest="events_command", metavar="ACTION", required=True)

    listing = sub.add_parser("dead-letters", help="list events that exhausted their retries (oldest first)")
    _common(listing)
    listing.add_argument("--json", action="store_true", help="one JSON document with every dead letter")
    listing.set_defaults(func=run_list)

    replay = sub.add_parser("replay", help="queue dead-lettered events again, with fresh retries")
    _common(replay)
    replay.add_argument("ids", nargs="*", metavar="ID", help="dead letter id(s), as `dead-letters` shows them")
    replay.add_argument("--all", action="store_true", help="every dead letter (of --function, if given)")
    replay.set_defaults(func=run_replay)


def _common(p) -> None:
    p.add_argument("--data-dir", default=defaults.DEFAULT_DATA_DIR, help="localcloud state (default: %(default)s)")
    p.add_argument("--function", help="only this function's events")


def _open(args):
    from localcloud.cfc.async_queue import AsyncQueue, queue_path

    path = queue_path(args.data_dir)
    if not path.exists():
        print(
            f"error: no event queue at {path}; is --data-dir the one `autotranscode up` uses? "
            f"(default: {defaults.DEFAULT_DATA_DIR})",
            file=sys.stderr,
        )
        return None
    return AsyncQueue(path)


def run_list(args) -> int:
    queue = _open(args)
    if queue is None:
        return 2
    try:
        dead = queue.dead_letters(args.function)
        pending = queue.pending()
    finally:
        queue.close()
    if args.json:
        print(json.dumps({"dead_letters": [d.as_dict() for d in dead], "pending": pending}, ensure_ascii=False))
        return 0
    if not dead:
        print(f"no dead letters ({pending} event(s) queued or being delivered)")
        return 0
    for d in dead:
        error = f"{d.error.get('errorType', '?')}: {d.error.get('errorMessage', '')}".strip()
        print(f"{d.id}  {d.function}  {_describe(d.event)}  {d.attempts} attempt(s), failed {d.failed_at}")
        print(f"    {error[:200]}")
    print(f"{len(dead)} dead letter(s); replay with `autotranscode events replay ID` or `--all`")
    return 0


def run_replay(args) -> int:
    if bool(args.ids) == bool(args.all):
        print("error: give dead letter id(s) or --all (not both)", file=sys.stderr)
        return 2
    queue = _open(args)
    if queue is None:
        return 2
    try:
        moved = queue.replay(None if args.all else args.ids, function=args.function)
    except KeyError as exc:
        print(f"error: {exc.args[0]}; `autotranscode events dead-letters` lists the ids", file=sys.stderr)
        return 2
    finally:
        queue.close()
    print(
        f"queued {len(moved)} event(s) again: a running `autotranscode up` delivers them within a second, "
        "otherwise the next start does"
    )
    return 0


def _describe(event) -> str:
    """bucket/key of a BOS event (what the user recognises), else a short JSON excerpt."""
    try:
        content = event["events"][0]["content"]
        return f"{content['bucket']}/{content['object']}"
    except (KeyError, IndexError, TypeError):
        return json.dumps(event, ensure_ascii=False)[:80]
