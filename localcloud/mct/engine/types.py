"""Plain data passed between the MCT service and the engine (see notes/mct-engine-interface.md)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClipInput:
    bucket: str
    key: str
    start_s: float | None = None  # from clips[].startTimeInSecond / startTimeInMillisecond
    duration_s: float | None = None


@dataclass
class TranscodeRequest:
    job_id: str
    clips: list[ClipInput]
    target_bucket: str
    target_key: str
    preset: dict  # stored preset JSON, wire field names
    watermarks: list[dict] = field(default_factory=list)  # resolved watermark JSON objects
    encryption_key: str | None = None  # 16-char AES key for HLS AES-128


@dataclass
class TranscodeResult:
    output: dict  # the job `output` object exactly as on the wire
    keys: list[str]  # every object written in target_bucket (main key first)
    ffmpeg_runs: list[tuple[float, float]] = field(default_factory=list)  # (start, end) epoch s of its ffmpeg runs


@dataclass
class ThumbnailRequest:
    job_id: str
    source: ClipInput
    target_bucket: str
    key_prefix: str
    format: str = "jpg"  # jpg|png|gif|webp
    sizing_policy: str = "keep"  # keep|shrinkToFit|stretch
    width: int = 600
    height: int = 450
    frame_rate: float | None = None
    capture: dict = field(default_factory=dict)  # wire capture object


@dataclass
class ThumbnailResult:
    keys: list[str]
    ffmpeg_runs: list[tuple[float, float]] = field(default_factory=list)  # (start, end) epoch s of its ffmpeg runs


class EngineError(Exception):
    """A job failure: ``code`` and ``message`` become the job's ``error`` object."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_wire(self) -> dict:
        return {"code": self.code, "message": self.message}
