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

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from handlers import rules as rules_mod

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


class ConfigError(Exception):
    """The configuration cannot be used; the message names the field, the value and how to fix it."""


class _Model(BaseModel):
    # Typos in a config file should fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class MctCredentials(_Model):
    access_key_id: str
    secret_access_key: SecretStr
    session_token: SecretStr | None = None


class MctConfig(_Model):
    endpoint: str = Field(
        default="",
        description="MCT endpoint, e.g. http://127.0.0.1:18081; default http://media.{region}.baidubce.com",
    )
    region: str = Field(default="bj", pattern=r"^[a-z]{2,8}$")
    pipeline: str = Field(description="default MCT pipeline; its source bucket must be the rule's bucket")
    timeout_seconds: float = Field(default=10, gt=0, le=120)
    max_attempts: int = Field(default=4, ge=1, le=10, description="tries per MCT call on transient errors")
    backoff_seconds: float = Field(default=0.3, ge=0, le=30)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        return v.strip().rstrip("/")

    @model_validator(mode="after")
    def _default_endpoint(self) -> MctConfig:
        if not self.endpoint:
            # Host pattern from the Go/Java SDKs (reference mct-api §1); only bj/gz/su are known to exist.
            object.__setattr__(self, "endpoint", f"http://media.{self.region}.baidubce.com")
        return self

    @field_validator("pipeline")
    @classmethod
    def _pipeline(cls, v: str) -> str:
        if not MCT_NAME_RE.match(v):
            raise ValueError("MCT pipeline names match [a-z][0-9a-z_]{0,39}; e.g. autotranscode")
        return v


class Target(_Model):
    preset: str
    key: str = Field(description="output key template, e.g. transcoded/{dir}/{stem}/{preset}.{ext}")
    name: str | None = Field(default=None, description="stable id of this rendition; defaults to the preset")
    ext: str | None = Field(default=None, description="output extension for {ext}; default from the preset name")
    bucket: str | None = None
    width: int | None = Field(default=None, gt=0, description="output frame size for mediainfo_check")
    height: int | None = Field(default=None, gt=0)

    @field_validator("preset")
    @classmethod
    def _preset(cls, v: str) -> str:
        if not PRESET_NAME_RE.match(v):
            raise ValueError("preset names are lowercase, e.g. bce.video_mp4_1280x720_2048kbps or my_720p")
        return v

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        rules_mod.check_template(v)
        return v

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


class Thumbnail(_Model):
    name: str = "thumbnail"
    key_prefix: str = Field(description="key prefix template, e.g. thumbnails/{dir}/{stem}/")
    format: Literal["jpg", "png", "gif", "webp", "mp4"] = "jpg"
    mode: Literal["auto", "manual", "split", "shot", "idl", "highlight"] = "auto"
    width: int | None = Field(default=None, ge=10, le=2000)
    height: int | None = Field(default=None, ge=10, le=2000)
    start_seconds: float | None = Field(default=None, ge=0)
    end_seconds: float | None = Field(default=None, ge=0)
    interval_seconds: float | None = Field(default=None, gt=0)
    frame_number: int | None = Field(default=None, ge=1)
    preset: str | None = None
    bucket: str | None = None

    @field_validator("key_prefix")
    @classmethod
    def _key_prefix(cls, v: str) -> str:
        rules_mod.check_template(v)
        return v


class Rule(_Model):
    name: str | None = None
    bucket: str
    prefixes: list[str] = Field(default_factory=list, description="any of these key prefixes; empty = all keys")
    suffixes: list[str] = Field(default_factory=list, description="any of these suffixes, case-insensitive")
    pipeline: str | None = Field(default=None, description="overrides mct.pipeline for this rule")
    targets: list[Target] = Field(default_factory=list)
    thumbnails: list[Thumbnail] = Field(default_factory=list)

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str) -> str:
        if not v or "/" in v:
            raise ValueError("a BOS bucket name without slashes, e.g. my-uploads")
        return v

    @model_validator(mode="after")
    def _some_output(self) -> Rule:
        if not self.targets and not self.thumbnails:
            raise ValueError("a rule needs at least one entry in targets or thumbnails")
        names = [t.target_name for t in self.targets] + [f"thumbnail:{t.name}" for t in self.thumbnails]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(
                f"target names must be unique within a rule, repeated: {dupes}; set `name` to tell them apart"
            )
        return self

    @property
    def rule_name(self) -> str:
        return self.name or f"{self.bucket}:{','.join(self.prefixes) or '*'}"


class CallbackConfig(_Model):
    sign_token: SecretStr | None = Field(default=None, description="token of the MCT SIGN notification")
    url_token: SecretStr | None = Field(default=None, description="secret expected as ?token=... in the URL")
    endpoint: str | None = Field(default=None, description="the notification endpoint as registered in MCT (SIGN)")
    path: str = "/mct/callback"
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=10 * 1024 * 1024)
    sign_max_age_seconds: int = Field(default=900, ge=0)
    allow_unauthenticated: bool = Field(default=False, description="accept callbacks without any auth (local only)")

    @model_validator(mode="after")
    def _auth(self) -> CallbackConfig:
        if self.sign_token is not None and not self.endpoint:
            raise ValueError("callback.endpoint is required with sign_token: SIGN covers the endpoint URL")
        if self.sign_token is None and self.url_token is None and not self.allow_unauthenticated:
            raise ValueError(
                f"set url_token (or sign_token + endpoint) so forged callbacks are refused; env {ENV_URL_TOKEN} / "
                f"{ENV_SIGN_TOKEN} work too; allow_unauthenticated: true is for local experiments only"
            )
        return self


class DownstreamConfig(_Model):
    url: str
    secret: SecretStr | None = None
    timeout_seconds: float = Field(default=5, gt=0, le=60)
    max_attempts: int = Field(default=3, ge=1, le=10)
    backoff_seconds: float = Field(default=0.5, ge=0, le=30)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v


class MediainfoCheck(_Model):
    enabled: bool = True
    # Without this a small source would get no rendition at all.
    keep_smallest: bool = True


class ReconcileConfig(_Model):
    stale_after_minutes: float = Field(default=10, ge=0)
    redeliver_after_minutes: float = Field(default=5, ge=0)
    batch_size: int = Field(default=100, ge=1, le=1000)


class Config(_Model):
    mct: MctConfig
    rules: list[Rule] = Field(min_length=1)
    callback: CallbackConfig = Field(default_factory=CallbackConfig)
    store_url: str = DEFAULT_STORE_URL
    downstream: DownstreamConfig | None = None
    mediainfo_check: MediainfoCheck = Field(default_factory=MediainfoCheck)
    submit_concurrency: int = Field(default=8, ge=1, le=64)
    # Custom MCT presets for `autotranscode provision`: bodies as POST /v3/preset takes them (presetName, container,
    # audio, video, ...). The functions never read this.
    presets: list[dict[str, Any]] = Field(default_factory=list)
    reconcile: ReconcileConfig = Field(default_factory=ReconcileConfig)

    @field_validator("mediainfo_check", mode="before")
    @classmethod
    def _bool_mediainfo(cls, v: Any) -> Any:
        return {"enabled": v} if isinstance(v, bool) else v

    @field_validator("presets")
    @classmethod
    def _presets(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, preset in enumerate(v):
            name = preset.get("presetName")
            if not isinstance(name, str) or not MCT_NAME_RE.match(name):
                raise ValueError(f"presets[{i}].presetName must match [a-z][0-9a-z_]{{0,39}}, got {name!r}")
            if not preset.get("container"):
                raise ValueError(f"presets[{i}] ({name}) needs a container, e.g. mp4")
        return v

    @model_validator(mode="after")
    def _no_recursion(self) -> Config:
        problems = rules_mod.recursion_problems(self.rules)
        if problems:
            raise ValueError("outputs would re-trigger the upload function: " + "; ".join(problems))
        return self

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
    return MctCredentials(
        access_key_id=ak, secret_access_key=SecretStr(sk), session_token=_secret(env.get(ENV_SESSION_TOKEN))
    )


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


def _describe(errors: list[dict[str, Any]]) -> str:
    lines = []
    for err in errors:
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        # Never echo what may be a secret (a misspelt "url_tokn" is still a token).
        secret_like = any(w in loc.lower() for w in ("token", "secret", "password", "key_id", "access"))
        shown = "" if isinstance(value, dict | list) or secret_like else f" (got {value!r})"
        if err["type"] == "extra_forbidden":
            lines.append(f"{loc}: unknown field; check the spelling (see docs/configuration.md)")
        elif err["type"] == "missing":
            lines.append(f"{loc}: required field is missing")
        else:
            lines.append(f"{loc}: {err['msg'].removeprefix('Value error, ')}{shown}")
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
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source} is invalid:\n  {_describe(exc.errors())}") from None


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
    roots = [env.get("BCE_USER_CODE_ROOT"), str(Path(__file__).resolve().parent.parent)]
    for root in filter(None, roots):
        candidate = Path(root) / path
        if candidate.exists():
            return candidate
    return path
