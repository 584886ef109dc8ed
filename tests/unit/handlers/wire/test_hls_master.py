"""The HLS master playlist builder (pure): attributes from job outputs or measured segment sizes; round trip."""

import pytest

from handlers.wire.hls_master import (
    Segment,
    build_master,
    default_master_key,
    media_segments,
    parse_master,
    relative_uri,
    resolve,
    variant,
)

MEDIA = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"
    "#EXTINF:4.000000,\nhi-00000.ts\n#EXTINF:2.5,\nhi-00001.ts\n#EXT-X-ENDLIST\n"
)
OUTPUT = {"video": {"width_in_pixel": 1280, "height_in_pixel": 720, "frame_rate": 25, "size_in_kilo_byte": 800,
                    "duration_in_seconds": 6}, "bit_rate_in_k_bps": "1728.5"}  # fmt: skip


def test_media_segments_and_uris():
    assert media_segments(MEDIA) == [Segment("hi-00000.ts", 4.0), Segment("hi-00001.ts", 2.5)]
    with pytest.raises(ValueError, match="#EXTM3U"):
        media_segments("<html>")
    assert resolve("a/b/master.m3u8", "hi.m3u8") == "a/b/hi.m3u8"
    assert resolve("a/b/hi.m3u8", "../c/x.ts") == "a/c/x.ts"
    assert relative_uri("a/b/master.m3u8", "a/b/hi.m3u8") == "hi.m3u8"
    assert relative_uri("a/master.m3u8", "a/b/hi.m3u8") == "b/hi.m3u8"
    assert default_master_key(["x/y/hi.m3u8", "x/y/lo.m3u8"]) == "x/y/master.m3u8"
    assert default_master_key(["x/y/hi.m3u8", "x/z/lo.m3u8"]) == "x/master.m3u8"
    assert default_master_key(["hi.m3u8"]) == "master.m3u8"


def test_bandwidth_from_measured_segments_is_peak_and_average():
    segments = media_segments(MEDIA)
    v = variant("hi.m3u8", OUTPUT, segments, segment_sizes=[1_000_000, 500_000])
    assert v.bandwidth == 2_000_000  # 1 MB in 4 s = 2 Mbit/s; 0.5 MB in 2.5 s = 1.6 Mbit/s
    assert v.average_bandwidth == round(1_500_000 * 8 / 6.5 + 0.5)
    assert (v.width, v.height, v.frame_rate) == (1280, 720, 25.0)
    with pytest.raises(ValueError, match="1 segment sizes for 2 segments"):
        variant("hi.m3u8", OUTPUT, segments, segment_sizes=[1])


def test_bandwidth_from_the_job_output_without_sizes():
    v = variant("hi.m3u8", OUTPUT, [])
    assert v.bandwidth == v.average_bandwidth == 1_728_500
    no_rate = {"video": {"size_in_kilo_byte": 750, "duration_in_seconds": 6}}
    assert variant("x.m3u8", no_rate, []).bandwidth == 1_024_000  # 750 KiB * 8 / 6 s
    with pytest.raises(ValueError, match="no bit rate for x.m3u8"):
        variant("x.m3u8", {}, [])


def test_master_round_trip_highest_first():
    lo = variant("lo.m3u8", {"video": {"width_in_pixel": 640, "height_in_pixel": 360, "frame_rate": 29.97},
                             "bit_rate_in_k_bps": 600}, [])  # fmt: skip
    hi = variant("sub/hi.m3u8", OUTPUT, [])
    text = build_master([lo, hi])
    assert text.startswith("#EXTM3U\n") and text.endswith("\n")
    parsed = parse_master(text)
    assert [p["URI"] for p in parsed] == ["sub/hi.m3u8", "lo.m3u8"]
    assert parsed[1] == {"BANDWIDTH": "600000", "AVERAGE-BANDWIDTH": "600000", "RESOLUTION": "640x360",
                         "CODECS": "avc1.640028,mp4a.40.2", "FRAME-RATE": "29.970", "URI": "lo.m3u8"}  # fmt: skip
    with pytest.raises(ValueError, match="at least one variant"):
        build_master([])
    with pytest.raises(ValueError, match="line break"):
        build_master([variant("a\n#EXT-X-ENDLIST\nb.m3u8", OUTPUT, [])])
