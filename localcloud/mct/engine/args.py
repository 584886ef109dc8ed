"""Preset -> ffmpeg argv, as pure functions (no I/O: file contents to write are returned, not written).

``plan_transcode(sources, outputs)`` builds ONE ffmpeg command that reads the source clip(s) once and writes one
output per ``OutputSpec`` (one output = one job; several = the shared-decode fast path). Each output gets its own
filter chain (scale/pad, frame-rate cap, watermarks) and its own encoder/muxer options.

Guesses about the real service's behaviour are named constants here (marked [INFERRED]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from localcloud.mct import catalog
from localcloud.mct.engine.types import EngineError

# The preset vocabulary is localcloud.mct.catalog's (the API validates with the same one); here only how ffmpeg
# spells it.
VIDEO_CONTAINERS = set(catalog.VIDEO_CONTAINERS)
AUDIO_CONTAINERS = set(catalog.AUDIO_CONTAINERS)
CONTAINERS = set(catalog.CONTAINERS)
VIDEO_ENCODERS = {"h264": "libx264", "h265": "libx265"}
AUDIO_ENCODERS = {"aac": "aac", "mp3": "libmp3lame", "opus": "libopus"}
PROFILES = set(catalog.PROFILES)
SIZING_POLICIES = set(catalog.SIZING_POLICIES)
# ffmpeg spells NTSC rates as fractions; MCT presets use the rounded decimals.
RATE_FRACTIONS = {23.97: "24000/1001", 29.97: "30000/1001", 59.94: "60000/1001"}

# x264/x265 speed: fast enough for a 2-core laptop. [INFERRED] quality-oriented transModes get a slower preset.
DEFAULT_X264_PRESET = "veryfast"
X264_PRESET_BY_TRANS_MODE = {"normal": "veryfast", "twopass": "medium", "cae": "medium", "cae_enhanced": "medium"}
DEFAULT_X265_PRESET = "superfast"
# [INFERRED] defaults when a preset leaves them out.
DEFAULT_AUDIO_BITRATE = 128_000
DEFAULT_SEGMENT_SECONDS = 10.0  # HLS/DASH segment length without extraCfg.segmentDurationInSecond
# [INFERRED] a video container preset without a `video` (or `audio`) section drops that stream.
MISSING_SECTION_DROPS_STREAM = True
# [INFERRED] shrinkToFit never enlarges the picture; it shrinks to fit and pads to the exact box with black bars.
SHRINK_TO_FIT_UPSCALES = False
# [INFERRED] where players are told to fetch the HLS AES-128 key: the MCT key endpoint (reference §2.4).
HLS_KEY_URI_TEMPLATE = "/v3/transcoding/key/{job_id}"
# [INFERRED] watermark timeline without a duration lasts to the end of the video.


Size = tuple[int, int]


@dataclass(frozen=True)
class SourceSpec:
    """One source clip: a local file, its probe info, and the part to use."""

    path: str
    info: dict
    start_s: float | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class WatermarkSpec:
    path: str  # local image file
    watermark: dict  # wire watermark JSON (alignment, offsets, timeline)


@dataclass
class OutputSpec:
    """One job's output: its preset and where its files go."""

    preset: dict
    out_dir: Path  # every file written here is an output object (committed next to the target key)
    name: str  # basename of the main file, e.g. "out.m3u8"
    watermarks: list[WatermarkSpec] = field(default_factory=list)
    aes_key: bytes | None = None  # raw 16-byte key for HLS AES-128
    aux_dir: Path | None = None  # private scratch (key files) that is never committed
    job_id: str = ""


@dataclass
class Plan:
    argv: list[str]
    main_files: list[Path]  # per output, the main file (mp4, m3u8, mpd, ...)
    aux_files: dict[Path, bytes] = field(default_factory=dict)  # write these before running


# ----- validation helpers ------------------------------------------------------------------------------------
def _invalid(field_name: str, value, why: str) -> EngineError:
    return EngineError("InvalidPreset", f"{field_name}={value!r}: {why}")


def container_of(preset: dict) -> str:
    container = preset.get("container")
    if container not in CONTAINERS:
        raise _invalid("container", container, f"must be one of {sorted(CONTAINERS)}")
    return container


def _num(section: dict, name: str, prefix: str, minimum: float | None = None) -> float | None:
    value = section.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(f"{prefix}.{name}", value, "must be a number")
    if minimum is not None and value < minimum:
        raise _invalid(f"{prefix}.{name}", value, f"must be greater than or equal to {minimum}")
    return value


def wants_video(preset: dict) -> bool:
    container = container_of(preset)
    if container in AUDIO_CONTAINERS:
        return False
    if preset.get("transmux"):
        return True
    has_video, has_audio = preset.get("video") is not None, preset.get("audio") is not None
    return has_video or not MISSING_SECTION_DROPS_STREAM or not has_audio


def wants_audio(preset: dict) -> bool:
    container = container_of(preset)
    if container in AUDIO_CONTAINERS or preset.get("transmux"):
        return True
    has_video, has_audio = preset.get("video") is not None, preset.get("audio") is not None
    return has_audio or not MISSING_SECTION_DROPS_STREAM or not has_video


# ----- sizes, rates, clips -----------------------------------------------------------------------------------
def even(x: float) -> int:
    """Nearest integer, rounded down to even (H.264 4:2:0 needs even sizes), at least 2."""
    return max(2, int(round(x)) // 2 * 2)


def display_size(info: dict) -> tuple[int, int] | None:
    """Source picture size as shown (ffmpeg auto-rotates frames by the display matrix when decoding)."""
    video = info.get("video") or {}
    w, h = video.get("widthInPixel"), video.get("heightInPixel")
    if not w or not h:
        return None
    if video.get("rotate") in (90, 270):
        w, h = h, w
    return w, h


def target_size(
    src_w: int,
    src_h: int,
    max_w: int | None,
    max_h: int | None,
    policy: str = "keep",
    auto_adjust: bool = False,
) -> tuple[int, int, int, int]:
    """(picture_w, picture_h, frame_w, frame_h): the scaled picture and the frame it sits in (pad when larger).

    keep: fit inside the box keeping aspect, never upscale. shrinkToFit: same picture, padded to the exact box.
    stretch: exactly the box. ``auto_adjust`` (video.autoAdjustResolution) turns a landscape box upright for a
    portrait source. Missing box sides fall back to ``keep``.
    """
    if policy not in SIZING_POLICIES:
        raise _invalid("video.sizingPolicy", policy, f"must be one of {sorted(SIZING_POLICIES)}")
    if auto_adjust and max_w and max_h and (src_h > src_w) != (max_h > max_w):
        max_w, max_h = max_h, max_w
    if policy == "stretch" and max_w and max_h:
        return even(max_w), even(max_h), even(max_w), even(max_h)
    factor = min(max_w / src_w if max_w else math.inf, max_h / src_h if max_h else math.inf)
    upscale = policy == "shrinkToFit" and SHRINK_TO_FIT_UPSCALES and max_w and max_h
    if not upscale:
        factor = min(factor, 1.0)
    if factor == math.inf:
        factor = 1.0
    pic_w, pic_h = even(src_w * factor), even(src_h * factor)
    if policy == "shrinkToFit" and max_w and max_h:
        box_w, box_h = even(max_w), even(max_h)
        return min(pic_w, box_w), min(pic_h, box_h), box_w, box_h
    return pic_w, pic_h, pic_w, pic_h


def output_frame_rate(src_fps: float | None, max_fps: float | None) -> float | None:
    """The frame rate to force, or None to keep the source's: a cap never raises the rate."""
    if max_fps is None:
        return None
    if src_fps and src_fps <= max_fps + 0.01:
        return None
    return max_fps


def _rate_text(fps: float) -> str:
    return RATE_FRACTIONS.get(round(fps, 2), f"{fps:g}")


def effective_clips(sources: list[SourceSpec], preset: dict) -> tuple[list[SourceSpec], tuple[float, float | None]]:
    """Fold the preset clip into a single source's own range; with several sources it stays an output range.

    Returns (sources to read, (output start, output duration or None)).
    """
    clip = preset.get("clip") or {}
    p_start = _num(clip, "startTimeInSecond", "clip", 0) or 0.0
    p_dur = _num(clip, "durationInSecond", "clip", 0)
    for s in sources:
        if s.start_s is not None and s.start_s < 0:
            raise _invalid("clips[].startTimeInSecond", s.start_s, "must be greater than or equal to 0")
        if s.duration_s is not None and s.duration_s <= 0:
            raise _invalid("clips[].durationInSecond", s.duration_s, "must be greater than 0")
        _check_inside(s, s.start_s or 0.0, "clips[].startTimeInSecond")
    if len(sources) != 1 or (not p_start and p_dur is None):
        return list(sources), (p_start, p_dur)
    s = sources[0]
    start = (s.start_s or 0.0) + p_start
    _check_inside(s, start, "clip.startTimeInSecond")
    dur = s.duration_s
    if dur is not None:
        dur = dur - p_start
        if dur <= 0:
            raise _invalid("clip.startTimeInSecond", p_start, "is past the end of the job clip")
    if p_dur is not None:
        dur = p_dur if dur is None else min(dur, p_dur)
    return [SourceSpec(s.path, s.info, start or None, dur)], (0.0, None)


def _check_inside(source: SourceSpec, start: float, field_name: str) -> None:
    """A clip must start before its source ends (else ffmpeg happily writes an empty file)."""
    duration_ms = source.info.get("durationInMillisecond")
    if start and duration_ms is not None and start * 1000 >= duration_ms - 20:
        raise _invalid(field_name, start, f"starts at or after the end of the source ({duration_ms / 1000:g} s)")


def clip_signature(sources: list[SourceSpec], preset: dict) -> tuple:
    """Requests with equal signatures read exactly the same frames (shared-decode grouping key)."""
    srcs, out_range = effective_clips(sources, preset)
    return tuple((s.path, s.start_s, s.duration_s) for s in srcs) + (out_range,)


# ----- the plan ----------------------------------------------------------------------------------------------
def plan_transcode(
    sources: list[SourceSpec],
    outputs: list[OutputSpec],
    ffmpeg: str = "ffmpeg",
    threads: int = 0,
) -> Plan:
    """One ffmpeg command writing every output. All outputs must share the same clip signature."""
    if not sources:
        raise EngineError("InvalidPreset", "a transcoding job needs at least one source clip")
    if not outputs:
        raise ValueError("plan_transcode needs at least one output")
    sigs = {clip_signature(sources, o.preset) for o in outputs}
    if len(sigs) != 1:
        raise ValueError("outputs of one ffmpeg run must read the same clips")
    srcs, (out_start, out_dur) = effective_clips(sources, outputs[0].preset)
    transmux = [bool(o.preset.get("transmux")) for o in outputs]
    if any(transmux) and len(outputs) > 1:
        raise ValueError("transmux outputs run alone")

    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    for s in srcs:
        if s.start_s:
            argv += ["-ss", _secs(s.start_s)]
        if s.duration_s is not None:
            argv += ["-t", _secs(s.duration_s)]
        argv += ["-i", s.path]
    has_video = all(s.info.get("video") for s in srcs)
    has_audio = any(s.info.get("audio") for s in srcs)

    if transmux[0]:
        if len(srcs) > 1:
            raise _invalid("transmux", True, "works on a single source clip only")
        out = outputs[0]
        if out.watermarks:
            raise _invalid(
                "watermarks",
                [w.watermark.get("watermarkId") for w in out.watermarks],
                "watermark is not supported in Transmux mode",
            )
        args, main, aux = _muxer_args(out, has_video, has_audio, video_codec=None)
        maps = (["-map", "0:v:0"] if has_video else []) + (["-map", "0:a:0"] if has_audio else [])
        argv += maps + ["-c", "copy"] + _range_args(out_start, out_dur) + args
        return Plan(argv, [main], aux)

    chains: list[str] = []
    n_inputs = len(srcs)
    v_label, a_label = _source_graph(srcs, chains, has_video, has_audio)
    # How many outputs read each decoded stream (one decode, fanned out with split/asplit).
    v_users = [i for i, o in enumerate(outputs) if wants_video(o.preset) and has_video]
    a_users = [i for i, o in enumerate(outputs) if wants_audio(o.preset) and has_audio]
    scales: dict[int, tuple[tuple[int, int] | None, list[str]]] = {}
    src_size = display_size(srcs[0].info) if has_video else None
    src_fps = (srcs[0].info.get("video") or {}).get("frameRate")
    for i in v_users:
        preset = outputs[i].preset
        scales[i] = _video_filters(preset.get("video") or {}, src_size, src_fps, container_of(preset))
    v_in = _scale_tree(v_label, {i: size for i, (size, _) in scales.items()}, chains)
    a_in = _fan_out(a_label, len(a_users), "asplit", "as", chains)

    out_sections: list[list[str]] = []
    mains: list[Path] = []
    aux_files: dict[Path, bytes] = {}
    extra_inputs: list[str] = []
    for i, out in enumerate(outputs):
        preset = out.preset
        container = container_of(preset)
        maps: list[str] = []
        enc: list[str] = []
        if container in AUDIO_CONTAINERS and not has_audio:
            raise EngineError("TranscodeFailed", f"the source has no audio stream for container {container}")
        if not (i in v_users or i in a_users):
            raise EngineError("TranscodeFailed", "the source has none of the streams this preset outputs")
        video_codec = None
        if i in v_users:
            video = preset.get("video") or {}
            label = f"v{i}"
            filters = scales[i][1]
            wm_inputs = []
            for wm in out.watermarks:
                extra_inputs += ["-i", wm.path]
                wm_inputs.append(n_inputs + len(extra_inputs) // 2 - 1)
            chains.append(_video_chain(v_in[i], filters, wm_inputs, out.watermarks, label, i))
            maps += ["-map", f"[{label}]"]
            video_codec, venc = _video_encoder_args(video, preset, src_fps, threads)
            enc += venc
        elif out.watermarks:
            raise _invalid("watermarks", len(out.watermarks), "need a video output")
        if i in a_users:
            audio = preset.get("audio") or {}
            label = f"a{i}"
            chains.append(f"{a_in[a_users.index(i)]}{_audio_filters(audio)}[{label}]")
            maps += ["-map", f"[{label}]"]
            enc += _audio_encoder_args(audio, container)
        args, main, aux = _muxer_args(out, i in v_users, i in a_users, video_codec)
        aux_files.update(aux)
        mains.append(main)
        out_sections.append(maps + enc + _range_args(out_start, out_dur) + args)

    argv += extra_inputs
    if chains:
        argv += ["-filter_complex", ";".join(chains)]
    for section in out_sections:
        argv += section
    return Plan(argv, mains, aux_files)


def _secs(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _range_args(start: float, duration: float | None) -> list[str]:
    args = []
    if start:
        args += ["-ss", _secs(start)]
    if duration is not None:
        args += ["-t", _secs(duration)]
    return args


def _source_graph(srcs: list[SourceSpec], chains: list[str], has_video: bool, has_audio: bool) -> tuple[str, str]:
    """Labels of the decoded video/audio; several clips are normalised and concatenated first."""
    if len(srcs) == 1:
        return "[0:v:0]", "[0:a:0]"
    size = display_size(srcs[0].info) or (640, 360)
    w, h = even(size[0]), even(size[1])
    fps = (srcs[0].info.get("video") or {}).get("frameRate") or 25
    rate = (srcs[0].info.get("audio") or {}).get("sampleRateInHz") or 44100
    parts = []
    for n, s in enumerate(srcs):
        if has_video:
            chains.append(
                f"[{n}:v:0]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
                f"setsar=1,fps={_rate_text(fps)},format=yuv420p[cv{n}]"
            )
            parts.append(f"[cv{n}]")
        if has_audio:
            if s.info.get("audio"):
                chains.append(f"[{n}:a:0]aresample={rate},aformat=channel_layouts=stereo[ca{n}]")
            else:  # a silent track keeps audio and video of the concatenation in step
                dur = s.duration_s or (s.info.get("durationInMillisecond") or 0) / 1000 - (s.start_s or 0)
                chains.append(f"anullsrc=r={rate}:cl=stereo,atrim=duration={_secs(max(dur, 0.04))}[ca{n}]")
            parts.append(f"[ca{n}]")
    chains.append(
        f"{''.join(parts)}concat=n={len(srcs)}:v={int(has_video)}:a={int(has_audio)}"
        + ("[cv]" if has_video else "")
        + ("[ca]" if has_audio else "")
    )
    return "[cv]", "[ca]"


def _fan_out(label: str, n: int, filt: str, prefix: str, chains: list[str]) -> list[str]:
    if n == 0:
        return []
    if n == 1:
        return [label]
    outs = [f"[{prefix}{k}]" for k in range(n)]
    chains.append(f"{label}{filt}={n}{''.join(outs)}")
    return outs


def _scale_tree(
    src_label: str, sizes_by_output: dict[int, tuple[int, int] | None], chains: list[str]
) -> dict[int, str]:
    """Scale each distinct size once, cascading from the smallest larger rendition (1080 -> 720 -> 480 -> 360):
    one decode feeds every output and each downscale reads as few pixels as possible. Returns output -> label."""
    sizes = sorted({s for s in sizes_by_output.values() if s}, key=lambda s: (-s[0] * s[1], -s[0], -s[1]))
    parents: list[int | None] = []
    for k, size in enumerate(sizes):
        parent = None
        for j in range(k - 1, -1, -1):  # the smallest earlier size that still covers this one
            if sizes[j][0] >= size[0] and sizes[j][1] >= size[1]:
                parent = j
                break
        parents.append(parent)
    consumers: dict[int | None, list[tuple[str, int]]] = {None: [], **{k: [] for k in range(len(sizes))}}
    for i, size in sizes_by_output.items():
        consumers[None if size is None else sizes.index(size)].append(("out", i))
    for k, parent in enumerate(parents):
        consumers[parent].append(("node", k))
    to_output: dict[int, str] = {}
    node_in: dict[int, str] = {}

    def distribute(label: str, producer: int | None, prefix: str) -> None:
        labels = _fan_out(label, len(consumers[producer]), "split", prefix, chains)
        for (kind, idx), lab in zip(consumers[producer], labels, strict=True):
            (to_output if kind == "out" else node_in)[idx] = lab

    distribute(src_label, None, "vs")
    for k, (w, h) in enumerate(sizes):
        chains.append(f"{node_in[k]}scale={w}:{h}[vn{k}]")
        distribute(f"[vn{k}]", k, f"vn{k}s")
    return to_output


def _video_filters(
    video: dict, src_size: tuple[int, int] | None, src_fps, container: str
) -> tuple[tuple[int, int] | None, list[str]]:
    """(size to scale the picture to, or None to keep it; the filters after scaling)."""
    codec = video.get("codec") or "h264"
    if codec not in VIDEO_ENCODERS:
        raise _invalid("video.codec", codec, f"must be one of {sorted(VIDEO_ENCODERS)}")
    if codec not in catalog.video_codecs_for(container):
        raise _invalid("video.codec", codec, f"is not supported in container {container}")
    max_w = _num(video, "maxWidthInPixel", "video", 2)
    max_h = _num(video, "maxHeightInPixel", "video", 2)
    policy = video.get("sizingPolicy") or "keep"
    filters = []
    scale_to = None
    if src_size:
        pw, ph, bw, bh = target_size(
            src_size[0], src_size[1], max_w, max_h, policy, bool(video.get("autoAdjustResolution"))
        )
        if (pw, ph) != src_size:
            scale_to = (pw, ph)
        if (bw, bh) != (pw, ph):
            filters.append(f"pad={bw}:{bh}:(ow-iw)/2:(oh-ih)/2:black")
        filters.append("setsar=1")
    elif max_w or max_h:  # unknown source size: let ffmpeg keep aspect inside the box
        filters.append(
            f"scale='min({max_w or 'iw'},iw)':'min({max_h or 'ih'},ih)':force_original_aspect_ratio="
            "decrease:force_divisible_by=2"
        )
    max_fps = _num(video, "maxFrameRate", "video", 1)
    fps = output_frame_rate(src_fps, max_fps)
    if fps:
        filters.append(f"fps={_rate_text(fps)}")
    return scale_to, filters


def _video_chain(
    v_in: str, filters: list[str], wm_inputs: list[int], watermarks: list[WatermarkSpec], label: str, i: int
) -> str:
    chain = v_in + ",".join(filters or ["null"])
    for k, (idx, wm) in enumerate(zip(wm_inputs, watermarks, strict=True)):
        x, y = overlay_position(wm.watermark)
        enable = overlay_enable(wm.watermark)
        chain += f"[w{i}_{k}];[w{i}_{k}][{idx}:v:0]overlay=x={x}:y={y}" + (f":enable='{enable}'" if enable else "")
    return chain + f",format=yuv420p[{label}]"


def overlay_position(wm: dict) -> tuple[str, str]:
    """overlay x/y expressions for MCT alignment + pixel offsets (offsets count from the aligned edge)."""
    h_align = wm.get("horizontalAlignment") or "left"
    v_align = wm.get("verticalAlignment") or "top"
    dx = int(wm.get("horizontalOffsetInPixel") or 0)
    dy = int(wm.get("verticalOffsetInPixel") or 0)
    xs = {"left": f"{dx}", "center": "(main_w-overlay_w)/2", "right": f"main_w-overlay_w-{dx}"}
    ys = {"top": f"{dy}", "center": "(main_h-overlay_h)/2", "bottom": f"main_h-overlay_h-{dy}"}
    if h_align not in xs:
        raise _invalid("watermark.horizontalAlignment", h_align, "must be one of [left, center, right]")
    if v_align not in ys:
        raise _invalid("watermark.verticalAlignment", v_align, "must be one of [top, center, bottom]")
    return xs[h_align], ys[v_align]


def overlay_enable(wm: dict) -> str | None:
    timeline = wm.get("timeline") or {}
    start = timeline.get("startTimeInMillisecond")
    dur = timeline.get("durationInMillisecond")
    if start is None and dur is None:
        return None
    start_s = (start or 0) / 1000
    if dur is None:
        return f"gte(t\\,{_secs(start_s)})"
    return f"between(t\\,{_secs(start_s)}\\,{_secs(start_s + dur / 1000)})"


def _video_encoder_args(video: dict, preset: dict, src_fps, threads: int) -> tuple[str, list[str]]:
    codec = video.get("codec") or "h264"
    args = ["-c:v", VIDEO_ENCODERS[codec]]
    mode = (preset.get("transCfg") or {}).get("transMode") or "normal"
    if codec == "h264":
        args += ["-preset", X264_PRESET_BY_TRANS_MODE.get(mode, DEFAULT_X264_PRESET)]
    else:
        args += ["-preset", DEFAULT_X265_PRESET, "-x265-params", "log-level=error", "-tag:v", "hvc1"]
    profile = (video.get("codecOptions") or {}).get("profile")
    if profile is not None:
        if profile not in PROFILES:
            raise _invalid("video.codecOptions.profile", profile, f"must be one of {sorted(PROFILES)}")
        args += ["-profile:v", profile if codec == "h264" else "main"]
    bitrate = _num(video, "bitRateInBps", "video", 32000)
    crf = _num(video, "crf", "video", 0)
    if video.get("rateControl") == "crf" or (crf is not None and bitrate is None):
        args += ["-crf", f"{crf if crf is not None else 23:g}"]
        if bitrate:
            args += ["-maxrate", str(int(bitrate)), "-bufsize", str(int(bitrate * 2))]
    elif bitrate:
        args += ["-b:v", str(int(bitrate)), "-maxrate", str(int(bitrate * 1.5)), "-bufsize", str(int(bitrate * 2))]
    gop = _num((preset.get("extraCfg") or {}), "gopLength", "extraCfg", 1)
    if gop:
        args += ["-g", str(int(gop))]
    args += ["-pix_fmt", "yuv420p", "-threads", str(threads)]
    return codec, args


def _audio_filters(audio: dict) -> str:
    adjust = audio.get("volumeAdjust") or {}
    if adjust.get("mute"):
        return "volume=0"
    filters = []
    if adjust.get("norm"):
        filters.append("loudnorm")
    if adjust.get("gain"):
        filters.append(f"volume={int(adjust['gain'])}dB")
    return ",".join(filters) or "anull"


def pcm_layout(audio: dict) -> tuple[str, int, int]:
    """(sample format, rate, channels) of a pcm output: raw samples have no header, so all three are explicit."""
    fmt = audio.get("pcmFormat") or catalog.DEFAULT_PCM_FORMAT
    if fmt not in catalog.PCM_FORMATS:
        raise _invalid("audio.pcmFormat", fmt, f"must be one of {list(catalog.PCM_FORMATS)}")
    rate = int(audio.get("sampleRateInHz") or catalog.DEFAULT_PCM_SAMPLE_RATE)
    channels = int(audio.get("channels") or catalog.DEFAULT_PCM_CHANNELS)
    return fmt, rate, channels


def _audio_encoder_args(audio: dict, container: str) -> list[str]:
    if container == "pcm":
        fmt, rate, channels = pcm_layout(audio)
        return ["-c:a", f"pcm_{fmt}", "-ar", str(rate), "-ac", str(channels)]
    allowed = catalog.audio_codecs_for(container)
    codec = audio.get("codec") or allowed[0]
    if codec not in AUDIO_ENCODERS or codec not in allowed:
        raise _invalid("audio.codec", codec, f"must be one of {list(allowed)} for container {container}")
    args = ["-c:a", AUDIO_ENCODERS[codec]]
    bitrate = _num(audio, "bitRateInBps", "audio", 1000) or DEFAULT_AUDIO_BITRATE
    args += ["-b:a", str(int(bitrate))]
    rate = audio.get("sampleRateInHz")
    if rate is not None:
        if rate not in (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000):
            raise _invalid("audio.sampleRateInHz", rate, "should in [22050, 32000, 44100, 48000, 96000]")
        args += ["-ar", str(int(rate))]
    channels = audio.get("channels")
    if channels is not None:
        if channels not in (1, 2):
            raise _invalid("audio.channels", channels, "must be 1 or 2")
        args += ["-ac", str(int(channels))]
    return args


def segment_seconds(preset: dict) -> float:
    seconds = _num(preset.get("extraCfg") or {}, "segmentDurationInSecond", "extraCfg", 0.1)
    return float(seconds or DEFAULT_SEGMENT_SECONDS)


def stem_of(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name.strip(".") else name


def segment_stem(name: str) -> str:
    """Prefix of segment names: the main file's stem with characters that need escaping in playlist/manifest URIs
    or in ffmpeg name patterns (space, %, $, ?, #, ...) replaced by "_"."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem_of(name)) or "media"


def _muxer_args(out: OutputSpec, video: bool, audio: bool, video_codec: str | None) -> tuple[list[str], Path, dict]:
    preset = out.preset
    container = container_of(preset)
    main = out.out_dir / out.name
    stem = segment_stem(out.name)
    aux: dict[Path, bytes] = {}
    encryption = preset.get("encryption")
    if encryption and container not in catalog.ENCRYPTED_CONTAINERS:
        raise _invalid("encryption", encryption.get("strategy"), f"is only supported for hls/a-hls, not {container}")
    args: list[str] = []
    if not video:
        args += ["-vn"]
    if not audio:
        args += ["-an"]
    args += ["-map_metadata", "-1", "-sn", "-dn"]
    if container in ("mp4", "m4a"):
        args += ["-movflags", "+faststart", "-f", "mp4"]
    elif container == "flv":
        args += ["-f", "flv"]
    elif container == "mp3":
        args += ["-f", "mp3"]
    elif container == "pcm":
        args += ["-f", pcm_layout(preset.get("audio") or {})[0]]
    elif container in ("hls", "a-hls"):
        seg = segment_seconds(preset)
        if video and video_codec:  # cut on segment boundaries: force keyframes there
            args += ["-force_key_frames", f"expr:gte(t,n_forced*{_secs(seg)})"]
        args += [
            "-f", "hls", "-hls_time", _secs(seg), "-hls_list_size", "0", "-hls_playlist_type", "vod",
            "-hls_segment_type", "mpegts",
            "-hls_segment_filename", str(out.out_dir / f"{stem}-%05d.ts"),
        ]  # fmt: skip
        if encryption:
            if not out.aes_key or len(out.aes_key) != 16:
                raise _invalid("encryption.aesKey", "<hidden>", "must be 16 characters [a-zA-Z0-9]")
            if out.aux_dir is None:
                raise ValueError("encrypted HLS needs an aux_dir for the key file")
            key_file = out.aux_dir / f"{stem}.key"
            info_file = out.aux_dir / f"{stem}.keyinfo"
            uri = HLS_KEY_URI_TEMPLATE.format(job_id=out.job_id, name=stem)
            aux[key_file] = out.aes_key
            aux[info_file] = f"{uri}\n{key_file}\n".encode()
            args += ["-hls_key_info_file", str(info_file)]
    elif container == "dash":
        seg = segment_seconds(preset)
        if video and video_codec:
            args += ["-force_key_frames", f"expr:gte(t,n_forced*{_secs(seg)})"]
        sets = " ".join(s for s in ("id=0,streams=v" if video else "", "id=1,streams=a" if audio else "") if s)
        args += [
            "-f", "dash", "-seg_duration", _secs(seg), "-use_template", "1", "-use_timeline", "1",
            "-init_seg_name", f"{stem}-init-$RepresentationID$.m4s",
            "-media_seg_name", f"{stem}-chunk-$RepresentationID$-$Number%05d$.m4s",
            "-adaptation_sets", sets,
        ]  # fmt: skip
    args.append(str(main))
    return args, main, aux
