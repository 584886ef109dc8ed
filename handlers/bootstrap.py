"""Builds the collaborators of the use-cases (config, store, MCT client, HTTP post) once per cold start."""

from __future__ import annotations

import threading

from handlers import config as config_mod
from handlers.adapters.bos_sdk import SdkBos
from handlers.adapters.mct_sdk import SdkMct
from handlers.adapters.store import open_store, parse_store_url, redact_url
from handlers.logs import logger, register_secret
from handlers.services.deps import Deps
from handlers.services.ports import BosPort, MctPort, Store


def register_config_secrets(cfg: config_mod.Config) -> None:
    cb = cfg.callback
    for secret in (cb.sign_token, cb.url_token, cfg.downstream.secret if cfg.downstream else None):
        if secret is not None:
            register_secret(secret.get_secret_value())
    if not cfg.store_url.startswith("memory:"):
        register_secret(parse_store_url(cfg.store_url).password)  # a bad URL: ValueError (password redacted)


def build_deps(
    env: dict[str, str] | None = None, mct: MctPort | None = None, store: Store | None = None,
    bos: BosPort | None = None,
) -> Deps:  # fmt: skip
    """Load and validate everything; raise ConfigError with a clear message at cold start."""
    cfg = config_mod.load_config(env)
    register_config_secrets(cfg)
    if mct is None:
        creds = config_mod.credentials_from_env(env)
        register_secret(creds.secret_access_key.get_secret_value())
        if creds.session_token:
            register_secret(creds.session_token.get_secret_value())
        if bos is None:  # the same key lists the watched prefixes, reads versions and writes HLS master playlists
            bos = SdkBos(
                cfg.bos.endpoint,
                creds.access_key_id,
                creds.secret_access_key.get_secret_value(),
                creds.session_token.get_secret_value() if creds.session_token else None,
                cfg.mct.timeout_seconds,
            )
        mct = SdkMct(
            cfg.mct.endpoint,
            creds.access_key_id,
            creds.secret_access_key.get_secret_value(),
            creds.session_token.get_secret_value() if creds.session_token else None,
            cfg.mct.timeout_seconds,
        )
    if store is None:
        store = open_store(cfg.store_url)
    logger.info(
        "autotranscode ready",
        extra={"rules": len(cfg.rules), "store": redact_url(cfg.store_url), "mct_endpoint": cfg.mct.endpoint},
    )
    return Deps(config=cfg, store=store, mct=mct, bos=bos)


_deps: Deps | None = None
_deps_lock = threading.Lock()


def get_deps() -> Deps:
    """The process-wide Deps (cold start builds them; warm invocations reuse them)."""
    global _deps
    if _deps is None:
        with _deps_lock:
            if _deps is None:
                _deps = build_deps()
    return _deps


def set_deps(deps: Deps | None) -> None:
    """Tests and localcloud: install (or clear, with None) the process-wide Deps."""
    global _deps
    _deps = deps


def init_at_cold_start() -> None:
    """Called at import by the entrypoints: a bad configuration fails the cold start, not the first upload.
    Without any config env var (e.g. a test importing the module) building is deferred to the first call."""
    import os

    if _deps is None and (os.environ.get(config_mod.ENV_CONFIG_JSON) or os.environ.get(config_mod.ENV_CONFIG_PATH)):
        try:
            get_deps()
        except config_mod.ConfigError as exc:
            logger.error("configuration error", extra={"error": str(exc)})
            raise
