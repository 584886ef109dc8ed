"""Domain rules: which uploads a rule takes, output key templates, and the recursion guard.

Key template placeholders (all from the *source* object, except preset/ext/target):
  {key}    the whole source key            incoming/a b/clip.MOV
  {dir}    its directory, no trailing "/"  incoming/a b        ("" for a top-level key)
  {name}   file name                       clip.MOV
  {stem}   file name without extension     clip
  {source_ext} source extension, no dot    MOV
  {etag}   the source version's etag       0cd0545962d6f4c915fe2051a835032d (one output per version of a key)
  {preset} the target's preset name        bce.video_mp4_1280x720_2048kbps
  {ext}    the *output* extension          mp4 (target.ext, else derived from the preset name)
  {target} the target's name
Rendered keys have "//" collapsed and no leading "/", so "out/{dir}/{stem}.mp4" works for top-level keys.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PLACEHOLDERS = frozenset({"key", "dir", "name", "stem", "source_ext", "etag", "preset", "ext", "target"})
# Placeholders whose value depends on the uploaded object (unknown when the config is checked).
SOURCE_PLACEHOLDERS = frozenset({"key", "dir", "name", "stem", "source_ext", "etag"})

_SIZE_RE = re.compile(r"(\d{2,5})x(\d{2,5})")
# Container word in a preset name -> file extension of the output.
_CONTAINER_EXT = {
    "mp4": "mp4",
    "flv": "flv",
    "hls": "m3u8",
    "mp3": "mp3",
    "m4a": "m4a",
    "dash": "mpd",
    "webm": "webm",
    "mov": "mov",
    "ts": "ts",
}


def check_template(template: str) -> None:
    """Raise ValueError naming a bad placeholder or format error."""
    try:
        fields = [f for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"bad template {template!r}: {exc}; write literal braces as {{{{ and }}}}") from None
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        raise ValueError(f"unknown placeholder(s) {unknown} in {template!r}; use {sorted(PLACEHOLDERS)}")
    if not template.strip():
        raise ValueError("must not be empty")


def extension_for_preset(preset: str) -> str:
    """bce.video_mp4_1280x720_2048kbps -> mp4; bce.audio_mp3_... -> mp3; unknown -> mp4."""
    for word in re.split(r"[._]", preset.lower()):
        if word in _CONTAINER_EXT:
            return _CONTAINER_EXT[word]
    return "mp4"


def size_from_preset_name(preset: str) -> tuple[int, int] | None:
    """The WxH written in a preset name (system presets have it), or None."""
    m = _SIZE_RE.search(preset)
    return (int(m.group(1)), int(m.group(2))) if m else None


def source_fields(key: str) -> dict[str, str]:
    directory, _, name = key.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:  # "clip" or ".hidden": no extension
        stem, ext = name, ""
    return {"key": key, "dir": directory, "name": name, "stem": stem, "source_ext": ext}


def render_key(
    template: str, source_key: str, *, preset: str = "", ext: str = "", target: str = "", etag: str = ""
) -> str:
    values = source_fields(source_key) | {"etag": etag, "preset": preset, "ext": ext, "target": target}
    rendered = template.format(**values)
    rendered = re.sub(r"/{2,}", "/", rendered).lstrip("/")
    return rendered


def rule_matches(rule: Any, bucket: str, key: str) -> bool:
    if bucket != rule.bucket:
        return False
    if rule.prefixes and not any(key.startswith(p) for p in rule.prefixes):
        return False
    return not rule.suffixes or any(key.lower().endswith(s.lower()) for s in rule.suffixes)


def first_matching_rule(rules: Iterable[Any], bucket: str, key: str) -> Any | None:
    for rule in rules:
        if rule_matches(rule, bucket, key):
            return rule
    return None


# --- recursion guard -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputPattern:
    """What we know statically about the keys an output template can produce."""

    bucket: str
    literal_prefix: str  # text before the first source placeholder
    literal_suffix: str  # text after the last source placeholder
    has_free_part: bool  # a source placeholder sits between them
    origin: str

    def could_match(self, rule: Any) -> bool:
        if self.bucket != rule.bucket:
            return False
        return self._prefix_ok(rule.prefixes) and self._suffix_ok(rule.suffixes)

    def _prefix_ok(self, prefixes: Sequence[str]) -> bool:
        if not prefixes:
            return True
        lp = _normalize(self.literal_prefix)
        for p in prefixes:
            if lp.startswith(p):
                return True
            if self.has_free_part and p.startswith(lp):
                return True
        return False

    def _suffix_ok(self, suffixes: Sequence[str]) -> bool:
        if not suffixes:
            return True
        ls = self.literal_suffix.lower()
        for s in (s.lower() for s in suffixes):
            if ls.endswith(s):
                return True
            if self.has_free_part and s.endswith(ls):
                return True
        return False


def _normalize(prefix: str) -> str:
    return re.sub(r"/{2,}", "/", prefix).lstrip("/")


def output_pattern(template: str, bucket: str, *, preset: str, ext: str, target: str, origin: str) -> OutputPattern:
    """Substitute what is known per target, keep the literal text around the source placeholders."""
    prefix_parts: list[str] = []
    suffix_parts: list[str] = []
    seen_free = False
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        (suffix_parts if seen_free else prefix_parts).append(literal)
        if field is None:
            continue
        if field in SOURCE_PLACEHOLDERS:
            seen_free = True
            suffix_parts = []
        else:
            value = {"preset": preset, "ext": ext, "target": target}[field]
            (suffix_parts if seen_free else prefix_parts).append(value)
    prefix = "".join(prefix_parts)
    # A key without source placeholders is one constant: it is its own prefix and suffix.
    suffix = "".join(suffix_parts) if seen_free else prefix
    return OutputPattern(bucket, prefix, suffix, seen_free, origin)


def rule_output_patterns(rule: Any) -> list[OutputPattern]:
    patterns = []
    for t in rule.targets:
        patterns.append(
            output_pattern(
                t.key,
                t.bucket or rule.bucket,
                preset=t.preset,
                ext=t.extension,
                target=t.target_name,
                origin=f"target {t.target_name!r} key {t.key!r}",
            )
        )
    for th in rule.thumbnails:
        # Thumbnail files are "<keyPrefix><something>.<format>": the tail is free text.
        pat = output_pattern(th.key_prefix, th.bucket or rule.bucket, preset="", ext="", target=th.name, origin="")
        patterns.append(
            OutputPattern(
                pat.bucket,
                pat.literal_prefix,
                "." + th.format,
                True,
                f"thumbnail {th.name!r} key_prefix {th.key_prefix!r}",
            )
        )
    return patterns


def recursion_problems(rules: Sequence[Any]) -> list[str]:
    problems = []
    for i, rule in enumerate(rules):
        for pattern in rule_output_patterns(rule):
            for j, other in enumerate(rules):
                if pattern.could_match(other):
                    problems.append(
                        f"rules[{i}] {pattern.origin} writes to bucket {pattern.bucket!r} where rules[{j}] "
                        f"(prefixes {list(other.prefixes) or 'all'}, suffixes {list(other.suffixes) or 'all'}) "
                        "would pick it up again; put outputs under a prefix the rule does not watch "
                        "(e.g. transcoded/...) or into another bucket"
                    )
    return problems
