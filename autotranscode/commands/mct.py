"""`autotranscode mct`: run the localcloud MCT service alone (for the real MediaClient) until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading

from localcloud import defaults


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mct",
        help="run only the local MCT v3 service (pipelines, presets, jobs; really transcodes with ffmpeg)",
        description="Run the localcloud MCT service in the foreground. Point Baidu's MediaClient at the printed "
        "endpoint with the printed access key. Buckets are directories under <data-dir>/buckets/ (shared with "
        "`autotranscode up`). Ctrl-C stops; PENDING/RUNNING jobs resume at the next start.",
    )
    p.add_argument("--data-dir", default=defaults.DEFAULT_DATA_DIR, help="state directory (default: %(default)s)")
    p.add_argument("--host", default=defaults.DEFAULT_HOST, help="listen address (default: %(default)s)")
    p.add_argument("--port", type=int, default=defaults.MCT_PORT, help="listen port (default: %(default)s)")
    p.add_argument(
        "--access-key", default=defaults.DEFAULT_ACCESS_KEY, help="accepted access key (default: %(default)s)"
    )
    p.add_argument(
        "--secret-key", default=defaults.DEFAULT_SECRET_KEY, help="its secret key (default: the localcloud one)"
    )
    p.add_argument("--max-running", type=int, default=None, help="concurrent ffmpeg jobs (default: number of CPUs)")
    p.add_argument("--bucket", action="append", default=[], metavar="NAME", help="create this bucket (repeatable)")
    p.add_argument("--faults", default=None, help='fault injection, e.g. "api_error_rate=0.2,callback_drop_rate=0.5"')
    p.set_defaults(func=run)


def run(args) -> int:
    from localcloud.faults import FaultConfig, FaultConfigError
    from localcloud.ffmpeg import FFmpegNotFound, ffmpeg
    from localcloud.mct.service import MctService
    from localcloud.serve import serve_in_thread
    from localcloud.storage import StorageError

    try:
        faults = FaultConfig.parse(args.faults) if args.faults is not None else FaultConfig.from_env()
    except FaultConfigError as exc:
        print(f"error: --faults: {exc}", file=sys.stderr)
        return 2
    if args.max_running is not None and args.max_running < 1:
        print(f"error: --max-running={args.max_running} must be at least 1", file=sys.stderr)
        return 2
    try:
        ffmpeg_text = ffmpeg().describe()
    except FFmpegNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    service = MctService(
        args.data_dir, credentials={args.access_key: args.secret_key}, max_running=args.max_running, faults=faults
    )
    try:
        for bucket in args.bucket:
            service.storage.create_bucket(bucket, exist_ok=True)
    except StorageError as exc:
        print(f"error: --bucket: {exc}", file=sys.stderr)
        return 2
    try:
        server = serve_in_thread(service.app, host=args.host, port=args.port)
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc} (is it already running? try --port)")
        return 1
    service.server_name = server.endpoint
    service.start()
    print(f"localcloud MCT is up at {server.url}   MediaClient endpoint={server.endpoint!r}")
    print(f"  data dir   {service.data_dir} (buckets in {service.storage.buckets_root})")
    print(f"  access key {args.access_key!r} (secret key: as given by --secret-key or the localcloud default)")
    print(f"  ffmpeg     {ffmpeg_text}")
    print(f"  jobs       up to {service.max_running} at a time; Ctrl-C stops", flush=True)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    print("stopping MCT ...", flush=True)
    server.stop()
    service.close()
    return 0
