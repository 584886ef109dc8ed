"""`autotranscode console`: the web console (uploads, jobs, renditions playing, the done event and its deliveries)."""

from __future__ import annotations

import os
import sys

from autotranscode.commands._functions import add_common

ENV_CONSOLE_TOKEN = "AUTOTRANSCODE_CONSOLE_TOKEN"
DEFAULT_PORT = 18083


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "console",
        help="web console: uploads, jobs, renditions playing, done events and deliveries",
        description="Serve the web console over the store and BOS/MCT the config names (the same config as "
        "`autotranscode jobs`). Read-only and on 127.0.0.1 by default. Actions (redrive a failed job, retry a "
        f"delivery, sweep now) need --actions and a console token in ${ENV_CONSOLE_TOKEN}; so does any --host "
        "other than loopback (then every page asks for the token).",
    )
    add_common(p)
    p.add_argument("--host", default="127.0.0.1", help="listen address (default: %(default)s)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s; 0 = any free)")
    p.add_argument(
        "--bos-endpoint",
        default=None,
        help="BOS endpoint for media links (default: the config's bos.endpoint or $AUTOTRANSCODE_BOS_ENDPOINT; "
        "with neither, localcloud's BOS when MCT is local, else https://<mct.region>.bcebos.com)",
    )
    p.add_argument("--actions", action="store_true", help=f"enable actions (each needs ${ENV_CONSOLE_TOKEN})")
    p.set_defaults(func=run)


def settings_from(args):
    """ConsoleSettings from the flags and the environment, or exit 2 with the reason."""
    from autotranscode.console.app import ConsoleSettings, check_settings, is_loopback

    token = os.environ.get(ENV_CONSOLE_TOKEN) or None
    problem = check_settings(args.host, token, args.actions)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    return ConsoleSettings(token=token, actions=args.actions, tokens_for_reads=not is_loopback(args.host))


def run(args) -> int:
    import uvicorn

    from autotranscode.console.app import build_app
    from autotranscode.console.sources import open_sources
    from localcloud.serve import free_port

    settings = settings_from(args)
    sources = open_sources(args)
    app = build_app(sources, settings)
    port = args.port or free_port(args.host)
    config = uvicorn.Config(app, host=args.host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"console: http://{host}:{port}/  ({'actions enabled' if settings.actions else 'read-only'}; "
          "Ctrl-C stops)", flush=True)  # fmt: skip
    server.run()
    return 0
