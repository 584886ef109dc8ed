"""Media-aware planning: what the source is (from MCT's mediainfo) decides which planned jobs run and with which
preset. Pure: no I/O; the submit use-case fetches the mediainfo and applies the plan.

- not media (empty, text, unreadable): no job at all; every target skipped with the reason (the upload ends FAILED)
- audio only: the video renditions and thumbnails are skipped; audio targets are kept
- portrait source: a landscape rendition is made with its portrait variant (same class: "720p" of a 720x1280 clip
  is 720x1280, not 406x720); `autotranscode provision` creates the variants (portrait_preset_name)
- renditions larger than the source are skipped (long side against long side), the smallest kept if asked
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Any

from handlers.domain.statuses import KIND_THUMBNAIL

NOT_MEDIA, AUDIO_ONLY, LARGER_THAN_SOURCE = "NOT_MEDIA", "AUDIO_ONLY", "LARGER_THAN_SOURCE"
_SIZE_RE = re.compile(r"(\d{2,5})x(\d{2,5})")
MAX_PRESET_NAME = 40  # MCT names: [a-z][0-9a-z_]{0,39}


@dataclass(frozen=True)
class PlannedJob:
    target: str  # stable name within the rule: the target's name or "thumbnail:<name>"
    kind: str
    request: dict[str, Any]  # {"pipeline", "source", "target", ["capture"], ["note"]}
    frame_size: tuple[int, int] | None = None
    needs_video: bool = True  # False for an audio rendition


@dataclass(frozen=True)
class Media:
    """What the mediainfo says about the source."""

    kind: str  # "video" | "audio" | "not_media" | "unknown"
    frame: tuple[int, int] | None = None  # displayed (width, height), rotation applied
    reason: str | None = None


def media_from_info(info: dict[str, Any]) -> Media:
    """From a successful mediainfo (snake_case keys)."""
    video = info.get("video") or {}
    w, h = video.get("width_in_pixel"), video.get("height_in_pixel")
    if w and h:
        if int(video.get("rotate") or 0) % 180 == 90:
            w, h = h, w
        return Media("video", (int(w), int(h)))
    if info.get("audio") or str(info.get("type") or "").lower() == "audio":
        return Media("audio", reason="the source has an audio track and no video track")
    return Media("unknown")


def media_from_error(status: int | None, code: str | None, message: str) -> Media:
    """From a permanent mediainfo error: MCT cannot read the file as media (or it is gone)."""
    what = code or (f"HTTP {status}" if status else "error")
    return Media("not_media", reason=f"MCT cannot read the source as media ({what}: {message})"[:500])


def is_not_media_error(status: int | None) -> bool:
    """Permanent mediainfo errors that say the source is unusable; auth/permission errors say nothing about it."""
    return status is not None and 400 <= status < 500 and status not in (401, 403, 408, 429)


def portrait_preset_name(preset: str) -> str:
    """The name of the portrait variant of a landscape preset: bce.video_mp4_1280x720_2048kbps ->
    pt_bce_video_mp4_720x1280_2048kbps (a valid MCT name, at most 40 characters)."""
    swapped = _SIZE_RE.sub(lambda m: f"{m.group(2)}x{m.group(1)}", preset, count=1)
    base = "pt_" + re.sub(r"[^0-9a-z_]", "_", swapped.lower())
    if len(base) <= MAX_PRESET_NAME:
        return base
    digest = hashlib.sha256(preset.encode()).hexdigest()[:8]
    return f"{base[: MAX_PRESET_NAME - 9]}_{digest}"


def preset_has_video(preset: str, custom_presets: list[dict[str, Any]] = ()) -> bool:  # type: ignore[assignment]
    """False for audio presets: a custom one with audio and no video, or a system bce.audio_* one."""
    for body in custom_presets:
        if body.get("presetName") == preset:
            return bool(body.get("video")) or not body.get("audio")
    return not preset.lower().startswith("bce.audio")


def portrait_variants(mediainfo_check: Any) -> bool:
    """Whether portrait sources get the portrait variants: whenever the media check is on (the one place that
    decides it, for the planner, `provision` and `check`)."""
    return bool(mediainfo_check.enabled)


def is_landscape(size: tuple[int, int] | None) -> bool:
    return bool(size) and size[0] > size[1]  # type: ignore[index]


def larger_than_source(size: tuple[int, int], source: tuple[int, int]) -> bool:
    """Long side against long side, short against short: a 1280x720 preset is not "larger" than 720x1280."""
    return max(size) > max(source) or min(size) > min(source)


def _skip(p: PlannedJob, code: str, reason: str) -> dict[str, Any]:
    return {"target": p.target, "code": code, "reason": reason}


def plan_for_media(
    planned: list[PlannedJob], media: Media, keep_smallest: bool = True, portrait_variants: bool = True
) -> tuple[list[PlannedJob], list[dict[str, Any]]]:
    """-> (jobs to create, skipped targets with code and reason)."""
    if media.kind == "not_media":
        return [], [_skip(p, NOT_MEDIA, media.reason or "not media") for p in planned]
    if media.kind == "audio":
        kept = [p for p in planned if not p.needs_video]
        skipped = [_skip(p, AUDIO_ONLY, f"{'thumbnail' if p.kind == KIND_THUMBNAIL else 'video rendition'} "
                           f"skipped: {media.reason}") for p in planned if p.needs_video]  # fmt: skip
        return kept, skipped
    if media.kind != "video" or media.frame is None:
        return planned, []
    source = media.frame
    if portrait_variants and source[1] > source[0]:
        planned = [_portrait(p, source) for p in planned]
    return _drop_larger(planned, source, keep_smallest)


def _portrait(p: PlannedJob, source: tuple[int, int]) -> PlannedJob:
    if p.kind == KIND_THUMBNAIL or not is_landscape(p.frame_size):
        return p
    target = dict(p.request["target"])
    preset = target["presetName"]
    target["presetName"] = portrait_preset_name(preset)
    w, h = p.frame_size  # type: ignore[misc]
    note = (f"portrait source {source[0]}x{source[1]}: preset {target['presetName']} ({h}x{w}) instead of "
            f"{preset} ({w}x{h})")  # fmt: skip
    return replace(p, request={**p.request, "target": target, "note": note}, frame_size=(h, w))


def _drop_larger(planned: list[PlannedJob], source: tuple[int, int], keep_smallest: bool):
    too_big = [p for p in planned if p.frame_size and larger_than_source(p.frame_size, source)]
    if not too_big:
        return planned, []
    if keep_smallest and not any(p.frame_size and p not in too_big for p in planned):
        smallest = min(too_big, key=lambda p: p.frame_size[0] * p.frame_size[1])  # type: ignore[index]
        too_big = [p for p in too_big if p is not smallest]
    kept = [p for p in planned if p not in too_big]
    skipped = [
        _skip(
            p,
            LARGER_THAN_SOURCE,
            f"rendition {p.frame_size[0]}x{p.frame_size[1]} is larger than the source "  # type: ignore[index]
            f"{source[0]}x{source[1]}",
        )  # fmt: skip
        for p in too_big
    ]
    return kept, skipped
