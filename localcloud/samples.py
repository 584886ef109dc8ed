"""Small generated media clips for tests, the demo and benchmarks (ffmpeg lavfi: testsrc2 + sine).

``make_sample_clip("in.mp4")`` makes a 2 s 320x240 25 fps H.264/AAC MP4 in well under a second. The container
follows the file extension; ``.mp3``/``.m4a``/``.aac``/``.wav`` give an audio-only file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from localcloud.ffmpeg import ffmpeg_path

AUDIO_ONLY_SUFFIXES = {".mp3": "libmp3lame", ".m4a": "aac", ".aac": "aac", ".wav": "pcm_s16le"}
VIDEO_ENCODERS = {"h264": "libx264", "h265": "libx265", "hevc": "libx265"}


def make_sample_clip(
    path: str | Path,
    seconds: float = 2,
    width: int = 320,
    height: int = 240,
    fps: float = 25,
    audio: bool = True,
    portrait: bool = False,
    codec: str = "h264",
    rotate: int = 0,
    x264_preset: str = "ultrafast",
    video_bitrate: str | None = None,
) -> Path:
    """Write a test clip to ``path`` and return it.

    ``portrait`` swaps width and height (a phone held upright, stored upright). ``rotate`` (0/90/180/270) instead
    stores the frames as given and adds a display-rotation matrix, like phones do, so players (and our probe)
    report a rotated picture. ``codec`` is ``h264`` or ``h265``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if portrait:
        width, height = height, width
    if codec not in VIDEO_ENCODERS:
        raise ValueError(f"codec {codec!r} is not supported: use one of {sorted(VIDEO_ENCODERS)}")
    if rotate not in (0, 90, 180, 270):
        raise ValueError(f"rotate {rotate!r} must be 0, 90, 180 or 270")
    suffix = path.suffix.lower()
    audio_only = suffix in AUDIO_ONLY_SUFFIXES
    ff = ffmpeg_path()
    argv = [ff, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    if not audio_only:
        argv += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio or audio_only:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    if audio or audio_only:
        argv += ["-ac", "2"]  # stereo, like most real uploads
    if audio_only:
        argv += ["-c:a", AUDIO_ONLY_SUFFIXES[suffix]]
        if suffix != ".wav":
            argv += ["-b:a", "96k"]
    else:
        argv += ["-c:v", VIDEO_ENCODERS[codec], "-preset", x264_preset, "-pix_fmt", "yuv420p"]
        if video_bitrate:
            argv += ["-b:v", video_bitrate]
        if codec != "h264":
            argv += ["-x265-params", "log-level=error"]
            if suffix in (".mp4", ".mov"):
                argv += ["-tag:v", "hvc1"]
        # A keyframe every second keeps seeking/clipping precise on such short clips.
        argv += ["-g", str(max(1, round(fps)))]
        if audio:
            argv += ["-c:a", "aac", "-b:a", "64k"]
        if suffix in (".mp4", ".mov", ".m4v"):
            argv += ["-movflags", "+faststart"]
    argv += ["-t", str(seconds), str(path)]
    _run(argv)
    if rotate and not audio_only:
        # -display_rotation is counter-clockwise; phones' "rotate" tag (and MCT's rotate) is clockwise.
        tmp = path.with_name(path.stem + ".rot" + path.suffix)
        _run(
            [ff, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-display_rotation", str(-rotate)]
            + ["-i", str(path), "-c", "copy", str(tmp)]
        )
        tmp.replace(path)
    return path


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not generate the sample clip: {proc.stderr.strip()[-500:]}")
