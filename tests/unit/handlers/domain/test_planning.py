"""Media-aware planning (handlers/domain/planning.py) and what it leaves in the store and the done event."""

from __future__ import annotations

import pytest

from handlers.domain.ids import upload_id_for
from handlers.domain.planning import (
    AUDIO_ONLY,
    NOT_MEDIA,
    Media,
    PlannedJob,
    media_from_error,
    plan_for_media,
    portrait_preset_name,
)
from handlers.domain.statuses import FAILED, UPLOAD_DONE
from handlers.services.redrive import redrive
from handlers.services.submit import process_upload_event
from handlers.wire.downstream import build_event
from tests.unit.handlers.conftest import bos_event, config_dict, make_deps
from tests.unit.handlers.services.test_callbacks import finish_all

VIDEO = {"type": "video", "video": {"widthInPixel": 1280, "heightInPixel": 720}, "audio": {"codec": "aac"}}


def _job(name, preset, size, needs_video=True):
    return PlannedJob(name, "transcode", {"target": {"presetName": preset}}, size, needs_video)


def test_not_media_plans_nothing_and_says_why():
    planned = [_job("720p", "bce.video_mp4_1280x720_2048kbps", (1280, 720)), PlannedJob("thumbnail:p", "thumbnail", {})]
    kept, skipped = plan_for_media(planned, media_from_error(400, "MetaInfoExceptions.GetMediaInfoFailed", "bad"))
    assert kept == []
    assert [s["code"] for s in skipped] == [NOT_MEDIA, NOT_MEDIA]
    assert "GetMediaInfoFailed" in skipped[0]["reason"]


def test_audio_only_keeps_audio_targets_and_skips_video_and_thumbnails():
    planned = [
        _job("720p", "bce.video_mp4_1280x720_2048kbps", (1280, 720)),
        _job("aac", "bce.audio_m4a_128kbps", None, needs_video=False),
        PlannedJob("thumbnail:p", "thumbnail", {}),
    ]
    kept, skipped = plan_for_media(planned, Media("audio", reason="no video track"))
    assert [p.target for p in kept] == ["aac"]
    assert {s["target"]: s["code"] for s in skipped} == {"720p": AUDIO_ONLY, "thumbnail:p": AUDIO_ONLY}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((1080, 1920), {"1080p": (1080, 1920), "720p": (720, 1280), "360p": (360, 640)}),
        ((1920, 1080), {"1080p": (1920, 1080), "720p": (1280, 720), "360p": (640, 360)}),
    ],
)
def test_portrait_sources_keep_each_rendition_class(source, expected):
    planned = [
        _job("1080p", "bce.video_mp4_1920x1080_4000kbps", (1920, 1080)),
        _job("720p", "bce.video_mp4_1280x720_2048kbps", (1280, 720)),
        _job("360p", "bce.video_mp4_640x360_600kbps", (640, 360)),
    ]
    kept, skipped = plan_for_media(planned, Media("video", source))
    assert skipped == [] and {p.target: p.frame_size for p in kept} == expected
    if source[1] > source[0]:
        by_name = {p.target: p for p in kept}
        assert by_name["360p"].request["target"]["presetName"] == "pt_bce_video_mp4_360x640_600kbps"
        assert "portrait source 1080x1920" in by_name["360p"].request["note"]


def test_portrait_preset_names_are_valid_mct_names():
    import re

    for name in ["bce.video_mp4_1280x720_2048kbps", "my_preset_1920x1080", "a" * 40 + "_1280x720"]:
        variant = portrait_preset_name(name)
        assert re.match(r"^[a-z][0-9a-z_]{0,39}$", variant), variant
    assert portrait_preset_name("a" * 40 + "_1280x720") != portrait_preset_name("a" * 40 + "_1920x1080")


def test_a_text_file_gets_no_job_and_one_failed_done_event():
    posted = []
    data = config_dict(downstream={"url": "http://127.0.0.1:9/hook", "secret": "s3cret-value"})
    deps = make_deps(data, post=lambda url, body, headers, timeout: posted.append(body) or 200)
    deps.mct.mediainfo[("uploads", "incoming/notes.mp4")] = None  # MCT: GetMediaInfoFailed
    summary = process_upload_event(deps, bos_event("incoming/notes.mp4"))
    assert deps.mct.jobs == {} and summary["skipped"] == 3
    upload = deps.store.get_upload(upload_id_for("uploads", "incoming/notes.mp4", "etag-1"))
    assert upload.status == UPLOAD_DONE
    import json

    (body,) = posted
    event = json.loads(body)
    assert event["status"] == "FAILED" and event["outputs"] == []
    assert {e["code"] for e in event["errors"]} == {NOT_MEDIA} and "cannot read the source" in event["errors"][0][
        "message"
    ]


def test_audio_only_upload_creates_no_video_job():
    deps = make_deps()
    deps.mct.mediainfo[("uploads", "incoming/song.mp4")] = {"type": "audio", "audio": {"codec": "aac"}}
    summary = process_upload_event(deps, bos_event("incoming/song.mp4"))
    assert deps.mct.jobs == {} and summary["skipped"] == 3
    skipped = summary["objects"][0]["skipped"]
    assert {s["code"] for s in skipped} == {AUDIO_ONLY} and "no video track" in skipped[0]["reason"]


def test_portrait_upload_uses_portrait_presets_and_the_event_says_so():
    deps = make_deps()
    deps.mct.mediainfo[("uploads", "incoming/phone.mp4")] = {"video": {"widthInPixel": 720, "heightInPixel": 1280}}
    process_upload_event(deps, bos_event("incoming/phone.mp4"))
    presets = sorted(j["target"]["presetName"] for j in deps.mct.jobs.values() if j["kind"] == "transcode")
    assert presets == ["pt_bce_video_mp4_360x640_600kbps", "pt_bce_video_mp4_720x1280_2048kbps"]
    list(finish_all(deps))
    uid = upload_id_for("uploads", "incoming/phone.mp4", "etag-1")
    event = build_event(deps.store.get_upload(uid), deps.store.jobs_for_upload(uid))
    assert all("portrait source 720x1280" in o["note"] for o in event["outputs"])


def test_redrive_sends_an_event_with_a_new_id_and_a_higher_attempt():
    deps = make_deps()
    process_upload_event(deps, bos_event("incoming/x.mp4"))
    uid = upload_id_for("uploads", "incoming/x.mp4", "etag-1")
    list(finish_all(deps, status=FAILED))
    first = build_event(deps.store.get_upload(uid), deps.store.jobs_for_upload(uid))
    again = build_event(deps.store.get_upload(uid), deps.store.jobs_for_upload(uid))
    assert first["id"] == again["id"] != uid and first["attempt"] == 1  # a redelivery: same id
    failed = [j for j in deps.store.jobs_for_upload(uid) if j.status == FAILED]
    preview = redrive(deps, failed, dry_run=True)
    assert {r["source"] for r in preview} == {"incoming/x.mp4"} and {r["outcome"] for r in preview} == {"would redrive"}
    old = set(deps.mct.jobs)
    redrive(deps, failed)
    for job_id in old:  # the failed jobs are gone from MCT's point of view; only the new ones finish
        del deps.mct.jobs[job_id]
    list(finish_all(deps))
    second = build_event(deps.store.get_upload(uid), deps.store.jobs_for_upload(uid))
    assert second["status"] == "SUCCESS" and second["upload"]["id"] == uid
    assert second["id"] != first["id"] and second["attempt"] == 2
