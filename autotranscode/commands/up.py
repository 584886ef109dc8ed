"""`autotranscode up`: run localcloud (BOS + MCT + CFC from template.yaml) in the foreground until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading

from localcloud import defaults


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "up",
        help="run localcloud: BOS + MCT + the template's functions (CFC), wired together",
        description="Run localcloud in the foreground: a BOS and an MCT endpoint for the real SDKs, and the "
        "functions of template.yaml with their BOS and HTTP triggers. Uploads (SDK or files dropped into "
        "<data-dir>/buckets/<bucket>/) trigger the functions. Ctrl-C stops everything.",
    )
    p.add_argument("--data-dir", default=defaults.DEFAULT_DATA_DIR, help="state directory (default: %(default)s)")
    p.add_argument("--template", default="template.yaml", help="BSAM template (default: %(default)s)")
    p.add_argument("--host", default=defaults.DEFAULT_HOST, help="listen address (default: %(default)s)")
    p.add_argument("--bos-port", type=int, default=defaults.BOS_PORT, help="BOS port (default: %(default)s)")
    p.add_argument("--mct-port", type=int, default=defaults.MCT_PORT, help="MCT port (default: %(default)s)")
    p.add_argument("--cfc-port", type=int, default=defaults.CFC_PORT, help="CFC HTTP triggers (default: %(default)s)")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment variable for every function (repeatable)",
    )
    p.add_argument("--no-watch", action="store_true", help="do not turn files dropped into bucket dirs into events")
    p.add_argument("--faults", default=None, help='fault injection, e.g. "api_error_rate=0.2,bos_redeliveries=1"')
    p.add_argument(
        "--no-provision",
        action="store_true",
        help="do not create the MCT pipeline and callback notification from the functions' config at start-up",
    )
    p.set_defaults(func=run)


def _parse_env(items: list[str]) -> dict[str, str]:
    env = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env {item!r}: use NAME=VALUE")
        env[name] = value
    return env


def run(args) -> int:
    from localcloud.cfc.template import TemplateError
    from localcloud.faults import FaultConfig, FaultConfigError
    from localcloud.stack import LocalStack, MctUnavailable, PortInUse

    try:
        faults = FaultConfig.parse(args.faults) if args.faults is not None else FaultConfig.from_env()
    except FaultConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stack = LocalStack(
        args.data_dir,
        args.template,
        host=args.host,
        bos_port=args.bos_port,
        mct_port=args.mct_port,
        cfc_port=args.cfc_port,
        env_overrides=_parse_env(args.env),
        watch=not args.no_watch,
        faults=faults,
    )
    try:
        stack.start()
    except (TemplateError, MctUnavailable, PortInUse) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.no_provision:
        from autotranscode.commands.provision import provision_localcloud

        try:
            provision_localcloud(stack)
        except RuntimeError as exc:
            stack.stop()
            print(f"error: {exc}", file=sys.stderr)
            return 2
    stopped = threading.Event()
    try:  # from here on every way out (Ctrl-C, SIGTERM, an error) stops the stack before the interpreter exits
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        print(describe(stack), flush=True)
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping localcloud ...", flush=True)
        stack.stop()
    return 0


def describe(stack) -> str:
    lines = [
        f"localcloud is up (state in {stack.data_dir})",
        f"  BOS  {stack.bos_url}   BosClient endpoint={stack.bos_endpoint!r}",
        f"  MCT  {stack.mct_url}   MediaClient endpoint={stack.mct_endpoint!r}",
        f"  CFC  {stack.cfc_url}   HTTP triggers; CFC API for CfcClient and `autotranscode deploy --endpoint`",
        f"  credentials (local only): access key {stack.access_key!r}, secret key {stack.secret_key!r}",
    ]
    for name, spec in stack.runtime.functions.items():
        for t in spec.bos_triggers:
            lines.append(f"  trigger  BOS {t.bucket}/{t.prefix}*{t.suffix} [{','.join(t.event_types)}] -> {name}")
        for t in spec.http_triggers:
            lines.append(f"  trigger  HTTP {','.join(t.methods)} {stack.cfc_url}{t.resource_path} -> {name}")
    watch = f"; or drop files into {stack.data_dir / 'buckets'}/<bucket>/" if stack.watch else ""
    lines.append(f"Upload with the BOS SDK{watch}. Dead letters: {stack.runtime.dead_letter_dir}. Ctrl-C stops.")
    return "\n".join(lines)
