"""Thumbnail jobs (reference §2.5): pick frames by capture mode, scale them, write jpg/png/gif/webp.

Capture modes:
- ``auto``: one representative frame, taken at 1/3 of the duration (past intros and fade-ins, before credits).
- ``manual``: from ``startTimeInSecond`` (required) to ``endTimeInSecond`` (default: the end) every
  ``intervalInSecond`` (without an interval: just the start frame).
- ``split``: ``frameNumber`` frames spread evenly over the range (the middle of each of N equal parts), fewer when
  ``minIntervalInSecond`` would be violated.

Single images are extracted by seeking (one ``-ss t -i src`` input per frame, all in one ffmpeg process), so
sparse frames of a long video cost little. gif/webp with ``frame_rate`` (and mp4 always) give ONE animated file made
of the picked frames (``auto``: the whole clip sampled at ``frame_rate``) played at ``frame_rate``.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from localcloud.ffmpeg import ffmpeg_path
from localcloud.mct.engine import args as A
from localcloud.mct.engine import process
from localcloud.mct.engine.probe import probe_media
from localcloud.mct.engine.transcode import OnProcess, _run_ffmpeg, source_missing
from localcloud.mct.engine.types import EngineError, ThumbnailRequest, ThumbnailResult

FORMATS = {"jpg", "png", "gif", "webp", "mp4"}
ANIMATED_FORMATS = {"gif", "webp"}  # animated only when frame_rate is given; mp4 is always a clip
DEFAULT_MP4_FRAME_RATE = 1.0  # [INFERRED] playback rate of an mp4 thumbnail without target.frameRate
MODES = {"auto", "manual", "split"}
AUTO_POSITION = 1 / 3  # auto mode: the frame at this fraction of the duration
MAX_FRAMES = 500  # [INFERRED] cap on frames per job (the real limit is not documented)
MAX_ANIMATED_FRAMES = 300
FRAMES_PER_PROCESS = 40  # seeking inputs per ffmpeg process
IMAGE_ENCODER_ARGS = {
    "jpg": ["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p", "-f", "image2"],
    "png": ["-c:v", "png", "-f", "image2"],
    "webp": ["-c:v", "libwebp", "-quality", "80", "-f", "webp"],
    "gif": ["-c:v", "gif", "-f", "gif"],
}


def thumbnail_key(prefix: str, ext: str, index: int | None) -> str:
    """[INFERRED] object key of a thumbnail: "{keyPrefix}.{ext}" for a single file, "{keyPrefix}_{n}.{ext}" (n from
    1, in time order) when a mode yields several. The reference only says "keyPrefix + capture time point"."""
    return f"{prefix}.{ext}" if index is None else f"{prefix}_{index}.{ext}"


def capture_times(capture: dict, duration: float | None) -> list[float]:
    """Timestamps (seconds) of the frames a capture object selects. Pure; raises EngineError for bad captures."""
    mode = capture.get("mode") or "auto"
    if mode not in MODES:
        raise EngineError("InvalidPreset", f"capture.mode={mode!r}: must be one of {sorted(MODES)}")
    start = capture.get("startTimeInSecond")
    end = capture.get("endTimeInSecond")
    interval = capture.get("intervalInSecond")
    number = capture.get("frameNumber")
    last = max(0.0, (duration or 0) - 0.04)  # the last frame still exists just before the end
    if mode == "auto":
        if any(v is not None for v in (start, end, interval, number)):
            raise EngineError(
                "InvalidPreset", "cannot specify start time, end time, interval or frame number in auto mode"
            )
        return [round((duration or 0) * AUTO_POSITION, 3)]
    if mode == "manual" and start is None:
        raise EngineError("InvalidPreset", "start time is required in manual mode")
    start = float(start or 0)
    end = float(end) if end is not None else (duration if duration is not None else start)
    if start < 0:
        raise EngineError("InvalidPreset", f"capture.startTimeInSecond={start}: must be greater than or equal to 0")
    if end < start:
        raise EngineError("InvalidPreset", "start time cannot larger than end time")
    end = min(end, last) if duration is not None else end
    start = min(start, last) if duration is not None else start
    if mode == "manual":
        if not interval:
            return [start]
        if interval < 0:
            raise EngineError("InvalidPreset", f"capture.intervalInSecond={interval}: must be greater than 0")
        count = min(MAX_FRAMES, int(math.floor((end - start) / interval + 1e-9)) + 1)
        return [round(start + k * interval, 3) for k in range(count)]
    # split
    number = int(number or 1)
    if number < 1:
        raise EngineError("InvalidPreset", f"capture.frameNumber={number}: must be at least 1")
    span = end - start
    min_interval = capture.get("minIntervalInSecond")
    if min_interval and span > 0 and span / number < min_interval:
        number = max(1, int(span / min_interval))
    number = min(number, MAX_FRAMES)
    if span <= 0:
        return [round(start, 3)]
    step = span / number
    return [round(start + step * (k + 0.5), 3) for k in range(number)]


def scale_filter(req: ThumbnailRequest, info: dict) -> str:
    for name, value in (("widthInPixel", req.width), ("heightInPixel", req.height)):
        if not isinstance(value, int) or not 10 <= value <= 2000:
            raise EngineError("InvalidPreset", f"target.{name}={value!r}: must be between 10 and 2000")
    size = A.display_size(info)
    if size is None:
        return f"scale={req.width}:{req.height}:force_original_aspect_ratio=decrease:force_divisible_by=2"
    pw, ph, bw, bh = A.target_size(size[0], size[1], req.width, req.height, req.sizing_policy)
    chain = f"scale={pw}:{ph}"
    if (bw, bh) != (pw, ph):
        chain += f",pad={bw}:{bh}:(ow-iw)/2:(oh-ih)/2:black"
    return chain + ",setsar=1"


def thumbnail(req: ThumbnailRequest, storage, on_process: OnProcess = None) -> ThumbnailResult:
    fmt = (req.format or "jpg").lower()
    if fmt == "jpeg":
        fmt = "jpg"
    if fmt not in FORMATS:
        raise EngineError("InvalidPreset", f"target.format={req.format!r}: must be one of {sorted(FORMATS)}")
    src = req.source
    if not storage.exists(src.bucket, src.key):
        raise source_missing(src.key)
    path = str(storage.object_path(src.bucket, src.key))
    info = probe_media(path)
    if not info.get("video"):
        raise EngineError("NotMedia", f"bos object: {src.key} has no video to take thumbnails from")
    duration = (info.get("durationInMillisecond") or 0) / 1000 or None
    times = capture_times(req.capture or {}, duration)
    scale = scale_filter(req, info)
    animated = fmt == "mp4" or (fmt in ANIMATED_FORMATS and req.frame_rate)
    if animated and req.frame_rate is not None and not 0.01 <= float(req.frame_rate) <= 30:
        raise EngineError("InvalidPreset", f"target.frameRate={req.frame_rate}: must be between 0.01 and 30")
    ff = ffmpeg_path()
    tmp = process.new_work_dir(storage)
    runs = []
    try:
        if animated:
            out = tmp / "anim"
            runs.append(_run_ffmpeg(_animated_argv(ff, path, req, fmt, times, duration, scale, out), on_process))
            files = [(thumbnail_key(req.key_prefix, fmt, None), out)]
        else:
            files = []
            outs = [tmp / f"{n}.{fmt}" for n in range(len(times))]
            for k in range(0, len(times), FRAMES_PER_PROCESS):
                argv = _stills_argv(ff, path, times[k : k + FRAMES_PER_PROCESS], outs[k : k + FRAMES_PER_PROCESS],
                                    scale, fmt)  # fmt: skip
                runs.append(_run_ffmpeg(argv, on_process))
            single = len(times) == 1 and (req.capture or {}).get("mode", "auto") == "auto"
            for n, out in enumerate(outs):
                if not out.is_file() or out.stat().st_size == 0:
                    raise EngineError("TranscodeFailed", f"no frame at {times[n]} s of {src.key}")
                files.append((thumbnail_key(req.key_prefix, fmt, None if single else n + 1), out))
        for key, file in files:
            storage.commit_file(req.target_bucket, key, file)
        return ThumbnailResult(keys=[key for key, _ in files], ffmpeg_runs=runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _stills_argv(ff: str, path: str, times: list[float], outs: list[Path], scale: str, fmt: str) -> list[str]:
    argv = [ff, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    for t in times:
        argv += ["-ss", f"{t:.3f}", "-i", path]
    for n, out in enumerate(outs):
        argv += ["-map", f"{n}:v:0", "-frames:v", "1", "-vf", scale, *IMAGE_ENCODER_ARGS[fmt], str(out)]
    return argv


def _animated_argv(ff, path, req, fmt, times, duration, scale, out: Path) -> list[str]:
    rate = float(req.frame_rate or DEFAULT_MP4_FRAME_RATE)
    mode = (req.capture or {}).get("mode") or "auto"
    if mode == "auto":
        start, span = 0.0, duration or 10.0
        pick = rate
    else:
        start = times[0]
        span = (times[-1] - times[0]) or 0.04
        pick = (len(times) - 1) / span if len(times) > 1 else rate
    count = min(MAX_ANIMATED_FRAMES, max(1, round(span * pick) + (0 if mode == "auto" else 1)))
    # fps picks frames at the capture rate; setpts then plays them back at frame_rate.
    vf = f"fps={pick:.6f},{scale},setpts=N/({rate:.6f}*TB)"
    argv = [ff, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-ss", f"{start:.3f}", "-i", path]
    if fmt == "gif":
        vf += ",split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer"
        enc = ["-c:v", "gif", "-loop", "0", "-f", "gif"]
    elif fmt == "webp":
        enc = ["-c:v", "libwebp_anim", "-quality", "75", "-loop", "0", "-f", "webp"]
    else:
        vf += ",format=yuv420p"
        enc = ["-c:v", "libx264", "-preset", "veryfast", "-movflags", "+faststart", "-f", "mp4"]
    return argv + ["-an", "-filter_complex", f"[0:v:0]{vf}", "-frames:v", str(count), "-r", f"{rate:g}", *enc,
                   str(out)]  # fmt: skip
