"""Loading the configuration: one JSON document, validated at cold start (the models: handlers/config/models.py).

Where it comes from (first match wins):
  AUTOTRANSCODE_CONFIG_JSON   inline JSON text
  AUTOTRANSCODE_CONFIG        path to a JSON file (relative paths are tried against the cwd, then the code root)
Secrets never live in the file: MCT credentials come from BCE_ACCESS_KEY_ID / BCE_ACCESS_KEY_SECRET
(+ optional BCE_SESSION_TOKEN); the callback tokens and the downstream secret may be given in the file for local
use but the env vars AUTOTRANSCODE_CALLBACK_SIGN_TOKEN, AUTOTRANSCODE_CALLBACK_URL_TOKEN and
AUTOTRANSCODE_DOWNSTREAM_SECRET override them (use those in CFC). AUTOTRANSCODE_STORE_URL overrides store_url,
AUTOTRANSCODE_BOS_ENDPOINT overrides bos.endpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from handlers.config.decoding import Invalid, Secret, decode
from handlers.config.models import ENV_SIGN_TOKEN, ENV_URL_TOKEN, Config, MctCredentials

ENV_CONFIG_JSON = "AUTOTRANSCODE_CONFIG_JSON"
ENV_CONFIG_PATH = "AUTOTRANSCODE_CONFIG"
ENV_STORE_URL = "AUTOTRANSCODE_STORE_URL"
ENV_BOS_ENDPOINT = "AUTOTRANSCODE_BOS_ENDPOINT"
ENV_DOWNSTREAM_SECRET = "AUTOTRANSCODE_DOWNSTREAM_SECRET"
ENV_ACCESS_KEY = "BCE_ACCESS_KEY_ID"
ENV_SECRET_KEY = "BCE_ACCESS_KEY_SECRET"
ENV_SESSION_TOKEN = "BCE_SESSION_TOKEN"
# The editor's pointer to autotranscode.schema.json; not a setting.
SCHEMA_KEY = "$schema"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the field, the value and how to fix it."""


def credentials_from_env(env: dict[str, str] | None = None) -> MctCredentials:
    env = os.environ if env is None else env
    ak, sk = env.get(ENV_ACCESS_KEY, ""), env.get(ENV_SECRET_KEY, "")
    missing = [name for name, value in ((ENV_ACCESS_KEY, ak), (ENV_SECRET_KEY, sk)) if not value]
    if missing:
        raise ConfigError(
            f"MCT credentials missing: set {' and '.join(missing)} in the function's environment "
            "(CFC console > function > environment variables; never in the config file)"
        )
    session_token = env.get(ENV_SESSION_TOKEN)
    return MctCredentials(
        access_key_id=ak, secret_access_key=Secret(sk), session_token=Secret(session_token) if session_token else None
    )


def _describe(exc: Invalid) -> str:
    lines = []
    for problem in exc.problems:
        loc = problem.path or "(top level)"
        # Never echo what may be a secret (a misspelt "url_tokn" is still a token).
        secret_like = any(w in loc.lower() for w in ("token", "secret", "password", "key_id", "access"))
        shown = problem.has_value and not secret_like and not isinstance(problem.value, dict | list)
        if problem.kind == "unknown":
            lines.append(f"{loc}: unknown field; check the spelling (see docs/configuration.md)")
        elif problem.kind == "missing":
            lines.append(f"{loc}: required field is missing")
        else:
            lines.append(f"{loc}: {problem.message}" + (f" (got {problem.value!r})" if shown else ""))
    return "\n  ".join(lines)


def parse_config(data: Any, env: dict[str, str] | None = None, source: str = "config") -> Config:
    """Validate a decoded JSON document (+ env overrides) into a Config, or raise ConfigError."""
    env = os.environ if env is None else env
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a JSON object, got {type(data).__name__}")
    data = json.loads(json.dumps(data))  # deep copy; we add env overrides below
    data.pop(SCHEMA_KEY, None)
    if env.get(ENV_STORE_URL):
        data["store_url"] = env[ENV_STORE_URL]
    if env.get(ENV_BOS_ENDPOINT):
        bos = data.setdefault("bos", {})
        if isinstance(bos, dict):
            bos["endpoint"] = env[ENV_BOS_ENDPOINT]
    callback = data.setdefault("callback", {})
    if isinstance(callback, dict):
        if env.get(ENV_SIGN_TOKEN):
            callback["sign_token"] = env[ENV_SIGN_TOKEN]
        if env.get(ENV_URL_TOKEN):
            callback["url_token"] = env[ENV_URL_TOKEN]
    if env.get(ENV_DOWNSTREAM_SECRET) and isinstance(data.get("downstream"), dict):
        data["downstream"]["secret"] = env[ENV_DOWNSTREAM_SECRET]
    mct = data.get("mct")
    if isinstance(mct, dict):
        for bad in ("access_key_id", "secret_access_key", "ak", "sk", "credentials"):
            if bad in mct:
                raise ConfigError(
                    f"{source}: mct.{bad} must not be in the config file; set {ENV_ACCESS_KEY} and "
                    f"{ENV_SECRET_KEY} in the environment instead"
                )
    try:
        return decode(data, Config)
    except Invalid as exc:
        raise ConfigError(f"{source} is invalid:\n  {_describe(exc)}") from None


def load_config(env: dict[str, str] | None = None) -> Config:
    """Read the configuration the environment points at (see the module docstring)."""
    env = os.environ if env is None else env
    inline = env.get(ENV_CONFIG_JSON)
    if inline:
        try:
            data = json.loads(inline)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{ENV_CONFIG_JSON} is not valid JSON: {exc}") from None
        return parse_config(data, env, source=ENV_CONFIG_JSON)
    path_text = env.get(ENV_CONFIG_PATH)
    if not path_text:
        raise ConfigError(
            f"no configuration: set {ENV_CONFIG_PATH}=<path to a JSON file> or {ENV_CONFIG_JSON}=<JSON text> "
            "(start from autotranscode.example.json)"
        )
    path = _find(path_text, env)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{ENV_CONFIG_PATH}={path_text!r}: cannot read the file ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    return parse_config(data, env, source=str(path))


def _find(path_text: str, env: dict[str, str]) -> Path:
    path = Path(path_text)
    if path.is_absolute() or path.exists():
        return path
    # In CFC the code lives in BCE_USER_CODE_ROOT (/var/task); the cwd may be elsewhere.
    roots = [env.get("BCE_USER_CODE_ROOT"), str(Path(__file__).resolve().parents[2])]
    for root in filter(None, roots):
        candidate = Path(root) / path
        if candidate.exists():
            return candidate
    return path
