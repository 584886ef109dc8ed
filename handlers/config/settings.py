"""Configuration: one JSON document, validated at cold start.

Where it comes from (first match wins):
  AUTOTRANSCODE_CONFIG_JSON   inline JSON text
  AUTOTRANSCODE_CONFIG        path to a JSON file (relative paths are tried against the cwd, then the code root)
Secrets never live in the file: MCT credentials come from BCE_ACCESS_KEY_ID / BCE_ACCESS_KEY_SECRET
(+ optional BCE_SESSION_TOKEN); the callback tokens and the downstream secret may be given in the file for local
use but the env vars AUTOTRANSCODE_CALLBACK_SIGN_TOKEN, AUTOTRANSCODE_CALLBACK_URL_TOKEN and
AUTOTRANSCODE_DOWNSTREAM_SECRET override them (use those in CFC). AUTOTRANSCODE_STORE_URL overrides store_url.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from handlers.config.validation import Invalid, Model, Secret, spec
from handlers.domain import rules as rules_mod

ENV_CONFIG_JSON = "AUTOTRANSCODE_CONFIG_JSON"
ENV_CONFIG_PATH = "AUTOTRANSCODE_CONFIG"
ENV_STORE_URL = "AUTOTRANSCODE_STORE_URL"
ENV_SIGN_TOKEN = "AUTOTRANSCODE_CALLBACK_SIGN_TOKEN"
ENV_URL_TOKEN = "AUTOTRANSCODE_CALLBACK_URL_TOKEN"
ENV_DOWNSTREAM_SECRET = "AUTOTRANSCODE_DOWNSTREAM_SECRET"
ENV_ACCESS_KEY = "BCE_ACCESS_KEY_ID"
ENV_SECRET_KEY = "BCE_ACCESS_KEY_SECRET"
ENV_SESSION_TOKEN = "BCE_SESSION_TOKEN"

# /tmp is the only writable place in CFC; locally this is fine too.
DEFAULT_STORE_URL = "sqlite:////tmp/autotranscode.sqlite3"
# MCT name rule for pipelines/presets/notifications (reference mct-api §8).
MCT_NAME_RE = re.compile(r"^[a-z][0-9a-z_]{0,39}$")
# System presets are named like bce.video_mp4_1280x720_2048kbps: allow dots for them.
PRESET_NAME_RE = re.compile(r"^[a-z][0-9a-z_.]{0,79}$")

# The models are plain read-only records checked by handlers/config/validation.py (pydantic: ~200 ms per cold start).
# Build them with parse_config / Model.from_dict: that checks types, limits and unknown keys; the constructor
# alone checks only the rules across fields (__post_init__).


class ConfigError(Exception):
    """The configuration cannot be used; the message names the field, the value and how to fix it."""


def _mct_name(v: str) -> str:
    if not MCT_NAME_RE.match(v):
        raise ValueError("MCT pipeline names match [a-z][0-9a-z_]{0,39}; e.g. autotranscode")
    return v


def _preset_name(v: str) -> str:
    if not PRESET_NAME_RE.match(v):
        raise ValueError("preset names are lowercase, e.g. bce.video_mp4_1280x720_2048kbps or my_720p")
    return v


def _template(v: str) -> str:
    rules_mod.check_template(v)
    return v


def _bucket(v: str) -> str:
    if not v or "/" in v:
        raise ValueError("a BOS bucket name without slashes, e.g. my-uploads")
    return v


def _http_url(v: str) -> str:
    if not v.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return v


class MctCredentials(Model):
    access_key_id: str
    secret_access_key: Secret
    session_token: Secret | None = None


class MctConfig(Model):
    endpoint: str = spec(
        "",
        check=lambda v: v.strip().rstrip("/"),
        doc="MCT endpoint, e.g. http://127.0.0.1:18081; default http://media.{region}.baidubce.com",
    )
    region: str = spec("bj", pattern=r"^[a-z]{2,8}$")
    pipeline: str = spec(check=_mct_name, doc="default MCT pipeline; its source bucket must be the rule's bucket")
    timeout_seconds: float = spec(10, gt=0, le=120)
    max_attempts: int = spec(4, ge=1, le=10, doc="tries per MCT call on transient errors")
    backoff_seconds: float = spec(0.3, ge=0, le=30)

    def __post_init__(self) -> None:
        if not self.endpoint:
            # Host pattern from the Go/Java SDKs (reference mct-api §1); only bj/gz/su are known to exist.
            object.__setattr__(self, "endpoint", f"http://media.{self.region}.baidubce.com")


class Target(Model):
    preset: str = spec(check=_preset_name)
    key: str = spec(check=_template, doc="output key template, e.g. transcoded/{dir}/{stem}/{preset}.{ext}")
    name: str | None = spec(None, doc="stable id of this rendition; defaults to the preset")
    ext: str | None = spec(None, doc="output extension for {ext}; default from the preset name")
    bucket: str | None = None
    width: int | None = spec(None, gt=0, doc="output frame size for mediainfo_check")
    height: int | None = spec(None, gt=0)

    @property
    def target_name(self) -> str:
        return self.name or self.preset

    @property
    def extension(self) -> str:
        return self.ext or rules_mod.extension_for_preset(self.preset)

    @property
    def frame_size(self) -> tuple[int, int] | None:
        if self.width and self.height:
            return (self.width, self.height)
        return rules_mod.size_from_preset_name(self.preset)


class Thumbnail(Model):
    name: str = "thumbnail"
    key_prefix: str = spec(check=_template, doc="key prefix template, e.g. thumbnails/{dir}/{stem}/")
    format: Literal["jpg", "png", "gif", "webp", "mp4"] = "jpg"
    mode: Literal["auto", "manual", "split", "shot", "idl", "highlight"] = "auto"
    width: int | None = spec(None, ge=10, le=2000)
    height: int | None = spec(None, ge=10, le=2000)
    start_seconds: float | None = spec(None, ge=0)
    end_seconds: float | None = spec(None, ge=0)
    interval_seconds: float | None = spec(None, gt=0)
    frame_number: int | None = spec(None, ge=1)
    preset: str | None = None
    bucket: str | None = None


class Rule(Model):
    name: str | None = None
    bucket: str = spec(check=_bucket)
    prefixes: list[str] = spec(default_factory=list, doc="any of these key prefixes; empty = all keys")
    suffixes: list[str] = spec(default_factory=list, doc="any of these suffixes, case-insensitive")
    pipeline: str | None = spec(None, doc="overrides mct.pipeline for this rule")
    targets: list[Target] = spec(default_factory=list)
    thumbnails: list[Thumbnail] = spec(default_factory=list)

    def __post_init__(self) -> None:
        if not self.targets and not self.thumbnails:
            raise ValueError("a rule needs at least one entry in targets or thumbnails")
        names = [t.target_name for t in self.targets] + [f"thumbnail:{t.name}" for t in self.thumbnails]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(
                f"target names must be unique within a rule, repeated: {dupes}; set `name` to tell them apart"
            )

    @property
    def rule_name(self) -> str:
        return self.name or f"{self.bucket}:{','.join(self.prefixes) or '*'}"


class CallbackConfig(Model):
    sign_token: Secret | None = spec(None, doc="token of the MCT SIGN notification")
    url_token: Secret | None = spec(None, doc="secret expected as ?token=... in the URL")
    endpoint: str | None = spec(None, doc="the notification endpoint as registered in MCT (SIGN)")
    path: str = "/mct/callback"
    max_body_bytes: int = spec(256 * 1024, ge=1024, le=10 * 1024 * 1024)
    sign_max_age_seconds: int = spec(86_400, ge=0)  # a replay window, not an expiry (see wire/mct_sign.py)
    allow_unauthenticated: bool = spec(False, doc="accept callbacks without any auth (local only)")

    def __post_init__(self) -> None:
        if self.sign_token is not None and not self.endpoint:
            raise ValueError("callback.endpoint is required with sign_token: SIGN covers the endpoint URL")
        if self.sign_token is None and self.url_token is None and not self.allow_unauthenticated:
            raise ValueError(
                f"set url_token (or sign_token + endpoint) so forged callbacks are refused; env {ENV_URL_TOKEN} / "
                f"{ENV_SIGN_TOKEN} work too; allow_unauthenticated: true is for local experiments only"
            )


class DownstreamConfig(Model):
    url: str = spec(check=_http_url)
    secret: Secret | None = None
    timeout_seconds: float = spec(5, gt=0, le=60)
    max_attempts: int = spec(3, ge=1, le=10)
    backoff_seconds: float = spec(0.5, ge=0, le=30)


class MediainfoCheck(Model):
    enabled: bool = True
    # Without this a small source would get no rendition at all.
    keep_smallest: bool = True


class ReconcileConfig(Model):
    stale_after_minutes: float = spec(10, ge=0)
    redeliver_after_minutes: float = spec(5, ge=0)
    batch_size: int = spec(100, ge=1, le=1000)


def _presets(v: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for i, preset in enumerate(v):
        name = preset.get("presetName")
        if not isinstance(name, str) or not MCT_NAME_RE.match(name):
            raise ValueError(f"presets[{i}].presetName must match [a-z][0-9a-z_]{{0,39}}, got {name!r}")
        if not preset.get("container"):
            raise ValueError(f"presets[{i}] ({name}) needs a container, e.g. mp4")
    return v


class Config(Model):
    mct: MctConfig
    rules: list[Rule] = spec(min_length=1)
    callback: CallbackConfig = spec(default_factory=CallbackConfig)
    store_url: str = DEFAULT_STORE_URL
    downstream: DownstreamConfig | None = None
    mediainfo_check: MediainfoCheck = spec(
        default_factory=MediainfoCheck, before=lambda v: {"enabled": v} if isinstance(v, bool) else v
    )
    submit_concurrency: int = spec(8, ge=1, le=64)
    # Custom MCT presets for `autotranscode provision`: bodies as POST /v3/preset takes them (presetName, container,
    # audio, video, ...). The functions never read this.
    presets: list[dict[str, Any]] = spec(default_factory=list, check=_presets)
    reconcile: ReconcileConfig = spec(default_factory=ReconcileConfig)

    def __post_init__(self) -> None:
        problems = rules_mod.recursion_problems(self.rules)
        if problems:
            raise ValueError("outputs would re-trigger the upload function: " + "; ".join(problems))

    def pipeline_for(self, rule: Rule) -> str:
        return rule.pipeline or self.mct.pipeline


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
    if env.get(ENV_STORE_URL):
        data["store_url"] = env[ENV_STORE_URL]
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
        return Config.from_dict(data)
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
