"""`autotranscode provision`: create or update what the config needs in MCT — custom presets, pipelines, the
notification — idempotently (a second run changes nothing)."""

from __future__ import annotations

import hashlib
import sys
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from autotranscode.commands._functions import add_common, load_deps

DEFAULT_NOTIFICATION = "autotranscode_cb"
PRESET_ARGS = {  # POST /v3/preset body key -> MediaClient.create_preset keyword
    "transmux": "transmux",
    "description": "description",
    "clip": "clip",
    "audio": "audio",
    "video": "video",
    "encryption": "encryption",
    "watermarkId": "watermark_id",
    "extraCfg": "extra_config",
    "transCfg": "trans_config",
}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "provision",
        help="create/update MCT presets, pipelines and the callback notification from the config (idempotent)",
    )
    add_common(p)
    p.add_argument("--callback-url", help="public URL of the notification function, e.g. https://…/mct/callback "
                   "(default: the local stack's)")  # fmt: skip
    p.add_argument("--notification-name", default=DEFAULT_NOTIFICATION, help="default: %(default)s")
    p.add_argument("--capacity", type=int, default=20, help="capacity of pipelines created here (default: 20)")
    p.add_argument("--dry-run", action="store_true", help="print what would change")
    p.set_defaults(func=run)


def callback_endpoint(url: str, url_token: str | None) -> str:
    """The URL MCT should call: with ?token=<url_token> when the config uses a URL token."""
    if not url_token:
        return url
    parts = urlparse(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    query.append(("token", url_token))
    return urlunparse(parts._replace(query=urlencode(query)))


PRESET_BODY_KEYS = ("presetName", "container", *PRESET_ARGS)


def desired_presets(cfg, get_preset) -> list[tuple[str, dict]]:
    """(name, body) of every preset provision keeps in MCT: the config's `presets`, then the portrait variant of
    every landscape preset a target names (with mediainfo_check on; handlers/domain/planning.py
    picks them for portrait sources). get_preset(name) reads a preset not in the config (a system one) from MCT."""
    from handlers.domain.planning import portrait_preset_name, portrait_variants
    from handlers.services.ports import MctNotFound

    custom = {p["presetName"]: p for p in cfg.presets}
    wanted: dict[str, dict] = dict(custom)
    check = cfg.mediainfo_check
    if portrait_variants(check):
        for rule in cfg.rules:
            for target in rule.targets:
                size = target.frame_size
                variant = portrait_preset_name(target.preset)
                if variant in wanted or not size or size[0] <= size[1]:  # the planner turns only landscape ones
                    continue
                try:
                    base = custom.get(target.preset) or get_preset(target.preset)
                except MctNotFound:
                    continue  # `check` reports the missing preset itself
                body = portrait_variant(base, variant)
                if body is not None:
                    wanted[variant] = body
    return list(wanted.items())


def portrait_variant(body: dict, name: str) -> dict | None:
    """A landscape preset turned upright (its width and height limits swapped), or None if it is not landscape."""
    import copy

    video = body.get("video") or {}
    for w_key, h_key in (("maxWidthInPixel", "maxHeightInPixel"), ("widthInPixel", "heightInPixel")):
        w, h = video.get(w_key), video.get(h_key)
        if w and h and w > h:
            new = {k: copy.deepcopy(v) for k, v in body.items() if k in PRESET_BODY_KEYS}
            new["presetName"] = name
            new["video"][w_key], new["video"][h_key] = h, w
            new["description"] = f"portrait variant of {body.get('presetName')} (autotranscode provision)"
            return new
    return None


def preset_diff(desired: dict, current: dict, path: str = "") -> list[str]:
    """What would change in MCT: every setting of the desired body that differs from the current one."""
    changes = []
    for key, want in desired.items():
        if key == "presetName":
            continue
        have = current.get(key) if isinstance(current, dict) else None
        if isinstance(want, dict) and isinstance(have, dict):
            changes += preset_diff(want, have, f"{path}{key}.")
        elif have != want:
            changes.append(f"{path}{key}: {'(unset)' if have is None else repr(have)} -> {want!r}")
    return changes


def _plain(value):
    """SDK response objects (camelCase kept by get_*_for_update) -> plain dicts for the update body."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in vars(value).items() if k not in ("metadata", "raw_data", "status_code")}
    return value


def run(args) -> int:
    from handlers.services.ports import MctError, MctNotFound
    from handlers.wire.mct_views import snake

    deps = load_deps(args)
    cfg, sdk = deps.config, deps.mct
    client = getattr(sdk, "client", None)
    if client is None:
        print("error: provision needs the real MCT client", file=sys.stderr)
        return 2
    actions: list[str] = []

    def call(fn):
        return sdk._call(fn)

    def act(message: str, fn=None) -> None:
        actions.append(("would " if args.dry_run else "") + message)
        if fn is not None and not args.dry_run:
            call(fn)

    try:
        for name, body in desired_presets(cfg, lambda n: _plain(call(lambda: client.get_preset_for_update(n)))):
            try:
                current = _plain(call(lambda n=name: client.get_preset_for_update(n)))
            except MctNotFound:
                kwargs = {PRESET_ARGS[k]: v for k, v in body.items() if k in PRESET_ARGS}
                act(f"create preset {name}", lambda b=body, kw=kwargs: client.create_preset(
                    b["presetName"], b["container"], **kw))  # fmt: skip
                continue
            changes = preset_diff(body, current)
            if not changes:
                actions.append(f"preset {name}: up to date")
                continue
            act(f"update preset {name}:\n    " + "\n    ".join(changes),
                lambda n=name, b=body: client.update_preset(n, b))  # fmt: skip

        notification = None
        callback_url = args.callback_url or deps.extra["resolved"].callback_url  # the local stack's by default
        if callback_url:
            token = cfg.callback.url_token.get_secret_value() if cfg.callback.url_token else None
            endpoint = callback_endpoint(callback_url, token)
            # A notification in use cannot be changed in place: a new endpoint gets a new name (suffixed with a
            # digest of the endpoint), pipelines are switched over to it below.
            base = args.notification_name
            candidates = [base, f"{base}_{hashlib.sha256(endpoint.encode()).hexdigest()[:8]}"]
            for notification in candidates:
                try:
                    current = snake(call(lambda n=notification: client.get_notification(n)))
                except MctNotFound:
                    act(f"create notification {notification}",
                        lambda n=notification: client.create_notification(n, endpoint))  # fmt: skip
                    break
                if current.get("endpoint") == endpoint:
                    actions.append(f"notification {notification}: up to date")
                    break

        seen: set[str] = set()
        for rule in cfg.rules:
            name = cfg.pipeline_for(rule)
            if name in seen:
                continue
            seen.add(name)
            target_bucket = next((t.bucket for t in rule.targets if t.bucket), rule.bucket)
            try:
                pipeline = snake(call(lambda n=name: client.get_pipeline(n)))
            except MctNotFound:
                pconf = {"capacity": args.capacity}
                if notification:
                    pconf["notification"] = notification
                act(f"create pipeline {name} ({rule.bucket} -> {target_bucket})",
                    lambda n=name, c=pconf, tb=target_bucket, sb=rule.bucket: client.create_pipeline(
                        n, sb, tb, "autotranscode", pipeline_config=c))  # fmt: skip
                continue
            if pipeline.get("source_bucket") != rule.bucket:
                print(f"warning: pipeline {name} reads bucket {pipeline.get('source_bucket')!r}, but rule "
                      f"{rule.rule_name!r} watches {rule.bucket!r}; jobs will not find their sources",
                      file=sys.stderr)  # fmt: skip
            current_notification = (pipeline.get("config") or {}).get("notification")
            if notification and current_notification != notification:

                def attach(n=name):
                    body = _plain(client.get_pipeline_for_update(n))
                    body.setdefault("config", {})["notification"] = notification
                    client.update_pipeline(n, body)

                act(f"attach notification {notification} to pipeline {name}", attach)
            else:
                actions.append(f"pipeline {name}: up to date")
    except MctError as exc:
        for line in actions:
            print(line)
        print(f"error: MCT at {cfg.mct.endpoint}: {exc}", file=sys.stderr)
        return 1
    for line in actions:
        print(line)
    return 0


def provision_localcloud(stack, say=print) -> None:
    """Provision a running localcloud for its template: for each function with an HTTP trigger (the notification
    function), its configuration with the callback pointed at that trigger on this CFC.

    Uses the functions' own environment, so what is provisioned is what they will run with.
    """
    import json

    from autotranscode.cli import main as cli

    for name, spec in stack.runtime.functions.items():
        env = stack.runtime.function_env(name)
        config_json = env.get("AUTOTRANSCODE_CONFIG_JSON")
        if not spec.http_triggers or not config_json:
            continue
        config_path = stack.data_dir / f"{name}.config.json"
        config_path.write_text(json.dumps(json.loads(config_json), indent=2), encoding="utf-8")
        callback_url = stack.cfc_url + spec.http_triggers[0].resource_path
        say(f"provisioning MCT for {name} (pipeline, notification -> {callback_url})")
        args = ["provision", "--config", str(config_path), "--callback-url", callback_url]
        if env.get("AUTOTRANSCODE_STORE_URL"):
            args += ["--store-url", env["AUTOTRANSCODE_STORE_URL"]]
        code = cli(args)
        if code != 0:
            raise RuntimeError(f"autotranscode provision for {name} failed with exit code {code}")
