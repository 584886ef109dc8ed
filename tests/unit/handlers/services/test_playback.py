"""The HLS master playlist use-case over the in-memory twins: written when every HLS rendition succeeded, named in
the done event, per-rule switch, and a BOS failure that only leaves the event without it."""

from __future__ import annotations

import json

from handlers.services.callbacks import apply_job_view, read_job
from handlers.services.completion import maybe_complete
from handlers.services.submit import process_upload_event
from handlers.testing.memory_bos import MemoryBos
from handlers.wire.hls_master import parse_master
from tests.unit.handlers.conftest import bos_event, config_dict, make_deps

TARGETS = [
    {"name": "hi", "preset": "bce.video_hls_1280x720_1728kbps", "key": "out/{stem}/{target}.{ext}"},
    {"name": "lo", "preset": "bce.video_hls_640x360_600kbps", "key": "out/{stem}/{target}.{ext}"},
    {"name": "mp4", "preset": "bce.video_mp4_640x360_600kbps", "key": "out/{stem}/{target}.{ext}"},
]
OUTPUTS = {
    "hi": {"video": {"width_in_pixel": 1280, "height_in_pixel": 720, "frame_rate": 25}, "bit_rate_in_k_bps": "1700"},
    "lo": {"video": {"width_in_pixel": 640, "height_in_pixel": 360, "frame_rate": 25}, "bit_rate_in_k_bps": "600"},
}


def world(hls_master=None, bos=None):
    rule = {**config_dict()["rules"][0], "targets": TARGETS, "thumbnails": []}
    if hls_master is not None:
        rule["hls_master"] = hls_master
    deps = make_deps(config_dict(rules=[rule], downstream={"url": "http://downstream.test/done"}))
    deps.bos = MemoryBos() if bos is None else bos
    sent = []
    deps.post = lambda url, body, headers, timeout: sent.append(json.loads(body)) or 200
    for name, kbit in (("hi", 1700), ("lo", 600)):  # what MCT wrote: playlists and segments (2 s each)
        deps.bos.put_text("uploads", f"out/clip/{name}.m3u8",
                          f"#EXTM3U\n#EXTINF:2.0,\n{name}-00000.ts\n#EXTINF:2.0,\n{name}-00001.ts\n#EXT-X-ENDLIST\n",
                          "application/vnd.apple.mpegurl")  # fmt: skip
        for i, factor in enumerate((1.1, 0.9)):
            deps.bos.put_text("uploads", f"out/clip/{name}-0000{i}.ts", "x" * int(kbit * 1000 / 8 * 2 * factor), "")
    process_upload_event(deps, bos_event("incoming/clip.mp4"))
    return deps, sent


def finish(deps, failing=()):
    for job in deps.store.list_jobs():
        job = job[0]
        status = "FAILED" if job.target in failing else "SUCCESS"
        deps.mct.set_status(job.job_id, status, output=OUTPUTS.get(job.target, {}))
        apply_job_view(deps, job, read_job(deps, job))
    upload = deps.store.list_uploads()[0]
    maybe_complete(deps, upload.upload_id)


def test_the_master_is_written_next_to_the_renditions_and_named_in_the_event():
    deps, sent = world()
    finish(deps)
    [event] = sent
    assert event["playback"] == {"hls": {"bucket": "uploads", "key": "out/clip/master.m3u8", "variants": 2}}
    assert deps.bos.content_types[("uploads", "out/clip/master.m3u8")] == "application/vnd.apple.mpegurl"
    variants = parse_master(deps.bos.get_text("uploads", "out/clip/master.m3u8"))
    assert [(v["URI"], v["RESOLUTION"]) for v in variants] == [("hi.m3u8", "1280x720"), ("lo.m3u8", "640x360")]
    hi = variants[0]
    assert int(hi["BANDWIDTH"]) == 1_870_000  # the bigger segment: 1.1 x 1700 kbit/s
    assert int(hi["AVERAGE-BANDWIDTH"]) == 1_700_000


def test_the_rule_can_name_it_or_turn_it_off():
    deps, sent = world(hls_master={"name": "abr.m3u8", "codecs": "avc1.4d401f,mp4a.40.2"})
    finish(deps)
    assert sent[0]["playback"]["hls"]["key"] == "out/clip/abr.m3u8"
    assert 'CODECS="avc1.4d401f,mp4a.40.2"' in deps.bos.get_text("uploads", "out/clip/abr.m3u8")

    deps, sent = world(hls_master=False)
    finish(deps)
    assert "playback" not in sent[0] and ("uploads", "out/clip/master.m3u8") not in deps.bos.objects


def test_no_master_when_an_hls_rendition_failed():
    deps, sent = world()
    finish(deps, failing={"lo"})
    assert sent[0]["status"] == "PARTIAL" and "playback" not in sent[0]
    assert ("uploads", "out/clip/master.m3u8") not in deps.bos.objects


def test_a_bos_failure_leaves_the_event_without_playback():
    class BrokenBos(MemoryBos):
        def put_text(self, bucket, key, text, content_type):
            if key.endswith("master.m3u8"):
                raise ConnectionError("BOS unreachable")
            super().put_text(bucket, key, text, content_type)

    deps, sent = world(bos=BrokenBos())
    finish(deps)
    [event] = sent
    assert event["status"] == "SUCCESS" and "playback" not in event
