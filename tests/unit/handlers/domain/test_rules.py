from types import SimpleNamespace

import pytest

from handlers.domain.rules import (
    check_template,
    extension_for_preset,
    recursion_problems,
    render_key,
    rule_matches,
    size_from_preset_name,
)


def rule(bucket="uploads", prefixes=("incoming/",), suffixes=(".mp4",), targets=(), thumbnails=()):
    return SimpleNamespace(bucket=bucket, prefixes=list(prefixes), suffixes=list(suffixes), targets=list(targets),
                           thumbnails=list(thumbnails))  # fmt: skip


def target(key, preset="bce.video_mp4_1280x720_2048kbps", bucket=None, name="720p", ext="mp4"):
    return SimpleNamespace(key=key, preset=preset, bucket=bucket, target_name=name, extension=ext)


def test_match_prefix_and_case_insensitive_suffix():
    r = rule(suffixes=(".mp4", ".mov"))
    assert rule_matches(r, "uploads", "incoming/a.MP4")
    assert rule_matches(r, "uploads", "incoming/x/y.Mov")
    assert not rule_matches(r, "uploads", "other/a.mp4")
    assert not rule_matches(r, "elsewhere", "incoming/a.mp4")
    assert not rule_matches(r, "uploads", "incoming/a.mp4.txt")
    assert rule_matches(rule(prefixes=(), suffixes=()), "uploads", "anything")


@pytest.mark.parametrize(
    ("template", "key", "expected"),
    [
        ("{dir}/{stem}/{preset}.{ext}", "incoming/a b/clip.MOV", "incoming/a b/clip/p1.mp4"),
        ("out/{dir}/{stem}.{ext}", "clip.mp4", "out/clip.mp4"),
        ("out/{name}", "x/y/z.mov", "out/z.mov"),
        ("out/{key}.{target}.{ext}", "x/y.mp4", "out/x/y.mp4.t.mp4"),
        ("out/{stem}.{source_ext}", "x/noext", "out/noext."),
        ("o/{stem}", "x/.hidden", "o/.hidden"),
    ],
)
def test_render_key(template, key, expected):
    assert render_key(template, key, preset="p1", ext="mp4", target="t") == expected


@pytest.mark.parametrize("template", ["{bogus}/x", "{dir", "  "])
def test_bad_templates_are_named(template):
    with pytest.raises(ValueError, match="placeholder|template|empty"):
        check_template(template)


def test_preset_helpers():
    assert extension_for_preset("bce.video_mp4_1280x720_2048kbps") == "mp4"
    assert extension_for_preset("bce.video_hls_854x480_800kbps") == "m3u8"
    assert extension_for_preset("bce.audio_mp3_128kbps") == "mp3"
    assert extension_for_preset("my_custom") == "mp4"
    assert size_from_preset_name("bce.video_mp4_854x480_800kbps") == (854, 480)
    assert size_from_preset_name("bce.audio_mp3_128kbps") is None


def test_recursion_guard_flags_output_inside_the_watched_prefix():
    r = rule(targets=[target("{dir}/{stem}/{preset}.{ext}")])
    [problem] = recursion_problems([r])
    assert "720p" in problem and "transcoded/" in problem


@pytest.mark.parametrize(
    ("key", "bucket", "suffixes"),
    [
        ("transcoded/{dir}/{stem}.{ext}", None, (".mp4",)),  # other prefix
        ("{dir}/{stem}.{ext}", "outputs", (".mp4",)),  # other bucket
        ("{dir}/{stem}.{ext}", None, (".mov",)),  # output extension is not watched
    ],
)
def test_recursion_guard_accepts_safe_outputs(key, bucket, suffixes):
    assert recursion_problems([rule(suffixes=suffixes, targets=[target(key, bucket=bucket)])]) == []


def test_recursion_guard_across_rules_and_literal_keys():
    a = rule(prefixes=("a/",), targets=[target("b/{stem}.{ext}")])
    b = rule(prefixes=("b/",), targets=[target("c/{stem}.{ext}")])
    problems = recursion_problems([a, b])
    assert len(problems) == 1 and "rules[0]" in problems[0] and "rules[1]" in problems[0]
    # A constant key inside the watched prefix is caught too.
    assert recursion_problems([rule(targets=[target("incoming/fixed.mp4")])])


def test_recursion_guard_covers_thumbnails():
    th = SimpleNamespace(key_prefix="incoming/{stem}/", bucket=None, name="poster", format="jpg")
    assert recursion_problems([rule(suffixes=(".jpg",), thumbnails=[th])])
    assert not recursion_problems([rule(suffixes=(".mp4",), thumbnails=[th])])
