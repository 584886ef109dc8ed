"""HLS master playlists: build one from the renditions of an upload; read media playlists. No I/O.

A master playlist (RFC 8216 §4.3.4.2) lists each rendition once with what a player needs to pick one:
BANDWIDTH (peak bits/s of any segment), AVERAGE-BANDWIDTH, RESOLUTION, CODECS and FRAME-RATE. The numbers come
from the job outputs (size, frame rate, bit rate) and, when the caller measured them, the segments' sizes.
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass
from typing import Any

# H.264 High profile level 4.0 + AAC-LC: what the bce.video_hls_* presets produce; a rule may name others.
DEFAULT_CODECS = "avc1.640028,mp4a.40.2"
MASTER_NAME = "master.m3u8"


@dataclass(frozen=True)
class Segment:
    uri: str
    duration: float  # seconds, from #EXTINF


@dataclass(frozen=True)
class Variant:
    uri: str  # relative to the master playlist
    bandwidth: int  # peak bits/s
    average_bandwidth: int | None = None
    width: int | None = None
    height: int | None = None
    codecs: str | None = None
    frame_rate: float | None = None


def media_segments(text: str) -> list[Segment]:
    """The segments of a media playlist, in order (ValueError if it is not an HLS playlist)."""
    lines = [line.strip() for line in text.splitlines()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an HLS playlist: the first line must be #EXTM3U")
    segments, duration = [], None
    for line in lines[1:]:
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append(Segment(line, duration))
            duration = None
    return segments


def resolve(playlist_key: str, uri: str) -> str:
    """The object key a URI in a playlist stored at playlist_key points at (relative URIs only)."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(playlist_key), uri))


def relative_uri(master_key: str, variant_key: str) -> str:
    return posixpath.relpath(variant_key, posixpath.dirname(master_key) or ".")


def default_master_key(variant_keys: list[str], name: str = MASTER_NAME) -> str:
    """Next to the renditions: in their common directory."""
    common = posixpath.commonpath([posixpath.dirname(k) or "." for k in variant_keys]) if variant_keys else ""
    return posixpath.join(common, name) if common not in ("", ".") else name


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def variant(
    uri: str,
    output: dict[str, Any],
    segments: list[Segment],
    segment_sizes: list[int] | None = None,
    codecs: str | None = DEFAULT_CODECS,
) -> Variant:
    """One rendition. With segment_sizes (bytes, one per segment) the bandwidths are measured: the peak and the
    mean of size/duration; without them both come from the job output's bit rate."""
    video = output.get("video") or {}
    if segment_sizes is not None:
        if len(segment_sizes) != len(segments):
            raise ValueError(f"{len(segment_sizes)} segment sizes for {len(segments)} segments of {uri}")
        rates = [size * 8 / seg.duration for size, seg in zip(segment_sizes, segments, strict=True) if seg.duration > 0]
        total = sum(seg.duration for seg in segments)
        peak = max(rates) if rates else None
        average = sum(segment_sizes) * 8 / total if total > 0 else None
    else:
        kbps = _number(output.get("bit_rate_in_k_bps"))
        if kbps is None:
            size_kb, seconds = _number(video.get("size_in_kilo_byte")), _number(video.get("duration_in_seconds"))
            kbps = size_kb * 8 * 1.024 / seconds if size_kb and seconds else None
        peak = average = kbps * 1000 if kbps else None
    if peak is None:
        raise ValueError(f"no bit rate for {uri}: the job output has none and no segment sizes were given")
    frame_rate = _number(video.get("frame_rate"))
    width, height = video.get("width_in_pixel"), video.get("height_in_pixel")
    return Variant(
        uri=uri,
        bandwidth=math.ceil(peak),
        average_bandwidth=math.ceil(average) if average else None,
        width=int(width) if width else None,
        height=int(height) if height else None,
        codecs=codecs or None,
        frame_rate=frame_rate,
    )


def build_master(variants: list[Variant]) -> str:
    """The master playlist text, variants from the highest bandwidth down."""
    if not variants:
        raise ValueError("a master playlist needs at least one variant")
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in sorted(variants, key=lambda v: v.bandwidth, reverse=True):
        attrs = [f"BANDWIDTH={v.bandwidth}"]
        if v.average_bandwidth:
            attrs.append(f"AVERAGE-BANDWIDTH={v.average_bandwidth}")
        if v.width and v.height:
            attrs.append(f"RESOLUTION={v.width}x{v.height}")
        if v.codecs:
            attrs.append(f'CODECS="{v.codecs}"')
        if v.frame_rate:
            attrs.append(f"FRAME-RATE={v.frame_rate:.3f}")
        if "\n" in v.uri or "\r" in v.uri:
            raise ValueError(f"variant URI {v.uri!r} contains a line break")
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), v.uri]
    return "\n".join(lines) + "\n"


def parse_master(text: str) -> list[dict[str, str]]:
    """The variants of a master playlist: their attributes plus "URI" (ValueError if it is not one)."""
    lines = [line.strip() for line in text.splitlines()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an HLS playlist: the first line must be #EXTM3U")
    variants, pending = [], None
    for line in lines[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = _attributes(line[len("#EXT-X-STREAM-INF:") :])
        elif line and not line.startswith("#") and pending is not None:
            variants.append({**pending, "URI": line})
            pending = None
    return variants


def _attributes(text: str) -> dict[str, str]:
    attrs, i = {}, 0
    while i < len(text):
        eq = text.index("=", i)
        name = text[i:eq].strip()
        if text[eq + 1 : eq + 2] == '"':
            end = text.index('"', eq + 2)
            attrs[name], i = text[eq + 2 : end], end + 2
        else:
            end = text.find(",", eq)
            end = len(text) if end < 0 else end
            attrs[name], i = text[eq + 1 : end], end + 1
    return attrs
