"""Media info by parsing ``ffmpeg -hide_banner -i <path>`` (there is no ffprobe in the bundled ffmpeg).

``parse_ffmpeg_info(stderr, ...)`` is pure (unit-tested on captured outputs); ``probe_media(path)`` runs ffmpeg.
The result uses wire MediaInfo field names (reference §2.10) minus bucket/key/etag, which the service adds.
"""

from __future__ import annotations

import copy
import re
import threading
from collections import OrderedDict
from pathlib import Path

from localcloud.ffmpeg import ffmpeg_path
from localcloud.mct.engine import process
from localcloud.mct.engine.types import EngineError

# [INFERRED] MCT reports the demuxer's short name ("avi", "mp4", "mp3", "flv"); ffmpeg lists a family of names
# for some demuxers, so the file extension (or the MP4 brand) picks the member. One place to change.
CONTAINER_FAMILIES = {
    "mov,mp4,m4a,3gp,3g2,mj2": ("mp4", {".mov": "mov", ".m4a": "m4a", ".3gp": "3gp", ".3g2": "3g2", ".mj2": "mj2"}),
    "matroska,webm": ("mkv", {".webm": "webm"}),
    "mpegts": ("ts", {}),
    "wav": ("wav", {}),
}
# [INFERRED] width/height are the coded (stored) size; dar follows the *displayed* picture (a rotate 90/270 file
# coded 1920x1080 reports dar "9:16", as the real service does for portrait phone videos, reference §2.10).
DAR_FOLLOWS_ROTATION = True

CHANNEL_LAYOUTS = {
    "mono": 1,
    "stereo": 2,
    "2.1": 3,
    "3.0": 3,
    "3.0(back)": 3,
    "quad": 4,
    "quad(side)": 4,
    "4.0": 4,
    "4.1": 5,
    "5.0": 5,
    "5.0(side)": 5,
    "5.1": 6,
    "5.1(side)": 6,
    "6.1": 7,
    "7.1": 8,
    "7.1(wide)": 8,
    "downmix": 2,
}
NOT_MEDIA_MESSAGE = "Get media info failed with errno: 1001"  # the real service's text for non-media (§2.10)

_INPUT = re.compile(r"^Input #0, (?P<fmt>.+?), from '(?P<path>.*)':\s*$")
_DURATION = re.compile(r"^\s*Duration: (?P<dur>[^,]+), start: (?P<start>[^,]+), bitrate: (?P<br>.+?)\s*$")
_STREAM = re.compile(r"^\s*Stream #0:(?P<idx>\d+)\S*: (?P<kind>Video|Audio|Data|Subtitle|Attachment): (?P<rest>.*)$")
_ROTATION = re.compile(r"(?:Display Matrix|displaymatrix): rotation of (?P<deg>-?[\d.]+) degrees", re.IGNORECASE)
_ROTATE_TAG = re.compile(r"^\s*rotate\s*: (?P<deg>-?\d+)\s*$")
_BRAND = re.compile(r"^\s*major_brand\s*: (?P<brand>.+?)\s*$")
_SIZE = re.compile(r"^(?P<w>\d+)x(?P<h>\d+)(?: \[SAR (?P<sar>\d+:\d+) DAR (?P<dar>\d+:\d+)\])?")


def probe_media(path: str | Path, input_options: tuple[str, ...] = ()) -> dict:
    """Describe a media file; raises EngineError("NotMedia") when ffmpeg cannot read it as audio/video.

    ``input_options`` go before ``-i`` (e.g. ``-allowed_extensions ALL`` for an encrypted playlist's key file).
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        st = None
    if st is None or not path.is_file():
        raise EngineError("SourceNotFound", f"bos object: {path.name} does not exist")
    # One upload is probed by get_mediainfo, then by every rendition and thumbnail job: same file, same answer.
    # Objects are replaced by rename (new inode and mtime), so a changed object never hits an old entry.
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, tuple(input_options))
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return copy.deepcopy(cached)
    proc = process.run_short(
        [ffmpeg_path(), "-hide_banner", "-nostdin", *input_options, "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    info = parse_ffmpeg_info(proc.stderr, file_size=st.st_size, suffix=path.suffix)
    with _cache_lock:
        _cache[key] = copy.deepcopy(info)
        while len(_cache) > PROBE_CACHE_SIZE:
            _cache.popitem(last=False)
    return info


PROBE_CACHE_SIZE = 256  # probed files remembered (a few hundred bytes each)
_cache: OrderedDict[tuple, dict] = OrderedDict()
_cache_lock = threading.Lock()


def parse_ffmpeg_info(text: str, file_size: int = 0, suffix: str = "") -> dict:
    """Turn ``ffmpeg -i`` stderr into wire MediaInfo. Pure; raises EngineError("NotMedia")."""
    fmt = None
    brand = ""
    duration_s = None
    overall_bps = None
    video: dict | None = None
    audio: dict | None = None
    current: dict | None = None  # the stream whose metadata / side data lines follow
    for line in text.splitlines():
        if fmt is None:
            m = _INPUT.match(line)
            if m:
                fmt = m.group("fmt")
            continue
        if line.startswith(("Output #", "Stream mapping", "Input #1")):
            break
        m = _BRAND.match(line)
        if m and not brand:
            brand = m.group("brand").strip()
            continue
        m = _DURATION.match(line)
        if m:
            duration_s = _parse_clock(m.group("dur"))
            overall_bps = _parse_bitrate(m.group("br"))
            continue
        m = _STREAM.match(line)
        if m:
            current = None
            kind, rest = m.group("kind"), m.group("rest")
            if kind == "Video" and video is None and "(attached pic)" not in rest:
                video = current = _parse_video(rest)
            elif kind == "Audio" and audio is None:
                audio = current = _parse_audio(rest)
            continue
        if current is not None and current is video:
            m = _ROTATION.search(line)
            if m:
                # The display matrix angle is counter-clockwise; "rotate" is clockwise (a phone's rotate=90).
                video["rotate"] = round(-float(m.group("deg"))) % 360
                continue
            m = _ROTATE_TAG.match(line)
            if m:
                video["rotate"] = int(m.group("deg")) % 360
    if fmt is None or (video is None and audio is None):
        raise EngineError("NotMedia", NOT_MEDIA_MESSAGE)
    info: dict = {
        "fileSizeInByte": file_size,
        "container": _container(fmt, brand, suffix),
        "type": "video" if video else "audio",
    }
    if duration_s is not None:
        info["durationInSecond"] = int(duration_s + 0.5)
        info["durationInMillisecond"] = int(duration_s * 1000 + 0.5)
    if overall_bps is not None:
        info["bitRateInBps"] = overall_bps
    if video:
        if DAR_FOLLOWS_ROTATION and video.get("rotate") in (90, 270) and "dar" in video:
            a, b = video["dar"].split(":")
            video["dar"] = f"{b}:{a}"
        video.setdefault("rotate", 0)
        info["video"] = video
    if audio:
        info["audio"] = audio
    return info


def _container(fmt: str, brand: str, suffix: str) -> str:
    suffix = suffix.lower()
    if fmt in CONTAINER_FAMILIES:
        default, by_suffix = CONTAINER_FAMILIES[fmt]
        if suffix in by_suffix:
            return by_suffix[suffix]
        if fmt.startswith("mov") and brand.upper().startswith("M4A"):
            return "m4a"
        if fmt.startswith("mov") and brand.startswith("qt"):
            return "mov"
        return default
    return fmt.split(",")[0]


def _split_top(rest: str) -> list[str]:
    """Split a stream description on ", " outside parentheses/brackets."""
    parts, depth, cur = [], 0, []
    i = 0
    while i < len(rest):
        ch = rest[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    if cur:
        parts.append("".join(cur).strip())
    return parts


def _codec(first: str) -> str:
    return first.split(" ", 1)[0].strip()


def _parse_video(rest: str) -> dict:
    parts = _split_top(rest)
    video: dict = {"codec": _codec(parts[0])}
    for part in parts[1:]:
        m = _SIZE.match(part)
        if m and "widthInPixel" not in video:
            video["widthInPixel"] = int(m.group("w"))
            video["heightInPixel"] = int(m.group("h"))
            dar = m.group("dar")
            if dar is None:
                dar = _reduce(int(m.group("w")), int(m.group("h")))
            video["dar"] = dar
            continue
        if part.endswith(" kb/s"):
            bps = _parse_bitrate(part.split(" (")[0])
            if bps:
                video["bitRateInBps"] = bps
        elif part.endswith(" fps"):
            video["frameRate"] = _parse_rate(part[: -len(" fps")])
        elif part.endswith(" tbr") and "frameRate" not in video:
            video["frameRate"] = _parse_rate(part[: -len(" tbr")])
    return video


def _parse_audio(rest: str) -> dict:
    parts = _split_top(rest)
    audio: dict = {"codec": _codec(parts[0])}
    for part in parts[1:]:
        part = part.split(" (default)")[0].strip()
        if part.endswith(" Hz"):
            audio["sampleRateInHz"] = int(part[: -len(" Hz")])
        elif part.endswith(" kb/s"):
            bps = _parse_bitrate(part)
            if bps:
                audio["bitRateInBps"] = bps
        elif part in CHANNEL_LAYOUTS:
            audio["channels"] = CHANNEL_LAYOUTS[part]
        elif part.endswith(" channels") and part.split()[0].isdigit():
            audio["channels"] = int(part.split()[0])
        elif "channels" not in audio and re.fullmatch(r"\d+\.\d(\(\w+\))?", part):
            a, b = part.split("(")[0].split(".")
            audio["channels"] = int(a) + int(b)
    return audio


def _parse_clock(text: str) -> float | None:
    m = re.match(r"^\s*(\d+):(\d+):(\d+(?:\.\d+)?)", text)
    if not m:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def _parse_bitrate(text: str) -> int | None:
    m = re.match(r"^\s*(\d+(?:\.\d+)?) kb/s", text)
    return int(float(m.group(1)) * 1000) if m else None


def _parse_rate(text: str) -> float:
    text = text.strip()
    mult = 1000 if text.endswith("k") else 1
    value = float(text.rstrip("k")) * mult
    return int(value) if value == int(value) else value


def _reduce(w: int, h: int) -> str:
    import math

    g = math.gcd(w, h) or 1
    return f"{w // g}:{h // g}"
