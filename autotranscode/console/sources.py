"""Where the console reads from: the store and MCT (the functions' Deps) and BOS (pre-signed URLs, playlists).

`open_sources` is the one place that finds the configuration; it uses the same lookup as `autotranscode jobs`
(--config / $AUTOTRANSCODE_CONFIG / $AUTOTRANSCODE_CONFIG_JSON, --store-url / $AUTOTRANSCODE_STORE_URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

# How long a pre-signed media URL in a page stays valid.
LINK_SECONDS = 3600


class MediaLinks(Protocol):
    origin: str  # scheme://host:port of the media URLs (the pages' Content-Security-Policy allows it)

    def url(self, bucket: str, key: str) -> str: ...
    def read_text(self, bucket: str, key: str) -> str | None: ...  # None: no such object


class BosLinks:
    """Pre-signed BOS URLs with the SDK's BosClient (the same code works against real BOS and localcloud)."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, session_token: str | None = None):
        from baidubce.auth.bce_credentials import BceCredentials
        from baidubce.bce_client_configuration import BceClientConfiguration
        from baidubce.services.bos.bos_client import BosClient

        credentials = BceCredentials(access_key, secret_key)
        config = BceClientConfiguration(credentials=credentials, endpoint=endpoint, security_token=session_token)
        self.client = BosClient(config)
        parsed = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
        self.origin = f"{parsed.scheme}://{parsed.netloc}"

    def url(self, bucket: str, key: str) -> str:
        url = self.client.generate_pre_signed_url(bucket, key, expiration_in_seconds=LINK_SECONDS)
        return url.decode("utf-8") if isinstance(url, bytes) else str(url)

    def read_text(self, bucket: str, key: str) -> str | None:
        from baidubce.exception import BceHttpClientError

        try:
            data = self.client.get_object_as_string(bucket, key)
        except BceHttpClientError as exc:
            if getattr(getattr(exc, "last_error", None), "status_code", None) == 404:
                return None
            raise
        return data.decode("utf-8") if isinstance(data, bytes) else str(data)


@dataclass
class Sources:
    deps: Any  # handlers.services.deps.Deps: config, store, MCT client (and what the actions need)
    media: MediaLinks


def bos_endpoint(config, local: bool) -> str:
    """The config's bos.endpoint (or $AUTOTRANSCODE_BOS_ENDPOINT); when that is only the region's default and MCT
    is local, localcloud's BOS next to it."""
    mct = config.mct
    if local and config.bos.endpoint == f"https://{mct.region}.bcebos.com":
        from localcloud.defaults import BOS_PORT

        host = urlparse(mct.endpoint if "://" in mct.endpoint else f"http://{mct.endpoint}").hostname
        return f"http://{host}:{BOS_PORT}"
    return config.bos.endpoint


def open_sources(args) -> Sources:
    """Config, store, MCT and BOS for the console, the way the other commands find them (exits 2 on a bad
    config)."""
    from autotranscode.commands._functions import load_deps
    from autotranscode.settings import is_local_endpoint, with_local_credentials
    from handlers.config import ENV_ACCESS_KEY, ENV_SECRET_KEY, ENV_SESSION_TOKEN

    deps = load_deps(args)
    local = is_local_endpoint(deps.config.mct.endpoint)
    env = with_local_credentials(deps.extra["resolved"].env, deps.config.mct.endpoint)
    endpoint = args.bos_endpoint or bos_endpoint(deps.config, local)
    links = BosLinks(endpoint, env[ENV_ACCESS_KEY], env[ENV_SECRET_KEY], env.get(ENV_SESSION_TOKEN) or None)
    return Sources(deps, links)


def sources_for_stack(stack) -> Sources:
    """The console over a running localcloud (`autotranscode up`, the demo, tests): the functions' own config,
    store and credentials, and the stack's BOS."""
    from handlers.bootstrap import build_deps
    from handlers.config import ENV_ACCESS_KEY, ENV_CONFIG_JSON, ENV_CONFIG_PATH, ENV_SECRET_KEY, ConfigError

    envs = [stack.runtime.function_env(name) for name in stack.runtime.functions]
    env = next((e for e in envs if e.get(ENV_CONFIG_JSON) or e.get(ENV_CONFIG_PATH)), None)
    if env is None:
        raise ConfigError(f"no function of the template has {ENV_CONFIG_PATH} or {ENV_CONFIG_JSON} in its environment")
    deps = build_deps(env)
    return Sources(deps, BosLinks(stack.bos_endpoint, env[ENV_ACCESS_KEY], env[ENV_SECRET_KEY]))
