"""The configuration models: read-only msgspec Structs. Build them with handlers.config.decoding.decode (types,
limits, unknown fields, every problem at once); the constructor alone runs only __post_init__. The JSON Schema that
editors use (autotranscode.schema.json) is generated from these classes: `python -m handlers.config.schema`."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from msgspec import Meta, Struct, field
from msgspec.structs import force_setattr

from handlers.config.decoding import Secret, check_fields, hint
from handlers.domain import rules as rules_mod

# /tmp is the only writable place in CFC; locally this is fine too.
DEFAULT_STORE_URL = "sqlite:////tmp/autotranscode.sqlite3"
# MCT name rule for pipelines/presets/notifications (reference mct-api §8).
MCT_NAME = r"^[a-z][0-9a-z_]{0,39}$"
# System presets are named like bce.video_mp4_1280x720_2048kbps: allow dots for them.
PRESET_NAME = r"^[a-z][0-9a-z_.]{0,79}$"
ENV_URL_TOKEN = "AUTOTRANSCODE_CALLBACK_URL_TOKEN"
ENV_SIGN_TOKEN = "AUTOTRANSCODE_CALLBACK_SIGN_TOKEN"

MctName = Annotated[
    str, Meta(pattern=MCT_NAME, extra=hint("MCT pipeline names match [a-z][0-9a-z_]{0,39}; e.g. autotranscode"))
]
PresetName = Annotated[
    str,
    Meta(
        pattern=PRESET_NAME, extra=hint("preset names are lowercase, e.g. bce.video_mp4_1280x720_2048kbps or my_720p")
    ),
]
Bucket = Annotated[str, Meta(pattern=r"^[^/]+$", extra=hint("a BOS bucket name without slashes, e.g. my-uploads"))]
HttpUrl = Annotated[str, Meta(pattern=r"^https?://", extra=hint("must start with http:// or https://"))]
Template = Annotated[
    str, Meta(description="placeholders: " + " ".join(f"{{{p}}}" for p in sorted(rules_mod.PLACEHOLDERS)))
]


class _Model(Struct, frozen=True, forbid_unknown_fields=True):
    """Read-only. Every subclass says kw_only=True (msgspec does not inherit it): required fields may follow
    fields with defaults."""


class MctCredentials(_Model, kw_only=True):
    access_key_id: str
    secret_access_key: Secret
    session_token: Secret | None = None


class MctConfig(_Model, kw_only=True):
    """MCT (Media Cloud Transcoding): where and how to call it."""

    endpoint: Annotated[
        str, Meta(description="MCT endpoint, e.g. http://127.0.0.1:18081; default http://media.{region}.baidubce.com")
    ] = ""
    region: Annotated[str, Meta(pattern=r"^[a-z]{2,8}$")] = "bj"
    pipeline: Annotated[MctName, Meta(description="default MCT pipeline; its source bucket must be the rule's bucket")]
    timeout_seconds: Annotated[float, Meta(gt=0, le=120, description="per MCT HTTP call")] = 10.0
    max_attempts: Annotated[int, Meta(ge=1, le=10, description="tries per MCT call on transient errors")] = 4
    backoff_seconds: Annotated[float, Meta(ge=0, le=30)] = 0.3

    def __post_init__(self) -> None:
        endpoint = self.endpoint.strip().rstrip("/")
        # Host pattern from the Go/Java SDKs (reference mct-api §1); only bj/gz/su are known to exist.
        force_setattr(self, "endpoint", endpoint or f"http://media.{self.region}.baidubce.com")


class Target(_Model, kw_only=True):
    """One MCT transcoding job per matching upload."""

    preset: PresetName
    key: Annotated[Template, Meta(description="output key template, e.g. transcoded/{dir}/{stem}/{preset}.{ext}")]
    name: Annotated[str | None, Meta(description="stable id of this rendition; defaults to the preset")] = None
    ext: Annotated[str | None, Meta(description="output extension for {ext}; default from the preset name")] = None
    bucket: Annotated[str | None, Meta(description="output bucket; default: the source bucket")] = None
    width: Annotated[int, Meta(gt=0, description="output frame size for mediainfo_check")] | None = None
    height: Annotated[int, Meta(gt=0)] | None = None

    field_checks: ClassVar[dict[str, Any]] = {"key": rules_mod.check_template}

    def __post_init__(self) -> None:
        check_fields(self)

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


class Thumbnail(_Model, kw_only=True):
    """One MCT thumbnail job per matching upload."""

    name: str = "thumbnail"
    key_prefix: Annotated[Template, Meta(description="key prefix template, e.g. thumbnails/{dir}/{stem}/")]
    format: Literal["jpg", "png", "gif", "webp", "mp4"] = "jpg"
    mode: Literal["auto", "manual", "split", "shot", "idl", "highlight"] = "auto"
    width: Annotated[int, Meta(ge=10, le=2000)] | None = None
    height: Annotated[int, Meta(ge=10, le=2000)] | None = None
    start_seconds: Annotated[float, Meta(ge=0)] | None = None
    end_seconds: Annotated[float, Meta(ge=0)] | None = None
    interval_seconds: Annotated[float, Meta(gt=0)] | None = None
    frame_number: Annotated[int, Meta(ge=1)] | None = None
    preset: str | None = None
    bucket: str | None = None

    field_checks: ClassVar[dict[str, Any]] = {"key_prefix": rules_mod.check_template}

    def __post_init__(self) -> None:
        check_fields(self)


def _playlist_name(v: str) -> None:
    if not v.endswith(".m3u8") or "/" in v or "\\" in v or any(c.isspace() for c in v):
        raise ValueError("a file name ending in .m3u8, without slashes or spaces, e.g. master.m3u8")


class HlsMaster(_Model, kw_only=True):
    """Adaptive bitrate: a master playlist over the rule's HLS (.m3u8) targets, written when all of them succeeded
    (true/false is short for {"enabled": ...})."""

    enabled: bool = True
    name: Annotated[str, Meta(description="its file name, in the renditions' common directory")] = "master.m3u8"
    codecs: Annotated[str, Meta(description="CODECS of every variant (RFC 6381); H.264 High + AAC-LC")] = (
        "avc1.640028,mp4a.40.2"
    )

    field_checks: ClassVar[dict[str, Any]] = {"name": _playlist_name}

    def __post_init__(self) -> None:
        check_fields(self)


class Rule(_Model, kw_only=True):
    """Which uploads to transcode and into what; the first matching rule wins."""

    name: str | None = None
    bucket: Bucket
    prefixes: Annotated[list[str], Meta(description="any of these key prefixes; empty = all keys")] = field(
        default_factory=list
    )
    suffixes: Annotated[list[str], Meta(description="any of these suffixes, case-insensitive; empty = all keys")] = (
        field(default_factory=list)
    )
    pipeline: Annotated[str | None, Meta(description="overrides mct.pipeline for this rule")] = None
    targets: list[Target] = field(default_factory=list)
    thumbnails: list[Thumbnail] = field(default_factory=list)
    hls_master: HlsMaster | bool = field(default_factory=HlsMaster)

    def __post_init__(self) -> None:
        if isinstance(self.hls_master, bool):
            force_setattr(self, "hls_master", HlsMaster(enabled=self.hls_master))
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


class CallbackConfig(_Model, kw_only=True):
    """How MCT's notifications are authenticated and received."""

    sign_token: Annotated[Secret | None, Meta(description="token of the MCT SIGN notification")] = None
    url_token: Annotated[Secret | None, Meta(description="secret expected as ?token=... in the URL")] = None
    endpoint: Annotated[str | None, Meta(description="the notification endpoint as registered in MCT (SIGN)")] = None
    path: str = "/mct/callback"
    max_body_bytes: Annotated[int, Meta(ge=1024, le=10 * 1024 * 1024)] = 256 * 1024
    sign_max_age_seconds: Annotated[int, Meta(ge=0)] = 86_400  # a replay window, not an expiry (wire/mct_sign.py)
    allow_unauthenticated: Annotated[bool, Meta(description="accept callbacks without any auth (local only)")] = False

    def __post_init__(self) -> None:
        if self.sign_token is not None and not self.endpoint:
            raise ValueError("callback.endpoint is required with sign_token: SIGN covers the endpoint URL")
        if self.sign_token is None and self.url_token is None and not self.allow_unauthenticated:
            raise ValueError(
                f"set url_token (or sign_token + endpoint) so forged callbacks are refused; env {ENV_URL_TOKEN} / "
                f"{ENV_SIGN_TOKEN} work too; allow_unauthenticated: true is for local experiments only"
            )


class DownstreamConfig(_Model, kw_only=True):
    """Where the signed "upload done" event goes."""

    url: HttpUrl
    secret: Secret | None = None
    timeout_seconds: Annotated[float, Meta(gt=0, le=60)] = 5.0
    max_attempts: Annotated[int, Meta(ge=1, le=10)] = 3
    backoff_seconds: Annotated[float, Meta(ge=0, le=30)] = 0.5


class MediainfoCheck(_Model, kw_only=True):
    """Skip renditions larger than the source (true/false is short for {"enabled": ...})."""

    enabled: bool = True
    # Without this a small source would get no rendition at all.
    keep_smallest: bool = True


class ReconcileConfig(_Model, kw_only=True):
    stale_after_minutes: Annotated[float, Meta(ge=0)] = 10.0
    redeliver_after_minutes: Annotated[
        float, Meta(ge=0, description="first retry of a failed 'upload done' event; then doubling")
    ] = 5.0
    redeliver_max_interval_minutes: Annotated[
        float, Meta(ge=0, description="longest pause between two retries of an event")
    ] = 60.0
    redeliver_max_age_hours: Annotated[
        float, Meta(ge=0, description="stop retrying an event this long after the upload was done (then EXPIRED)")
    ] = 24.0
    batch_size: Annotated[int, Meta(ge=1, le=1000)] = 100


class SweepConfig(_Model, kw_only=True):
    """The reconciler lists the rules' prefixes in BOS and submits uploads whose event never came."""

    enabled: bool = True
    grace_minutes: Annotated[float, Meta(ge=0, description="leave objects younger than this to their event")] = 10.0
    max_age_days: Annotated[float, Meta(ge=0, description="leave objects older than this alone (0: no limit)")] = 7.0
    max_objects_per_run: Annotated[
        int, Meta(ge=1, le=1_000_000, description="keys listed per run; the next run goes on from there")
    ] = 5000
    max_submissions_per_run: Annotated[int, Meta(ge=1, le=10_000, description="objects submitted per run")] = 100


def _presets(v: list[dict[str, Any]]) -> None:
    for i, preset in enumerate(v):
        name = preset.get("presetName")
        if not isinstance(name, str) or not re.match(MCT_NAME, name):
            raise ValueError(f"presets[{i}].presetName must match [a-z][0-9a-z_]{{0,39}}, got {name!r}")
        if not preset.get("container"):
            raise ValueError(f"presets[{i}] ({name}) needs a container, e.g. mp4")


class BosConfig(_Model, kw_only=True):
    """BOS, where the functions write HLS master playlists, and which the reconciler's sweep lists and the version
    check reads (the MCT key needs BOS read access to the watched buckets)."""

    endpoint: Annotated[str, Meta(description="BOS endpoint; default https://{mct.region}.bcebos.com")] = ""


class Config(_Model, kw_only=True):
    """autotranscode: automatic on-upload video transcoding (docs/configuration.md)."""

    mct: MctConfig
    bos: BosConfig = field(default_factory=BosConfig)
    rules: Annotated[list[Rule], Meta(min_length=1, description="first matching rule wins")]
    callback: CallbackConfig = field(default_factory=CallbackConfig)
    store_url: Annotated[str, Meta(description="sqlite:///path, mysql+pymysql://... or postgresql+psycopg://...")] = (
        DEFAULT_STORE_URL
    )
    downstream: DownstreamConfig | None = None
    mediainfo_check: MediainfoCheck | bool = field(default_factory=MediainfoCheck)
    submit_concurrency: Annotated[int, Meta(ge=1, le=64)] = 8
    # Custom MCT presets for `autotranscode provision`: bodies as POST /v3/preset takes them (presetName, container,
    # audio, video, ...). The functions never read this.
    presets: Annotated[
        list[dict[str, Any]],
        Meta(description="custom MCT presets for `autotranscode provision` (POST /v3/preset bodies)"),
    ] = field(default_factory=list)
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)

    field_checks: ClassVar[dict[str, Any]] = {"presets": _presets}

    def __post_init__(self) -> None:
        endpoint = self.bos.endpoint.strip().rstrip("/")
        force_setattr(self.bos, "endpoint", endpoint or f"https://{self.mct.region}.bcebos.com")
        if isinstance(self.mediainfo_check, bool):
            force_setattr(self, "mediainfo_check", MediainfoCheck(enabled=self.mediainfo_check))
        check_fields(self)
        problems = rules_mod.recursion_problems(self.rules)
        if problems:
            raise ValueError("outputs would re-trigger the upload function: " + "; ".join(problems))

    def pipeline_for(self, rule: Rule) -> str:
        return rule.pipeline or self.mct.pipeline


__all__ = [
    "DEFAULT_STORE_URL",
    "MCT_NAME",
    "PRESET_NAME",
    "BosConfig",
    "CallbackConfig",
    "Config",
    "DownstreamConfig",
    "HlsMaster",
    "MctConfig",
    "MctCredentials",
    "MediainfoCheck",
    "ReconcileConfig",
    "SweepConfig",
    "Rule",
    "Secret",
    "Target",
    "Thumbnail",
]
