import json
import threading

import pytest

from handlers import bootstrap, on_upload
from handlers.domain.ids import upload_id_for
from handlers.domain.planning import Media, PlannedJob, larger_than_source, media_from_info, plan_for_media
from handlers.domain.statuses import PENDING, RETRYABLE, SUBMIT_FAILED, UPLOAD_DONE
from handlers.services.submit import RetryLater, process_upload_event
from handlers.testing.memory_store import MemoryStore
from tests.unit.handlers.conftest import bos_event, config_dict, load_event, make_deps


def counts(summary):
    return {k: summary[k] for k in ("submitted", "existing", "failed", "retryable", "skipped", "ignored", "bad")}


def test_one_job_per_target_plus_thumbnails(deps):
    summary = process_upload_event(deps, bos_event("incoming/a b/clip.MP4"))
    assert summary["submitted"] == 3
    jobs = {j["target"].get("presetName", "thumb"): j for j in deps.mct.jobs.values()}
    assert jobs["bce.video_mp4_1280x720_2048kbps"]["target"] == {
        "targetKey": "out/incoming/a b/clip/720p.mp4",
        "presetName": "bce.video_mp4_1280x720_2048kbps",
        "targetBucket": "uploads",
    }
    assert jobs["bce.video_mp4_1280x720_2048kbps"]["source"] == {"sourceKey": "incoming/a b/clip.MP4"}
    assert jobs["bce.video_mp4_1280x720_2048kbps"]["pipelineName"] == "autotranscode"
    thumb = next(j for j in deps.mct.jobs.values() if j["kind"] == "thumbnail")
    assert thumb["source"] == {"key": "incoming/a b/clip.MP4"}
    assert thumb["target"] == {"keyPrefix": "thumbs/incoming/a b/clip/", "format": "jpg", "targetBucket": "uploads"}
    assert thumb["capture"] == {"mode": "auto"}


def test_redelivery_creates_nothing(deps):
    event = bos_event("incoming/x.mp4")
    process_upload_event(deps, event)
    again = process_upload_event(deps, event)
    assert counts(again)["existing"] == 3 and again["submitted"] == 0
    assert len(deps.mct.jobs) == 3


def test_new_etag_is_a_new_upload(deps):
    process_upload_event(deps, bos_event("incoming/x.mp4", etag="v1"))
    process_upload_event(deps, bos_event("incoming/x.mp4", etag="v2"))
    assert len(deps.mct.jobs) == 6


def test_concurrent_duplicate_deliveries_create_each_job_once():
    deps = make_deps()
    event = bos_event("incoming/x.mp4", "incoming/y.mov")
    threads = [threading.Thread(target=process_upload_event, args=(deps, event)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(deps.mct.jobs) == 6


def test_transient_errors_are_retried_with_backoff():
    sleeps = []
    deps = make_deps()
    deps.sleep = sleeps.append
    deps.mct.fail_next(2, status=503)
    summary = process_upload_event(deps, bos_event("incoming/x.mp4"))
    assert summary["submitted"] == 3 and summary["retryable"] == 0
    assert sleeps and all(s > 0 for s in sleeps)


def test_exhausted_transient_errors_raise_and_redelivery_finishes_the_rest():
    deps = make_deps(config_dict(mediainfo_check=False))
    deps.mct.fail_next(4 * 3, status=500, code="InternalError")  # every try of every job
    bootstrap.set_deps(deps)
    try:
        with pytest.raises(RetryLater) as info:
            on_upload.handler(bos_event("incoming/x.mp4"), None)
        assert info.value.summary["retryable"] == 3
        uid = upload_id_for("uploads", "incoming/x.mp4", "etag-1")
        assert {j.status for j in deps.store.jobs_for_upload(uid)} == {RETRYABLE}
        summary = on_upload.handler(bos_event("incoming/x.mp4"), None)
        assert summary["submitted"] == 3
        assert {j.status for j in deps.store.jobs_for_upload(uid)} == {PENDING}
        assert len(deps.mct.jobs) == 3
    finally:
        bootstrap.set_deps(None)


def test_permanent_error_is_recorded_and_not_retried():
    data = config_dict()
    data["rules"][0]["targets"][1]["preset"] = "missing_preset"
    data["rules"][0]["thumbnails"] = []
    deps = make_deps(data)
    summary = process_upload_event(deps, bos_event("incoming/x.mp4"))
    assert summary["failed"] == 1 and summary["submitted"] == 1 and summary["retryable"] == 0
    uid = upload_id_for("uploads", "incoming/x.mp4", "etag-1")
    failed = [j for j in deps.store.jobs_for_upload(uid) if j.status == SUBMIT_FAILED]
    assert failed and "preset does not exist" in failed[0].last_error


def test_all_failed_upload_completes_immediately():
    data = config_dict()
    data["rules"][0]["targets"] = [{"preset": "missing_x", "key": "out/{stem}.mp4"}]
    data["rules"][0]["thumbnails"] = []
    deps = make_deps(data)
    process_upload_event(deps, bos_event("incoming/x.mp4"))
    assert deps.store.get_upload(upload_id_for("uploads", "incoming/x.mp4", "etag-1")).status == UPLOAD_DONE


def test_one_bad_record_does_not_block_others(deps):
    event = bos_event("incoming/a.mp4", "incoming/b.mp4")
    event["events"].insert(1, {"eventType": "PutObject", "content": {"bucket": "uploads"}})
    event["events"].append({"eventType": "PutObject", "content": {"bucket": "uploads", "object": "other/z.mp4",
                                                                  "eTag": "e"}})  # fmt: skip
    summary = process_upload_event(deps, event)
    assert summary["bad"] == 1 and summary["ignored"] == 1 and summary["submitted"] == 6


def test_store_failure_on_one_record_is_retryable_and_others_proceed():
    class FlakyStore(MemoryStore):
        def ensure_upload(self, upload):
            if upload.key.endswith("bad.mp4"):
                raise OSError("database is away")
            return super().ensure_upload(upload)

    deps = make_deps(store=FlakyStore())
    summary = process_upload_event(deps, bos_event("incoming/bad.mp4", "incoming/good.mp4"))
    assert summary["retryable"] == 1 and summary["submitted"] == 3


def test_sample_events_submit(deps):
    for name in ("bos_put.json", "bos_multipart.json", "bos_unicode_key.json", "s3_put_encoded_key.json"):
        summary = process_upload_event(deps, load_event(name))
        assert summary["submitted"] == 3, name


@pytest.mark.parametrize(
    ("size", "source", "larger"),
    [
        ((1280, 720), (1920, 1080), False),
        ((1280, 720), (640, 360), True),
        ((1280, 720), (720, 1280), False),  # portrait phone video
        ((1280, 720), (480, 854), True),
        ((854, 480), (854, 480), False),
    ],
)
def test_larger_than_source_is_portrait_aware(size, source, larger):
    assert larger_than_source(size, source) is larger


def test_source_frame_applies_rotation():
    assert media_from_info({"video": {"width_in_pixel": 1280, "height_in_pixel": 720, "rotate": 90}}).frame == (
        720,
        1280,
    )
    assert media_from_info({"audio": {"codec": "aac"}}).kind == "audio"


def test_mediainfo_skips_larger_renditions():
    deps = make_deps()
    deps.mct.mediainfo[("uploads", "incoming/small.mp4")] = {"video": {"widthInPixel": 640, "heightInPixel": 360}}
    summary = process_upload_event(deps, bos_event("incoming/small.mp4"))
    assert summary["submitted"] == 2 and summary["skipped"] == 1
    assert summary["objects"][0]["skipped"][0]["target"] == "720p"
    # Redelivery keeps the decision without asking mediainfo again.
    deps.mct.mediainfo.clear()
    again = process_upload_event(deps, bos_event("incoming/small.mp4"))
    assert again["existing"] == 2 and again["submitted"] == 0


def test_mediainfo_keeps_the_smallest_when_all_are_larger():
    deps = make_deps()
    deps.mct.mediainfo[("uploads", "incoming/tiny.mp4")] = {"video": {"widthInPixel": 320, "heightInPixel": 240}}
    summary = process_upload_event(deps, bos_event("incoming/tiny.mp4"))
    kept = sorted(j["target"]["presetName"] for j in deps.mct.jobs.values() if j["kind"] == "transcode")
    assert kept == ["bce.video_mp4_640x360_600kbps"] and summary["skipped"] == 1


def test_apply_mediainfo_without_keep_smallest():
    planned = [PlannedJob("a", "transcode", {}, (1280, 720)), PlannedJob("t", "thumbnail", {})]
    keep, skipped = plan_for_media(planned, Media("video", (320, 240)), keep_smallest=False)
    assert [p.target for p in keep] == ["t"] and skipped[0]["target"] == "a"


def test_mediainfo_transient_failure_is_retryable():
    deps = make_deps()
    deps.mct.fail_next(4, status=503)
    deps.mct.mediainfo[("uploads", "incoming/x.mp4")] = {"video": {"widthInPixel": 1920, "heightInPixel": 1080}}
    summary = process_upload_event(deps, bos_event("incoming/x.mp4"))
    assert summary["retryable"] == 1 and len(deps.mct.jobs) == 0


def test_unknown_envelope_returns_an_error_without_raising():
    bootstrap.set_deps(make_deps())
    try:
        assert "expected a BOS event" in on_upload.handler({"hello": 1}, None)["error"]
    finally:
        bootstrap.set_deps(None)


def test_mct_error_classification():
    from handlers.adapters.mct_sdk import classify

    assert classify(503, "ServiceUnavailable", "x").transient
    assert classify(429, "Foo", "x").transient
    assert classify(400, "RequestThrottled", "x").transient
    assert not classify(400, "InvalidArgument", "x").transient
    assert type(classify(404, "NoSuchJob", "x")).__name__ == "MctNotFound"
    server_error = classify(500, None, "m")
    assert server_error.transient and type(server_error).__name__ == "MctError" and server_error.status == 500


@pytest.mark.parametrize(
    "event, correlation_id",
    [
        (bos_event("incoming/x.mp4"), "ev-0"),
        ({"Records": [{"eventName": "ObjectCreated:Put", "responseElements": {"x-amz-request-id": "REQ-1"},
                       "s3": {"bucket": {"name": "uploads"}, "object": {"key": "incoming/y.mp4", "eTag": "e"}}}]},
         "REQ-1"),
    ],
)  # fmt: skip
def test_upload_logs_carry_the_event_id_as_correlation_id(event, correlation_id, log_output):
    bootstrap.set_deps(make_deps())
    try:
        on_upload.handler(event, None)
    finally:
        bootstrap.set_deps(None)
    lines = [json.loads(line) for line in log_output.getvalue().splitlines() if line.startswith("{")]
    assert lines and {line.get("correlation_id") for line in lines} == {correlation_id}
