"""`autotranscode up`: run localcloud (BOS + MCT + CFC from template.yaml) in the foreground until Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from handlers.config import (
    ENV_CONFIG_JSON,
    ENV_CONFIG_PATH,
    ENV_DOWNSTREAM_SECRET,
    ENV_SIGN_TOKEN,
    ENV_STORE_URL,
    ENV_URL_TOKEN,
)
from localcloud import defaults

# The functions' secrets `up` passes on from its own environment.
FORWARDED_SECRETS = (ENV_URL_TOKEN, ENV_SIGN_TOKEN, ENV_DOWNSTREAM_SECRET)
CONSOLE_PORT = 18083


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "up",
        help="run localcloud: BOS + MCT + the template's functions (CFC), wired together",
        description="Run localcloud in the foreground: a BOS and an MCT endpoint for the real SDKs, and the "
        "functions of template.yaml with their BOS and HTTP triggers. Uploads (SDK or files dropped into "
        "<data-dir>/buckets/<bucket>/) trigger the functions. The config is checked first (`autotranscode check`), MCT "
        "is provisioned and checked once up; AUTOTRANSCODE_CALLBACK_URL_TOKEN, AUTOTRANSCODE_CALLBACK_SIGN_TOKEN and "
        "AUTOTRANSCODE_DOWNSTREAM_SECRET of this environment reach the functions. Other commands find this stack's "
        "config, store and MCT through <data-dir>/autotranscode.state.json. Ctrl-C stops everything.",
    )
    p.add_argument("--data-dir", default=defaults.DEFAULT_DATA_DIR, help="state directory (default: %(default)s)")
    p.add_argument("--template", default=None,
                   help="BSAM template (default: ./template.yaml, else the one autotranscode ships)")  # fmt: skip
    p.add_argument("--config", default=None,
                   help="config JSON the functions run with (default: the one the template names); the BOS "
                        "triggers then follow its rules' buckets and prefixes")  # fmt: skip
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
    p.add_argument(
        "--console-port", type=int, default=CONSOLE_PORT, help="web console port (default: %(default)s; 0 = any free)"
    )
    p.add_argument("--no-console", action="store_true", help="do not serve the web console")
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
    if args.template is None:
        shipped = Path(__file__).resolve().parents[2] / "template.yaml"
        args.template = "template.yaml" if Path("template.yaml").exists() or not shipped.exists() else str(shipped)
    env_overrides = _parse_env(args.env)
    # Secrets kept out of the config file reach the functions the way `deploy` sends them: from this environment.
    for name in FORWARDED_SECRETS:
        if os.environ.get(name) and name not in env_overrides:
            env_overrides[name] = os.environ[name]
    # `--env AUTOTRANSCODE_CONFIG=x` means the same as `--config x` (the stack inlines the template's file otherwise)
    config = args.config or env_overrides.pop(ENV_CONFIG_PATH, None)
    data_dir = Path(args.data_dir).resolve()
    try:
        config_path = Path(config).resolve() if config else template_config(Path(args.template))
        if config_path is not None and not _preflight(config_path, offline=True):
            return 2
        template = local_template(Path(args.template), config_path, data_dir) if config else args.template
    except (TemplateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stack = LocalStack(
        data_dir,
        template,
        host=args.host,
        bos_port=args.bos_port,
        mct_port=args.mct_port,
        cfc_port=args.cfc_port,
        env_overrides=env_overrides,
        watch=not args.no_watch,
        faults=faults,
    )
    try:
        stack.start()
    except (TemplateError, MctUnavailable, PortInUse) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if config_path is not None:
            write_stack_state(stack, config_path)
        if not args.no_provision:
            from autotranscode.commands.provision import provision_localcloud

            provision_localcloud(stack)
            if config_path is not None and not _preflight(config_path, offline=False, data_dir=data_dir):
                raise RuntimeError("the preflight found errors (above)")
    except RuntimeError as exc:
        stack.stop()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    console = None
    if not args.no_console:
        console, problem = _start_console(stack, args)
        if problem:
            print(f"console not started: {problem}", file=sys.stderr)
    stopped = threading.Event()
    try:  # from here on every way out (Ctrl-C, SIGTERM, an error) stops the stack before the interpreter exits
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        print(describe(stack, console.url if console is not None else None), flush=True)
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping localcloud ...", flush=True)
        if console is not None:
            console.stop()
        stack.stop()
    return 0


def _preflight(config_path: Path, offline: bool, data_dir: Path | None = None) -> bool:
    """`autotranscode check` on the config the functions will run with (offline before the stack starts; against
    the stack's MCT and store once it is up). Local endpoints and placeholder tokens are expected here."""
    from argparse import Namespace

    from autotranscode.commands.check import run_before

    args = Namespace(config=str(config_path), store_url=None, data_dir=str(data_dir) if data_dir else None)
    return run_before("up", args, deployable=False, offline=offline)


def template_config(template: Path) -> Path | None:
    """The config file the template's functions name (AUTOTRANSCODE_CONFIG, relative to their CodeUri); None for
    a template of other functions (localcloud runs any CFC app)."""
    from localcloud.cfc.template import load_template

    for spec in load_template(template).values():
        if spec.environment.get(ENV_CONFIG_PATH):
            return (spec.code_dir / spec.environment[ENV_CONFIG_PATH]).resolve()
    return None


def local_template(template: Path, config_path: Path, data_dir: Path) -> Path:
    """The template with every function's AUTOTRANSCODE_CONFIG set to ``config_path`` and the BOS triggers of the
    upload function replaced by one per (bucket, prefix) of the config's rules (prefix only: the function matches
    the suffixes, without regard to case). Written to the data dir; template.yaml itself is left alone."""
    import yaml

    from autotranscode.settings import SettingsError
    from handlers.config import load_config

    cfg = load_config({**os.environ, ENV_CONFIG_PATH: str(config_path)})
    doc = yaml.safe_load(template.read_text(encoding="utf-8")) or {}
    watched = sorted({(r.bucket, p) for r in cfg.rules for p in (r.prefixes or [""])})
    for section in [(doc.get("Globals") or {}).get("Function") or {}, *[
            (r.get("Properties") or {}) for r in (doc.get("Resources") or {}).values()
            if str(r.get("Type", "")).endswith("::Function")]]:  # fmt: skip
        if "CodeUri" in section:
            section["CodeUri"] = str((template.resolve().parent / section["CodeUri"]).resolve())
        variables = (section.get("Environment") or {}).get("Variables") or {}
        if ENV_CONFIG_PATH in variables or ENV_CONFIG_JSON in variables:
            variables.pop(ENV_CONFIG_JSON, None)
            variables[ENV_CONFIG_PATH] = str(config_path)
        events = section.get("Events") or {}
        bos = {name: e for name, e in events.items() if (e or {}).get("Type") == "BOS"}
        if bos:
            types = next(iter(bos.values())).get("Properties", {}).get("EventTypes")
            for name in bos:
                del events[name]
            for i, (bucket, prefix) in enumerate(watched, 1):
                events[f"Upload{i}"] = {"Type": "BOS", "Properties": {"Bucket": bucket, "Prefix": prefix,
                                                                      "EventTypes": types}}  # fmt: skip
    if "CodeUri" not in ((doc.get("Globals") or {}).get("Function") or {}):
        for r in (doc.get("Resources") or {}).values():
            props = r.get("Properties") or {}
            if str(r.get("Type", "")).endswith("::Function") and "CodeUri" not in props:
                props["CodeUri"] = str(template.resolve().parent)
    if not watched:
        raise SettingsError(f"{config_path}: no rule to trigger on")
    data_dir.mkdir(parents=True, exist_ok=True)
    out = data_dir / "template.local.yaml"
    out.write_text(f"# {template} run with {config_path} (autotranscode up --config)\n" +
                   yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")  # fmt: skip
    return out


def write_stack_state(stack, config_path: Path) -> Path:
    """The state file every other command reads (autotranscode.settings): the config the functions run with (MCT
    endpoint pointed at this stack), their store, the endpoints, the callback URL."""
    import json

    from autotranscode.settings import write_state

    effective, store_url, callback_url = None, None, None
    for name, spec in stack.runtime.functions.items():
        env = stack.runtime.function_env(name)
        if env.get(ENV_CONFIG_JSON) and effective is None:
            effective, store_url = json.loads(env[ENV_CONFIG_JSON]), env.get(ENV_STORE_URL)
        if spec.http_triggers and callback_url is None:
            callback_url = stack.cfc_url + spec.http_triggers[0].resource_path
    if effective is None:
        raise RuntimeError(f"no function of {stack.template_path} runs with a config file")
    return write_state(stack.data_dir, config_source=str(config_path), effective_config=effective,
                       store_url=store_url or effective.get("store_url", ""), mct_endpoint=stack.mct_url,
                       bos_endpoint=stack.bos_endpoint, cfc_url=stack.cfc_url, callback_url=callback_url,
                       template=str(stack.template_path))  # fmt: skip


def _start_console(stack, args):
    """The read-only console next to the stack (same host); -> (server or None, why not)."""
    import os

    from autotranscode.commands.console import ENV_CONSOLE_TOKEN
    from autotranscode.console.app import ConsoleSettings, check_settings, is_loopback
    from autotranscode.console.serve import serve_for_stack
    from handlers.config import ConfigError
    from localcloud.stack import PortInUse, check_port_free

    token = os.environ.get(ENV_CONSOLE_TOKEN) or None
    problem = check_settings(args.host, token, actions=False)
    if problem:
        return None, problem
    try:
        check_port_free("console", args.host, args.console_port)
    except PortInUse as exc:
        return None, str(exc)
    settings = ConsoleSettings(token=token, tokens_for_reads=not is_loopback(args.host))
    try:
        return serve_for_stack(stack, host=args.host, port=args.console_port, settings=settings), None
    except ConfigError as exc:  # the template's functions have no usable config: localcloud still runs
        return None, str(exc)


def describe(stack, console_url: str | None = None) -> str:
    lines = [
        f"localcloud is up (state in {stack.data_dir})",
        f"  BOS  {stack.bos_url}   BosClient endpoint={stack.bos_endpoint!r}",
        f"  MCT  {stack.mct_url}   MediaClient endpoint={stack.mct_endpoint!r}",
        f"  CFC  {stack.cfc_url}   HTTP triggers; CFC API for CfcClient and `autotranscode deploy --endpoint`",
        *([f"  console  {console_url}/   (read-only web console: uploads, jobs, renditions)"] if console_url else []),
        f"  credentials (local only): access key {stack.access_key!r}, secret key {stack.secret_key!r}",
    ]
    for name, spec in stack.runtime.functions.items():
        for t in spec.bos_triggers:
            lines.append(f"  trigger  BOS {t.bucket}/{t.prefix}*{t.suffix} [{','.join(t.event_types)}] -> {name}")
        for t in spec.http_triggers:
            lines.append(f"  trigger  HTTP {','.join(t.methods)} {stack.cfc_url}{t.resource_path} -> {name}")
        for t in getattr(spec, "crontab_triggers", ()):
            lines.append(f"  trigger  CRONTAB {t.schedule} ({t.name}) -> {name}")
    watch = f"; or drop files into {stack.data_dir / 'buckets'}/<bucket>/" if stack.watch else ""
    lines.extend(events_report(stack.runtime))
    lines.append(f"Upload with the BOS SDK{watch}. Ctrl-C stops.")
    return "\n".join(lines)


def events_report(runtime) -> list[str]:
    """What the durable event queue holds at start: events a previous run left, and dead letters."""
    lines = []
    if runtime.recovered:
        lines.append(f"  events   {runtime.recovered} event(s) left by the last run are being delivered again")
    dead = runtime.dead_letters()
    if dead:
        functions = ", ".join(sorted({d.function for d in dead}))
        lines.append(
            f"  events   {len(dead)} dead-lettered event(s) ({functions}) exhausted CFC's retries: "
            "list them with `autotranscode events dead-letters`, run them again with "
            "`autotranscode events replay --all`"
        )
    return lines
