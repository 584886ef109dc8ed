"""`autotranscode demo`: the whole product on one machine in about a minute (see autotranscode.demo)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

DEFAULT_DATA_DIR = ".localcloud-demo"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="end-to-end demo: upload a clip with BosClient to localcloud and watch it become renditions",
        description="Starts localcloud (BOS + MCT + CFC from template.yaml) in a fresh data dir, provisions MCT from "
        "autotranscode.example.json, uploads a clip with Baidu's BosClient, shows each job's progress, then prints "
        "the results read from the store and the signed 'upload done' event, and ends with the console URL of the "
        "upload (at a terminal the console keeps serving until Ctrl-C). Exits non-zero if anything failed.",
    )
    p.add_argument("--clip", type=Path, help="video file to upload (default: generate a sample clip)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the generated clip (default: %(default)s)")
    p.add_argument("--size", default="1280x720", help="WxH of the generated clip (default: %(default)s)")
    p.add_argument("--data-dir", type=Path, default=Path(DEFAULT_DATA_DIR),
                   help="wiped and reused on each run (default: %(default)s)")  # fmt: skip
    p.add_argument(
        "--timeout", type=float, default=170.0, help="give up after this many seconds (default: %(default)s)"
    )
    p.add_argument("--show-logs", action="store_true", help="also print the functions' logs (always in functions.log)")
    p.set_defaults(func=run)


def run(args) -> int:
    from autotranscode.demo import DemoOptions, run_demo

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"error: --size {args.size!r} is not WxH, e.g. 1280x720", file=sys.stderr)
        return 2
    options = DemoOptions(args.data_dir, args.clip, args.seconds, width, height, args.timeout,
                          show_function_logs=args.show_logs)  # fmt: skip
    try:
        result = run_demo(options, hold=lambda r: show(r, args.data_dir, keep_serving=_interactive()))
    except (FileNotFoundError, TimeoutError, RuntimeError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0 if result.ok else 1


def _interactive() -> bool:
    """Keep the console up after the demo only for a person at a terminal (not in CI, not piped)."""
    return sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("CI", "").lower() not in ("1", "true")


def show(result, data_dir: Path, keep_serving: bool) -> None:
    """Print the results; the last line is the console URL of the upload (kept serving until Ctrl-C if asked)."""
    from autotranscode.demo import format_table

    print()
    print(format_table(result.rows))
    print()
    if result.downstream_event is None:
        print("no 'upload done' event arrived downstream")
    else:
        event = result.downstream_event
        check = "signature verified" if result.downstream_verified else "SIGNATURE INVALID"
        print(f"downstream 'upload done' event ({check}): status={event.get('status')} "
              f"outputs={len(event.get('outputs', []))} thumbnails={len(event.get('thumbnails', []))} "
              f"errors={len(event.get('errors', []))}")  # fmt: skip
        print(json_preview(event))
    print(f"\n{'OK' if result.ok else 'FAILED'} in {result.elapsed_s:.1f} s; files are under {data_dir}/buckets/")
    if result.console_url is None:
        return
    if keep_serving:
        print("The console and localcloud keep running until Ctrl-C. Open the upload's page to watch the renditions:")
    print(f"console: {result.console_url}", flush=True)
    if keep_serving:
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping ...", flush=True)


def json_preview(event: dict, limit: int = 1500) -> str:
    import json

    text = json.dumps(event, indent=2, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "\n  ..."
