"""The localcloud MCT engine: really transcodes with ffmpeg (no HTTP, no job database here)."""

from localcloud.mct.engine.probe import probe_media
from localcloud.mct.engine.thumbnail import thumbnail
from localcloud.mct.engine.transcode import transcode, transcode_many
from localcloud.mct.engine.types import (
    ClipInput,
    EngineError,
    ThumbnailRequest,
    ThumbnailResult,
    TranscodeRequest,
    TranscodeResult,
)

__all__ = [
    "ClipInput",
    "EngineError",
    "ThumbnailRequest",
    "ThumbnailResult",
    "TranscodeRequest",
    "TranscodeResult",
    "probe_media",
    "thumbnail",
    "transcode",
    "transcode_many",
]
