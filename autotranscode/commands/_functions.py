"""Shared by the function-side commands (provision, jobs, redrive, reconcile): load config, store, MCT client."""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlparse

DEFAULT_CONFIG = "autotranscode.example.json"


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        default=None,
        help=f"config JSON (default: $AUTOTRANSCODE_CONFIG, $AUTOTRANSCODE_CONFIG_JSON, else {DEFAULT_CONFIG})",
    )
    p.add_argument("--store-url", default=None, help="store URL (default: $AUTOTRANSCODE_STORE_URL or the config's)")


def function_env(args) -> dict[str, str]:
    env = dict(os.environ)
    if args.config:
        env.pop("AUTOTRANSCODE_CONFIG_JSON", None)
        env["AUTOTRANSCODE_CONFIG"] = args.config
    elif not env.get("AUTOTRANSCODE_CONFIG") and not env.get("AUTOTRANSCODE_CONFIG_JSON"):
        env["AUTOTRANSCODE_CONFIG"] = DEFAULT_CONFIG
    if getattr(args, "store_url", None):
        env["AUTOTRANSCODE_STORE_URL"] = args.store_url
    return env


def _is_local(endpoint: str) -> bool:
    host = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}").hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def load_deps(args):
    """Deps for the CLI; with a local MCT endpoint and no BCE_* env, the localcloud credentials are used."""
    from handlers.bootstrap import build_deps
    from handlers.config import ENV_ACCESS_KEY, ENV_SECRET_KEY, ConfigError, load_config

    env = function_env(args)
    try:
        cfg = load_config(env)
        if not env.get(ENV_ACCESS_KEY) and _is_local(cfg.mct.endpoint):
            from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

            env[ENV_ACCESS_KEY], env[ENV_SECRET_KEY] = DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
        return build_deps(env)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
