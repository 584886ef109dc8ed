"""Built-in system presets, listed by ``GET /v3/preset`` and usable by every job.

[INFERRED] The real catalogue page was not reachable (reference mct-api.md §3, §10 q3). Names follow the pattern seen
in SDK code/tests/docs: ``bce.video_<container>_<W>x<H>_<kbps>kbps`` and ``bce.audio_<container>_<kbps>kbps``.
Names actually seen in sources are marked "seen"; the rest are our guesses in the same pattern. The JSON of each
preset is our choice (h264 + aac, keep aspect ratio). Keep all such naming here.
"""

from __future__ import annotations

import copy

# [INFERRED] system presets answer createdTime with a fixed date.
SYSTEM_CREATED_TIME = "2015-06-01T00:00:00Z"

_AUDIO_STEREO = {"sampleRateInHz": 44100, "channels": 2}


def _video(name, container, width, height, video_kbps, audio_kbps, description, extra=None):
    preset = {
        "presetName": name,
        "description": description,
        "container": container,
        "transmux": False,
        "clip": {"startTimeInSecond": 0},
        "audio": {"bitRateInBps": audio_kbps * 1000, "codec": "aac", **_AUDIO_STEREO},
        "video": {
            "codec": "h264",
            "codecOptions": {"profile": "main"},
            "bitRateInBps": video_kbps * 1000,
            "maxFrameRate": 30.0,
            "maxWidthInPixel": width,
            "maxHeightInPixel": height,
            "sizingPolicy": "keep",
        },
    }
    if extra:
        preset["extraCfg"] = extra
    return preset


def _audio(name, container, kbps, codec, description, extra=None):
    preset = {
        "presetName": name,
        "description": description,
        "container": container,
        "transmux": False,
        "clip": {"startTimeInSecond": 0},
        "audio": {"bitRateInBps": kbps * 1000, "codec": codec, **_AUDIO_STEREO},
    }
    if extra:
        preset["extraCfg"] = extra
    return preset


_HLS = {"segmentDurationInSecond": 10.0}

SYSTEM_PRESETS: dict[str, dict] = {
    p["presetName"]: p
    for p in [
        # seen: bce.video_mp4_1920x1080_3660kbps ([DOC-SPEC], [JS])
        _video("bce.video_mp4_1920x1080_3660kbps", "mp4", 1920, 1080, 3500, 160, "MP4 1080p H.264/AAC"),
        # seen: bce.video_mp4_1280x720_1728kbps ([PY-T]); the 2048kbps variant is the name the project brief uses
        _video("bce.video_mp4_1280x720_1728kbps", "mp4", 1280, 720, 1600, 128, "MP4 720p H.264/AAC"),
        _video("bce.video_mp4_1280x720_2048kbps", "mp4", 1280, 720, 1920, 128, "MP4 720p H.264/AAC, higher rate"),
        # seen: bce.video_mp4_854x480_800kbps ([DOC-NOTIF])
        _video("bce.video_mp4_854x480_800kbps", "mp4", 854, 480, 704, 96, "MP4 480p H.264/AAC"),
        # [INFERRED] 360p, same pattern (mct.video_mp4_640x360_600kbps is seen in the Go test)
        _video("bce.video_mp4_640x360_600kbps", "mp4", 640, 360, 536, 64, "MP4 360p H.264/AAC"),
        # seen: bce.video_flv_640x480_620kbps ([JAVA-T])
        _video("bce.video_flv_640x480_620kbps", "flv", 640, 480, 556, 64, "FLV 480p H.264/AAC"),
        # [INFERRED] HLS video presets
        _video("bce.video_hls_1280x720_1728kbps", "hls", 1280, 720, 1600, 128, "HLS 720p H.264/AAC", _HLS),
        _video("bce.video_hls_854x480_800kbps", "hls", 854, 480, 704, 96, "HLS 480p H.264/AAC", _HLS),
        _video("bce.video_hls_640x360_600kbps", "hls", 640, 360, 536, 64, "HLS 360p H.264/AAC", _HLS),
        # seen: bce.audio_mp3_320kbps ([JAVA-T]); 128kbps is [INFERRED]
        _audio("bce.audio_mp3_320kbps", "mp3", 320, "mp3", "MP3 320 kbps"),
        _audio("bce.audio_mp3_128kbps", "mp3", 128, "mp3", "MP3 128 kbps"),
        # [INFERRED] m4a
        _audio("bce.audio_m4a_128kbps", "m4a", 128, "aac", "M4A (AAC) 128 kbps"),
        # seen: bce.audio_hls_128kbps ([JAVA-T]); container a-hls
        _audio("bce.audio_hls_128kbps", "a-hls", 128, "aac", "audio-only HLS (AAC) 128 kbps", _HLS),
    ]
}


def is_system_preset(name: str) -> bool:
    return name in SYSTEM_PRESETS


def system_preset(name: str) -> dict | None:
    """The wire JSON of a system preset (with ``state``/``createdTime``), or None."""
    preset = SYSTEM_PRESETS.get(name)
    if preset is None:
        return None
    return {**copy.deepcopy(preset), "state": "ACTIVE", "createdTime": SYSTEM_CREATED_TIME}


_READONLY = {name: {**p, "state": "ACTIVE", "createdTime": SYSTEM_CREATED_TIME} for name, p in SYSTEM_PRESETS.items()}


def system_preset_readonly(name: str) -> dict | None:
    """Like ``system_preset`` without the copy: callers must not modify it (the job path reads it per request)."""
    return _READONLY.get(name)


def all_system_presets() -> list[dict]:
    return [system_preset(name) for name in SYSTEM_PRESETS]
