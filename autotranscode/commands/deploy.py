"""`autotranscode deploy`: template.yaml + the config -> CFC functions and triggers (through bce-python-sdk's
``CfcClient``), then MCT provisioning with the HTTP trigger's URL as callback. Idempotent; ``--dry-run`` prints the
plan as a diff. What to change is decided in ``autotranscode.deploy_plan``; this module only talks to CFC."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

from autotranscode import deploy_plan as dp
from autotranscode.commands._functions import DEFAULT_CONFIG

DEFAULT_RUNTIME = "python3.10"  # the handlers need >= 3.10; bsam's "python3" is Python 3.6 in CFC
DEFAULT_ZIP = "dist/autotranscode-cfc.zip"
# CFC runtimes that can run handlers/ (CFC offers Python 2.7, 3.6, 3.9, 3.10, 3.12; doc Dk3ztr7pc).
SUPPORTED_RUNTIMES = ("python3.10", "python3.12")
ENDPOINT_ENV = "BCE_CFC_ENDPOINT"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "deploy",
        help="create/update the CFC functions and triggers of template.yaml, then provision MCT (idempotent)",
        description="Deploy template.yaml to CFC through its API: the functions (the `autotranscode build` zip, "
        f"runtime {DEFAULT_RUNTIME}, handler, memory, timeout, environment), their BOS, HTTP and crontab triggers "
        "(a changed trigger is replaced), then MCT presets, pipelines and the notification pointing at the HTTP "
        "trigger. Secrets come from your environment: BCE_ACCESS_KEY_ID and BCE_ACCESS_KEY_SECRET (required; they "
        f"sign the requests and go into the functions), {', '.join(dp.OPTIONAL_SECRETS)} (when set). "
        "A second run changes nothing and says so.",
    )
    p.add_argument("--template", default="template.yaml", help="BSAM template (default: %(default)s)")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="config packed into the zip (default: %(default)s)")
    p.add_argument(
        "--endpoint",
        default=None,
        help=f"CFC API endpoint (default: ${ENDPOINT_ENV}, else cfc.<region>.baidubce.com)",
    )
    p.add_argument("--region", default=None, help="CFC region (default: the config's mct.region, else bj)")
    p.add_argument("--runtime", default=DEFAULT_RUNTIME, choices=SUPPORTED_RUNTIMES, help="default: %(default)s")
    p.add_argument(
        "--zip", default=None, help=f"deploy this zip instead of running `autotranscode build` ({DEFAULT_ZIP})"
    )
    p.add_argument("--no-deps", action="store_true", help="build without requirements.txt (provided by a CFC layer)")
    p.add_argument("--skip-provision", action="store_true", help="do not provision MCT after the functions")
    p.add_argument("--dry-run", action="store_true", help="print the plan as a diff; change nothing")
    p.set_defaults(func=run)


class DeployError(Exception):
    """An API call failed; the message names the resource and says what to do."""


def run(args) -> int:
    try:
        return _run(args)
    except dp.DeployConfigError as exc:
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DeployError as exc:
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(args) -> int:
    from autotranscode.commands.check import run_before

    # The config alone (secrets, presets named): MCT's notification is set by this deploy, checked after it.
    if not run_before("deploy", args, deployable=True, offline=True):
        return 2
    specs, cfg = _load_inputs(args)
    env = os.environ
    missing = dp.missing_secrets(env)
    if missing:
        raise dp.DeployConfigError(
            f"{' and '.join(missing)} not set: export the access key that may use CFC and MCT (it signs these "
            "requests and goes into the functions' environment; it is never read from a file)"
        )
    config_name = Path(args.config).name
    zip_bytes = _zip(args, config_name)
    region = args.region or getattr(cfg.mct, "region", None) or "bj"
    endpoint = args.endpoint or env.get(ENDPOINT_ENV) or f"cfc.{region}.baidubce.com"
    client = cfc_client(endpoint, env)
    cfc = Cfc(client, endpoint)

    desired = dp.desired_functions(specs.values(), args.runtime, config_name, env)
    current, code_current, brns, have = {}, {}, {}, []
    for fn in desired:
        config = cfc.get_configuration(fn.name)
        current[fn.name] = dp.current_function(config) if config else None
        if config:
            brns[fn.name] = config.get("FunctionBrn", "")
            code_current[fn.name] = dp.code_matches(zip_bytes, config.get("CodeSha256"))
            have += [dp.current_trigger(fn.name, r) for r in cfc.list_triggers(fn.name, brns[fn.name])]
    want = dp.desired_triggers(specs.values())
    the_plan = dp.plan(desired, current, code_current, want, have)

    print(f"CFC {endpoint} (region {region}), runtime {args.runtime}, {len(zip_bytes) / 1e6:.1f} MB zip")
    if the_plan.empty:
        print(f"no changes: {len(the_plan.unchanged)} resources up to date ({', '.join(the_plan.unchanged)})")
    else:
        print(("plan (dry run, nothing changed):\n" if args.dry_run else "changes:\n") + dp.render(the_plan))
    if not args.dry_run:
        _apply(cfc, the_plan, zip_bytes, region, brns)
        if not the_plan.empty:
            print(f"deployed: {_summary(the_plan)}")
    if args.skip_provision:
        return 0
    return _provision(args, cfc, specs, brns)


def _load_inputs(args):
    from handlers.config import ConfigError, load_config
    from localcloud.cfc.template import TemplateError, load_template

    try:
        specs = load_template(args.template)
    except TemplateError as exc:
        raise dp.DeployConfigError(f"{args.template}: {exc}") from None
    if not Path(args.config).is_file():
        raise dp.DeployConfigError(f"--config {args.config}: no such file")
    env = {**os.environ, "AUTOTRANSCODE_CONFIG": args.config}
    env.pop("AUTOTRANSCODE_CONFIG_JSON", None)
    try:
        cfg = load_config(env)
    except ConfigError as exc:
        raise dp.DeployConfigError(f"config {args.config}: {exc}") from None
    return specs, cfg


def _zip(args, config_name: str) -> bytes:
    path = Path(args.zip or DEFAULT_ZIP)
    if not args.zip:
        from autotranscode.commands import build

        build_args = argparse.Namespace(
            config=args.config, requirements="requirements.txt", output=str(path), no_deps=args.no_deps
        )
        code = build.run(build_args)
        if code:
            raise dp.DeployConfigError(f"`autotranscode build` failed (exit {code}); fix that first")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise dp.DeployConfigError(f"--zip {path}: not a readable zip ({exc})") from None
    if "handlers/on_upload.py" not in names or config_name not in names:
        raise dp.DeployConfigError(
            f"--zip {path} lacks handlers/ or {config_name}; build it with `autotranscode build --config {args.config}`"
        )
    return path.read_bytes()


def cfc_client(endpoint: str, env):
    from baidubce.auth.bce_credentials import BceCredentials
    from baidubce.bce_client_configuration import BceClientConfiguration
    from baidubce.retry.retry_policy import NoRetryPolicy
    from baidubce.services.cfc.cfc_client import CfcClient

    # No SDK retries: CfcClient.send_request never counts its retries (0.9.79), so a refused connection or a 5xx
    # would be retried forever. Deploy is idempotent: run it again instead.
    config = BceClientConfiguration(
        credentials=BceCredentials(env["BCE_ACCESS_KEY_ID"], env["BCE_ACCESS_KEY_SECRET"]),
        endpoint=endpoint,
        security_token=env.get("BCE_SESSION_TOKEN") or None,
        retry_policy=NoRetryPolicy(),
    )
    return CfcClient(config)


def _plain(value):
    """SDK response objects (Expando, CamelCase keys kept) -> plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in vars(value).items() if k not in ("metadata", "raw_data")}
    return value


class Cfc:
    """The few CFC API calls deploy makes, each error turned into a DeployError naming the resource."""

    def __init__(self, client, endpoint: str):
        self.client = client
        self.endpoint = endpoint

    def _call(self, resource: str, action: str, fn):
        from baidubce.exception import BceHttpClientError

        try:
            return fn()
        except BceHttpClientError as exc:
            error = server_error(exc)
            if error is not None:
                status = getattr(error, "status_code", None)
                raise DeployError(
                    f"{resource}: {action} failed: HTTP {status} {error.code}: {error}. {_hint(status)}"
                ) from exc
            raise DeployError(
                f"{resource}: {action} failed: cannot reach CFC at {self.endpoint} ({exc.last_error}). Check "
                f"--endpoint / ${ENDPOINT_ENV} and the network, then run deploy again"
            ) from exc

    def get_configuration(self, name: str) -> dict | None:
        from baidubce.exception import BceHttpClientError

        def read():
            try:
                return _plain(self.client.get_function_configuration(name))
            except BceHttpClientError as exc:
                error = server_error(exc)
                if error is not None and getattr(error, "status_code", None) == 404:
                    return None  # not deployed yet
                raise

        return self._call(f"function {name}", "reading its configuration", read)

    def list_triggers(self, name: str, brn: str) -> list[dict]:
        response = self._call(f"function {name}", "listing its triggers", lambda: self.client.list_triggers(brn))
        return _plain(getattr(response, "Relation", None) or [])

    def create_function(self, fn: dp.FunctionConfig, zip_b64: str, region: str) -> dict:
        def create():
            return self.client.create_function(
                fn.name,
                description=fn.description,
                environment=dict(fn.environment),
                handler=fn.handler,
                memory_size=fn.memory_mb,
                region=region,
                zip_file=zip_b64,
                run_time=fn.runtime,
                timeout=fn.timeout_s,
            )

        return _plain(self._call(f"function {fn.name}", "create", create))

    def update_code(self, name: str, zip_b64: str) -> None:
        self._call(f"function {name}", "updating its code", lambda: self.client.update_function_code(name, zip_b64))

    def update_configuration(self, fn: dp.FunctionConfig) -> None:
        from baidubce.http import http_methods

        body = {
            "Description": fn.description,
            "Environment": {"Variables": dict(fn.environment)},
            "Handler": fn.handler,
            "Runtime": fn.runtime,
            "Timeout": fn.timeout_s,
            "MemorySize": fn.memory_mb,
        }
        # update_function_configuration() of bce-python-sdk 0.9.79 cannot send MemorySize (the API takes it:
        # bce-sdk-go UpdateFunctionConfigurationArgs), so the same request is sent through the SDK's own transport.
        self._call(f"function {fn.name}", "updating its configuration", lambda: self.client._send_request(
            http_methods.PUT, f"/functions/{fn.name}/configuration", body=json.dumps(body), params={}))  # fmt: skip

    def create_trigger(self, trigger: dp.Trigger, brn: str) -> None:
        data = dict(trigger.data)
        if trigger.source == dp.CRONTAB_SOURCE:
            data["Brn"] = brn
        if trigger.source.startswith(dp.BOS_SOURCE_PREFIX):
            data["Bucket"] = trigger.source[len(dp.BOS_SOURCE_PREFIX) :]
        self._call(trigger.label, "create", lambda: self.client.create_trigger(brn, trigger.source, data))

    def delete_trigger(self, trigger: dp.Trigger, brn: str) -> None:
        self._call(
            trigger.label, "delete", lambda: self.client.delete_trigger(brn, trigger.source, trigger.relation_id)
        )


def server_error(exc):
    """The CFC API's answer inside the SDK's BceHttpClientError (how CfcClient reports it without retries)."""
    from baidubce.exception import BceServerError

    error = getattr(exc, "last_error", None)
    return error if isinstance(error, BceServerError) else None


def _hint(status) -> str:
    if status in (401, 403):
        return "Check BCE_ACCESS_KEY_ID / BCE_ACCESS_KEY_SECRET and that this key may use CFC"
    if status == 404:
        return (
            "It does not exist (a BOS trigger's bucket must exist in the same region): create it, then run deploy again"
        )
    if status in (400, 409, 413):
        return "Fix the value named above in template.yaml or the config, then run deploy again"
    return "Run deploy again (it is idempotent); if it keeps failing, check the CFC console"


def _apply(cfc: Cfc, the_plan: dp.Plan, zip_bytes: bytes, region: str, brns: dict) -> None:
    zip_b64 = base64.b64encode(zip_bytes).decode("ascii")
    for change in the_plan.functions:
        fn = change.desired
        if change.action == "create":
            brns[fn.name] = cfc.create_function(fn, zip_b64, region).get("FunctionBrn", "")
            continue
        if change.code_changed:
            cfc.update_code(fn.name, zip_b64)
        if change.config_changed:
            cfc.update_configuration(fn)
    for change in the_plan.triggers:  # replace = delete, then create (bsam cannot update triggers at all)
        if change.current is not None:
            cfc.delete_trigger(change.current, brns[change.current.function])
        if change.desired is not None:
            cfc.create_trigger(change.desired, brns[change.desired.function])


def _summary(the_plan: dp.Plan) -> str:
    counts: dict[str, int] = {}
    for change in [*the_plan.functions, *the_plan.triggers]:
        kind = "function" if isinstance(change, dp.FunctionChange) else "trigger"
        key = f"{kind}s {change.action}d"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def _provision(args, cfc: Cfc, specs, brns: dict) -> int:
    """MCT presets, pipelines and the notification, by the existing `autotranscode provision`."""
    from autotranscode.commands import provision

    http = [(name, spec.http_triggers[0]) for name, spec in specs.items() if spec.http_triggers]
    if not http:
        print("no HTTP trigger in the template: MCT not provisioned")
        return 0
    name, trigger = http[0]
    callback_url = None
    if name in brns:
        for relation in cfc.list_triggers(name, brns[name]):
            data = relation.get("Data") or {}
            if relation.get("Source") == dp.HTTP_SOURCE and data.get("ResourcePath") == trigger.resource_path:
                callback_url = str(data.get("EndpointPrefix") or "").rstrip("/") + trigger.resource_path
    if not callback_url and args.dry_run:
        print(f"MCT: the URL of {name}'s HTTP trigger is known once it exists; run deploy without --dry-run")
        return 0
    if not callback_url:
        print(
            f"error: CFC reported no EndpointPrefix for the HTTP trigger {trigger.resource_path} of {name}; copy its "
            "URL from the CFC console and run `autotranscode provision --callback-url <URL>`",
            file=sys.stderr,
        )
        return 1
    print(f"MCT: {'plan' if args.dry_run else 'provisioning'} with callback {callback_url}")
    with tempfile.TemporaryDirectory(prefix="autotranscode-deploy-") as tmp:
        provision_args = argparse.Namespace(
            config=args.config,
            store_url=f"sqlite:///{Path(tmp) / 'unused.sqlite3'}",  # provisioning reads no store; never the real one
            callback_url=callback_url,
            notification_name=provision.DEFAULT_NOTIFICATION,
            capacity=20,
            dry_run=args.dry_run,
        )
        code = provision.run(provision_args)
    if code:
        print(
            "error: MCT provisioning failed (see above); the functions are deployed. Fix it and run deploy again",
            file=sys.stderr,
        )
    return code
