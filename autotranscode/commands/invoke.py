"""`autotranscode invoke FUNCTION --event events/x.json`: run one function from template.yaml locally, like
`bsam local invoke` — its Handler, with its Environment.Variables (overridable with --env NAME=VALUE)."""

from __future__ import annotations

import importlib
import json
import os
import sys
import uuid
from pathlib import Path

from autotranscode.settings import logs_to_stderr


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "invoke",
        help="run a template.yaml function once with an event file (like `bsam local invoke`)",
    )
    p.add_argument("function", help="logical name in template.yaml, e.g. OnUpload, OnNotification")
    p.add_argument("--event", "-e", help="event JSON file (default: {} ; '-' reads stdin)")
    p.add_argument("--template", "-t", default=None,
                   help="default: the local stack's, else ./template.yaml, else the shipped one")  # fmt: skip
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="override an env var")
    p.add_argument("--data-dir", default=None,
                   help="run beside the local stack of this data dir (default: .localcloud if it holds one): its "
                        "config, store and MCT, so the jobs it creates complete there")  # fmt: skip
    p.set_defaults(func=run)


class LocalContext:
    """What a CFC context offers ([UNVERIFIED] names; handlers/wire/cfc_context.py adapts whatever it gets)."""

    def __init__(self, name: str, memory: int, timeout: int):
        self.request_id = str(uuid.uuid4())
        self.function_name = name
        self.function_version = "$LATEST"
        self.function_brn = f"brn:bce:cfc:bj:local:function:{name}:$LATEST"
        self.memory_limit_in_mb = memory
        self._timeout_ms = timeout * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


def load_function(template: Path, name: str) -> dict:
    import yaml

    try:
        doc = yaml.safe_load(template.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise SystemExit(f"error: cannot read {template}: {exc.strerror}") from None
    resources = doc.get("Resources") or {}
    functions = {k: v for k, v in resources.items() if str(v.get("Type", "")).endswith("::Function")}
    if name not in functions:
        raise SystemExit(f"error: {template} has no function {name!r}; it has: {', '.join(functions) or 'none'}")
    props = dict((doc.get("Globals") or {}).get("Function") or {})
    props.update(functions[name].get("Properties") or {})
    env = dict(((doc.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables") or {})
    env.update((props.get("Environment") or {}).get("Variables") or {})
    props["_env"] = {k: str(v) for k, v in env.items()}
    return props


def beside_stack(args, env: dict[str, str]) -> None:
    """With a local stack's state file: the stack's config (MCT endpoint included), store and credentials."""
    from autotranscode.settings import (
        ENV_ACCESS_KEY,
        ENV_CONFIG_JSON,
        ENV_CONFIG_PATH,
        ENV_SECRET_KEY,
        ENV_STORE_URL,
        LOCAL_ACCESS_KEY,
        LOCAL_SECRET_KEY,
        SettingsError,
        read_state,
    )

    overridden = {item.partition("=")[0] for item in args.env} & {ENV_CONFIG_PATH, ENV_CONFIG_JSON, ENV_STORE_URL}
    if overridden and not args.data_dir:
        return  # the caller chose the config / store
    state = read_state(args.data_dir)
    if state is None:
        if args.data_dir:
            raise SettingsError(f"--data-dir {args.data_dir}: no local stack state there (start `autotranscode up`)")
        return
    env.pop(ENV_CONFIG_JSON, None)
    env.update({ENV_CONFIG_PATH: state["effective_config"], ENV_STORE_URL: state["store_url"],
                ENV_ACCESS_KEY: LOCAL_ACCESS_KEY, ENV_SECRET_KEY: LOCAL_SECRET_KEY})  # fmt: skip
    print(f"config {state['config']} as run by the local stack ({state['_path']})", file=sys.stderr)
    print(f"store  {state['store_url']}   MCT {state['mct_endpoint']}", file=sys.stderr)


def default_template(data_dir: str | None) -> str:
    from autotranscode.settings import read_state

    state = read_state(data_dir)
    if state and state.get("template"):
        return state["template"]
    shipped = Path(__file__).resolve().parents[2] / "template.yaml"
    return "template.yaml" if Path("template.yaml").exists() or not shipped.exists() else str(shipped)


def run(args) -> int:
    template = Path(args.template or default_template(args.data_dir)).resolve()
    props = load_function(template, args.function)
    handler_path = props.get("Handler") or ""
    module_name, _, func_name = handler_path.rpartition(".")
    if not module_name:
        print(f"error: Handler {handler_path!r} must look like module.function", file=sys.stderr)
        return 2
    beside_stack(args, props["_env"])
    for item in args.env:
        if "=" not in item:
            print(f"error: --env {item!r}: use NAME=VALUE", file=sys.stderr)
            return 2
        key, value = item.split("=", 1)
        props["_env"][key] = value
    if args.event == "-":
        event = json.load(sys.stdin)
    elif args.event:
        try:
            event = json.loads(Path(args.event).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"error: --event {args.event}: {exc}", file=sys.stderr)
            return 2
    else:
        event = {}
    code_dir = (template.parent / str(props.get("CodeUri") or ".")).resolve()
    os.environ.update(props["_env"])
    logs_to_stderr()  # stdout is for the function's result
    os.environ.setdefault("BCE_USER_CODE_ROOT", str(code_dir))
    sys.path.insert(0, str(code_dir))
    os.chdir(code_dir)
    context = LocalContext(args.function, int(props.get("MemorySize") or 128), int(props.get("Timeout") or 3))
    try:
        module = importlib.import_module(module_name)
        result = getattr(module, func_name)(event, context)
    except Exception as exc:
        print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}, ensure_ascii=False))
        return 1
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0
