"""Adaptive bitrate end to end: two HLS renditions transcoded by localcloud -> a master playlist in BOS, named in
the done event; it parses, every variant and segment resolves, and the declared bandwidths match the measured ones."""

from __future__ import annotations

import pytest

from handlers.wire.hls_master import media_segments, parse_master, resolve
from tests.console_support import ABR_TARGETS, ConsoleWorld


@pytest.fixture(scope="module")
def abr(tmp_path_factory):
    w = ConsoleWorld(tmp_path_factory.mktemp("hls"), targets=ABR_TARGETS, clip_size=(854, 480), clip_seconds=6,
                     key="incoming/abr/clip.mp4")  # fmt: skip
    w.wait_done()
    yield w
    w.close()


def test_the_done_event_names_a_master_playlist_that_parses(abr):
    event = abr.last_event()
    hls = event["playback"]["hls"]
    assert hls == {"bucket": "uploads", "key": "transcoded/incoming/abr/clip/master.m3u8", "variants": 2}
    master = abr.stack.bos_client().get_object_as_string(hls["bucket"], hls["key"]).decode()
    variants = parse_master(master)
    assert [v["URI"] for v in variants] == ["hls480.m3u8", "hls360.m3u8"]  # highest bandwidth first
    assert [v["RESOLUTION"] for v in variants] == ["854x480", "640x360"]
    for v in variants:
        assert v["CODECS"] == "avc1.640028,mp4a.40.2" and float(v["FRAME-RATE"]) == 25.0
        assert int(v["BANDWIDTH"]) >= int(v["AVERAGE-BANDWIDTH"]) > 0


def test_every_variant_resolves_and_declares_its_measured_bandwidth(abr):
    hls = abr.last_event()["playback"]["hls"]
    bos = abr.stack.bos_client()
    for v in parse_master(bos.get_object_as_string(hls["bucket"], hls["key"]).decode()):
        playlist_key = resolve(hls["key"], v["URI"])
        segments = media_segments(bos.get_object_as_string(hls["bucket"], playlist_key).decode())
        assert segments, playlist_key
        sizes = [len(bos.get_object_as_string(hls["bucket"], resolve(playlist_key, s.uri))) for s in segments]
        rates = [size * 8 / s.duration for size, s in zip(sizes, segments, strict=True)]
        average = sum(sizes) * 8 / sum(s.duration for s in segments)
        assert abs(int(v["BANDWIDTH"]) - max(rates)) <= 0.2 * max(rates), (v, rates)
        assert abs(int(v["AVERAGE-BANDWIDTH"]) - average) <= 0.2 * average, (v, average)
