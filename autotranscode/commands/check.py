"""`autotranscode check`: preflight — the config, then MCT (pipelines, presets, notification), the store and the
secrets, so a mistake fails here and never at an upload. `up` and `build` run it first; `deploy` can call
`preflight`.

The checks are plain functions returning findings; `preflight` runs them in order and `report` prints them.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlparse

from autotranscode.settings import (
    Resolved,
    add_arguments,
    is_local_endpoint,
    open_store_clearly,
    resolve_local,
    with_local_credentials,
)

ERROR, WARNING, OK = "error", "warning", "ok"
# Values that are clearly not real secrets (the example config's, docs' and tests').
PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "placeholder", "example", "xxxx", "your-", "todo")


@dataclass(frozen=True)
class Finding:
    level: str  # error | warning | ok
    subject: str  # what was checked: "config", "preset 720p", "pipeline autotranscode", "store", ...
    message: str

    def line(self) -> str:
        return f"{self.level.upper():7} {self.subject}: {self.message}"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "check",
        help="preflight: the config, MCT (pipelines, presets, notification), the store and the secrets",
        description="Checks everything an upload will need, before any upload: the config; against MCT (real or "
        "local) that each rule's pipeline exists and reads the rule's bucket, each preset exists (or is in "
        "`presets`, which `provision` creates), the pipeline's notification points at the callback URL; that the "
        "store is reachable with its tables; that the secrets are set. Warns about local endpoints and "
        "placeholder tokens. Exit status 2 when anything is wrong.",
    )
    add_arguments(p)
    p.add_argument("--offline", action="store_true", help="check the config alone (no MCT, no store)")
    p.add_argument("--callback-url", help="the notification function's public URL (default: the local stack's)")
    p.add_argument("--json", action="store_true", help="findings as a JSON array on stdout")
    p.set_defaults(func=run)


def run(args) -> int:
    resolved = resolve_local(args)
    # beside a local stack local endpoints are the point; elsewhere they are a mistake
    findings = preflight(resolved, offline=args.offline, callback_url=args.callback_url,
                         deployable=resolved.state is None)  # fmt: skip
    if args.json:
        print(json.dumps([f.__dict__ for f in findings], indent=2, ensure_ascii=False))
    else:
        report(findings, resolved)
    return 2 if any(f.level == ERROR for f in findings) else 0


def report(findings: list[Finding], resolved: Resolved | None = None, out=None, show_ok: bool = True) -> None:
    out = out or sys.stderr
    if resolved is not None:
        print(f"config {resolved.config_source}", file=out)
    for f in findings:
        if show_ok or f.level != OK:
            print(f.line(), file=out)
    errors = sum(f.level == ERROR for f in findings)
    warnings = sum(f.level == WARNING for f in findings)
    print(f"{errors} error(s), {warnings} warning(s)", file=out)


def preflight(resolved: Resolved, offline: bool = False, callback_url: str | None = None,
              deployable: bool = True) -> list[Finding]:  # fmt: skip
    """Every check in order; stops after the config when it does not load. ``deployable`` adds the warnings that
    only matter outside localcloud (local endpoints, placeholder tokens)."""
    from handlers.config import ConfigError, load_config

    try:
        cfg = load_config(resolved.env)
    except ConfigError as exc:
        return [Finding(ERROR, "config", resolved.name_sources(str(exc)))]
    findings = [Finding(OK, "config", f"{len(cfg.rules)} rule(s), {len(cfg.presets)} custom preset(s)")]
    findings += check_secrets(cfg, resolved.env, deployable)
    if offline:
        return findings + check_presets_named(cfg)
    env = with_local_credentials(resolved.env, cfg.mct.endpoint)
    findings += check_store(cfg.store_url, resolved.store_source)
    mct = _mct_client(cfg, env, findings)
    if mct is not None:
        findings += check_mct(cfg, mct, callback_url or resolved.callback_url)
    return findings


# ----- offline checks ----------------------------------------------------------------------------------------
def is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return any(word in lowered for word in PLACEHOLDER_WORDS)


def check_secrets(cfg, env: dict[str, str], deployable: bool) -> list[Finding]:
    """Secrets set (callback auth, downstream signing), and — for a deployment — no local endpoints or
    placeholder values."""
    from handlers.config import ENV_ACCESS_KEY, ENV_SECRET_KEY

    out = []
    cb = cfg.callback
    tokens = [("callback.url_token", cb.url_token), ("callback.sign_token", cb.sign_token)]
    if cfg.downstream is not None:
        tokens.append(("downstream.secret", cfg.downstream.secret))
        if cfg.downstream.secret is None:
            out.append(Finding(WARNING, "downstream.secret", "not set: the done events go out unsigned; set "
                               "AUTOTRANSCODE_DOWNSTREAM_SECRET and verify them in your app"))  # fmt: skip
    if cb.allow_unauthenticated and cb.url_token is None and cb.sign_token is None:
        out.append(Finding(WARNING, "callback", "allow_unauthenticated: anyone can post callbacks (local only)"))
    if deployable:
        for name, secret in tokens:
            if secret is not None and is_placeholder(secret.get_secret_value()):
                out.append(Finding(WARNING, name, "looks like a placeholder; set a long random value "
                                   "(through the function's environment, not the file)"))  # fmt: skip
        endpoints = [("mct.endpoint", cfg.mct.endpoint), ("callback.endpoint", cb.endpoint or "")]
        if cfg.downstream is not None:
            endpoints.append(("downstream.url", cfg.downstream.url))
        for name, url in endpoints:
            if url and is_local_endpoint(url):
                out.append(Finding(WARNING, name, f"{url} is a local address: fine for localcloud, unreachable "
                                   "from CFC"))  # fmt: skip
        if not is_local_endpoint(cfg.mct.endpoint) and not (env.get(ENV_ACCESS_KEY) and env.get(ENV_SECRET_KEY)):
            out.append(Finding(WARNING, "credentials", f"{ENV_ACCESS_KEY} / {ENV_SECRET_KEY} are not set here; "
                               "the functions need them in their environment"))  # fmt: skip
    if not any(f.level != OK for f in out):
        out.append(Finding(OK, "secrets", "set"))
    return out


def check_presets_named(cfg) -> list[Finding]:
    """Offline: a target preset that is neither a system preset (bce.*) nor in `presets` must already exist in MCT."""
    custom = {p["presetName"] for p in cfg.presets}
    out = []
    for rule in cfg.rules:
        for t in rule.targets:
            if t.preset not in custom and not t.preset.startswith("bce."):
                out.append(Finding(WARNING, f"preset {t.preset}", f"rule {rule.rule_name!r} target "
                                   f"{t.target_name!r}: not in `presets`; it must already exist in MCT (checked "
                                   "without --offline)"))  # fmt: skip
    return out


# ----- the store -----------------------------------------------------------------------------------------------
def check_store(store_url: str, setting: str) -> list[Finding]:
    """Reachable, its schema current (the store reports its version where it can), its tables usable."""
    from autotranscode.settings import SettingsError
    from handlers.adapters import store as store_mod
    from handlers.adapters.store import redact_url

    out = []
    schema_status = getattr(store_mod, "schema_status", None)  # schema versions, where the store has them
    if schema_status is not None:
        try:
            current, latest = schema_status(store_url)
        except Exception:
            current = latest = None  # unreachable: open_store_clearly below says where and what to change
        if current is not None and current > latest:
            newer = f"has schema version {current}, newer than this code's {latest}"
            return [Finding(ERROR, "store", f"{redact_url(store_url)} {newer}: deploy the newer code, or point "
                            f"{setting} at another store")]  # fmt: skip
        if current is not None and current < latest:
            out.append(Finding(OK, "store schema", f"version {current}: migrated to {latest} as it opens"))
    try:
        store = open_store_clearly(store_url, setting)
    except SettingsError as exc:
        return [Finding(ERROR, "store", str(exc))]
    try:
        query = getattr(store, "query", None)
        if query is not None:
            for table in ("at_uploads", "at_jobs", "at_deliveries"):
                query(f"SELECT COUNT(*) FROM {table}")
    except Exception as exc:
        return [Finding(ERROR, "store", f"{redact_url(store_url)}: its schema is not usable ({exc}); change {setting}")]
    finally:
        dispose = getattr(store, "dispose", None)
        if dispose is not None:
            dispose()
    return [*out, Finding(OK, "store", f"{redact_url(store_url)} reachable, tables present")]


# ----- MCT -----------------------------------------------------------------------------------------------------
def _mct_client(cfg, env: dict[str, str], findings: list[Finding]):
    from handlers.adapters.mct_sdk import SdkMct
    from handlers.config import ConfigError, credentials_from_env

    try:
        creds = credentials_from_env(env)
    except ConfigError as exc:
        findings.append(Finding(ERROR, "credentials", str(exc)))
        return None
    return SdkMct(cfg.mct.endpoint, creds.access_key_id, creds.secret_access_key.get_secret_value(),
                  creds.session_token.get_secret_value() if creds.session_token else None,
                  min(cfg.mct.timeout_seconds, 10))  # fmt: skip


def check_mct(cfg, mct, callback_url: str | None) -> list[Finding]:
    """Pipelines (exist, read the rule's bucket, notify the callback URL) and presets (exist or are in `presets`)."""
    from handlers.services.ports import MctError, MctNotFound
    from handlers.wire.mct_views import snake

    endpoint = cfg.mct.endpoint
    out: list[Finding] = []

    def get(fn: Callable[[], Any]):
        return snake(mct._call(fn))

    try:
        mct._call(lambda: mct.client.list_pipelines())
    except MctError as exc:
        return [Finding(ERROR, "mct", f"{endpoint}: {exc}; check mct.endpoint and the credentials")]
    out.append(Finding(OK, "mct", f"{endpoint} answers"))
    seen: set[str] = set()
    for rule in cfg.rules:
        name = cfg.pipeline_for(rule)
        try:
            pipeline = get(lambda n=name: mct.client.get_pipeline(n))
        except MctNotFound:
            out.append(Finding(ERROR, f"pipeline {name}", f"does not exist in MCT at {endpoint} (rule "
                               f"{rule.rule_name!r}); run `autotranscode provision`"))  # fmt: skip
            continue
        except MctError as exc:
            out.append(Finding(ERROR, f"pipeline {name}", f"{endpoint}: {exc}"))
            continue
        if pipeline.get("source_bucket") != rule.bucket:
            out.append(Finding(ERROR, f"pipeline {name}", f"reads bucket {pipeline.get('source_bucket')!r} but rule "
                               f"{rule.rule_name!r} watches {rule.bucket!r}: its jobs would not find their "
                               "sources; set the rule's pipeline to one reading that bucket"))  # fmt: skip
        elif name not in seen:
            out.append(Finding(OK, f"pipeline {name}", f"reads {rule.bucket!r}"))
        if name not in seen:
            out += _check_notification(cfg, mct, name, pipeline, callback_url, get)
        seen.add(name)
    out += _check_presets(cfg, mct, get)
    return out


def _check_notification(cfg, mct, name, pipeline, callback_url, get) -> list[Finding]:
    from handlers.services.ports import MctError

    subject = f"pipeline {name} notification"
    notification = (pipeline.get("config") or {}).get("notification")
    if not notification:
        return [Finding(ERROR, subject, "none: MCT will never call back (jobs end only by the reconciler); run "
                        "`autotranscode provision --callback-url URL`")]  # fmt: skip
    try:
        endpoint = get(lambda: mct.client.get_notification(notification)).get("endpoint") or ""
    except MctError as exc:
        return [Finding(ERROR, subject, f"{notification}: {exc}")]
    parts = urlparse(endpoint)
    token = dict(parse_qsl(parts.query)).get("token")
    problems = []
    if callback_url:
        want = urlparse(callback_url)
        if (parts.scheme, parts.netloc, parts.path) != (want.scheme, want.netloc, want.path):
            problems.append(f"points at {parts.scheme}://{parts.netloc}{parts.path}, not at {callback_url}")
    elif parts.path != cfg.callback.path:
        problems.append(f"path {parts.path!r} is not callback.path {cfg.callback.path!r}")
    url_token = cfg.callback.url_token.get_secret_value() if cfg.callback.url_token else None
    if url_token and token != url_token:
        problems.append("its ?token= is not callback.url_token (the callbacks would be refused)")
    if problems:
        return [Finding(ERROR, subject, f"{notification} " + "; ".join(problems) +
                        "; run `autotranscode provision --callback-url URL`")]  # fmt: skip
    return [Finding(OK, subject, f"{notification} -> {parts.scheme}://{parts.netloc}{parts.path}")]


def _check_presets(cfg, mct, get) -> list[Finding]:
    from handlers.domain.planning import portrait_preset_name, portrait_variants
    from handlers.services.ports import MctError, MctNotFound

    custom = {p["presetName"] for p in cfg.presets}
    out, seen = [], set()
    portrait = portrait_variants(cfg.mediainfo_check)
    for rule in cfg.rules:
        for t in rule.targets:
            names = [(t.preset, False)]
            size = t.frame_size
            if portrait and size and size[0] > size[1]:
                names.append((portrait_preset_name(t.preset), True))
            for name, variant in names:
                if name in seen:
                    continue
                seen.add(name)
                try:
                    get(lambda n=name: mct.client.get_preset(n))
                    out.append(Finding(OK, f"preset {name}", "exists"))
                except MctNotFound:
                    if variant or name in custom:
                        why = "portrait variant" if variant else "in `presets`"
                        out.append(Finding(WARNING, f"preset {name}", f"{why}, not yet in MCT: "
                                           "`autotranscode provision` creates it"))  # fmt: skip
                    else:
                        out.append(Finding(ERROR, f"preset {name}", f"does not exist in MCT at {cfg.mct.endpoint} "
                                           f"(rule {rule.rule_name!r}, target {t.target_name!r}): fix the name or "
                                           "add its body to `presets` (docs/configuration.md)"))  # fmt: skip
                except MctError as exc:
                    out.append(Finding(ERROR, f"preset {name}", str(exc)))
    return out


def run_before(command: str, args, deployable: bool, offline: bool = False) -> bool:
    """For `up`, `build`, `deploy`: run the preflight, print what is not OK; False when an error was found."""
    resolved = resolve_local(args, environ=dict(os.environ))
    findings = preflight(resolved, offline=offline, deployable=deployable)
    bad = [f for f in findings if f.level != OK]
    if bad:
        print(f"{command}: preflight (`autotranscode check`):", file=sys.stderr)
        for f in bad:
            print("  " + f.line(), file=sys.stderr)
    return not any(f.level == ERROR for f in findings)
