"""Shared by the function-side commands (provision, jobs, redrive, reconcile, check): config, store, MCT client —
found the same way by all of them (autotranscode.settings)."""

from __future__ import annotations

import argparse

from autotranscode.settings import (
    EXAMPLE_CONFIG,
    add_arguments,
    announce,
    open_store_clearly,
    resolve_local,
    with_local_credentials,
)

DEFAULT_CONFIG = EXAMPLE_CONFIG


def add_common(p: argparse.ArgumentParser) -> None:
    add_arguments(p)


def load_deps(args, quiet: bool = False):
    """Deps for the CLI; with a local MCT endpoint and no BCE_* env, the localcloud credentials are used.
    Says on stderr which config, store and MCT it uses. ConfigError / SettingsError reach cli.main (exit 2)."""
    from autotranscode.settings import SettingsError, logs_to_stderr
    from handlers.bootstrap import build_deps
    from handlers.config import ConfigError, load_config

    logs_to_stderr(verbose=getattr(args, "verbose", False))
    resolved = resolve_local(args)
    try:
        cfg = load_config(resolved.env)
    except ConfigError as exc:
        raise SettingsError(resolved.name_sources(str(exc))) from None
    env = with_local_credentials(resolved.env, cfg.mct.endpoint)
    if not quiet:
        announce(resolved, cfg.store_url, cfg.mct.endpoint)
    store = open_store_clearly(cfg.store_url, resolved.store_source)
    deps = build_deps(env, store=store)
    deps.extra["resolved"] = resolved
    return deps
