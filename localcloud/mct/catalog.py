"""The preset vocabulary of localcloud MCT: which containers, codecs and options a preset may name.

One catalog for the API (``rules.py`` validates request bodies against it) and the engine (``engine/args.py``
turns presets into ffmpeg options with it), so a preset the API accepts is one the engine can run.
Values come from reference mct-api.md §3 and §8; what is only our guess is marked [INFERRED].
"""

from __future__ import annotations

VIDEO_CONTAINERS = ("mp4", "flv", "hls", "dash")
AUDIO_CONTAINERS = ("mp3", "m4a", "a-hls", "pcm")  # pcm = raw samples in audio.pcmFormat (default s16le)
CONTAINERS = ("mp4", "flv", "hls", "mp3", "m4a", "a-hls", "pcm", "dash")  # the documented order (Jackson lists it)

VIDEO_CODECS = ("h264", "h265")
AUDIO_CODECS = ("aac", "mp3", "opus")  # opus: seen in the Go SDK test
# What each container can carry; a container not listed here takes every codec of its kind. [INFERRED]
CONTAINER_VIDEO_CODECS = {"flv": ("h264",)}
CONTAINER_AUDIO_CODECS = {"mp3": ("mp3",), "flv": ("aac", "mp3"), "m4a": ("aac",)}
# pcm carries no codec: audio.pcmFormat names the raw sample format. [INFERRED] the set ffmpeg can write raw.
PCM_FORMATS = ("s16le", "s16be", "s24le", "s32le", "u8", "f32le")
DEFAULT_PCM_FORMAT = "s16le"
# Raw samples carry no header, so a pcm output always states its layout. [INFERRED] used when the preset does not.
DEFAULT_PCM_SAMPLE_RATE = 44100
DEFAULT_PCM_CHANNELS = 2

PROFILES = ("baseline", "main", "high")
SIZING_POLICIES = ("keep", "shrinkToFit", "stretch")
SAMPLE_RATES = (22050, 32000, 44100, 48000, 96000)
FRAME_RATES = (10.0, 15.0, 20.0, 23.97, 24.0, 25.0, 29.97, 30.0, 50.0, 60.0)
ENCRYPTION_STRATEGIES = ("Fixed", "PlayerBinding")
ENCRYPTED_CONTAINERS = ("hls", "a-hls")  # [INFERRED] AES-128 applies to HLS segments only
TRANS_MODES = ("normal", "twopass", "cae", "cae_enhanced")


def audio_codecs_for(container: str) -> tuple[str, ...]:
    """The audio codecs a container can carry, the default first."""
    return CONTAINER_AUDIO_CODECS.get(container, AUDIO_CODECS)


def video_codecs_for(container: str) -> tuple[str, ...]:
    return CONTAINER_VIDEO_CODECS.get(container, VIDEO_CODECS)
