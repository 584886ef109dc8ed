"""The functions against localcloud MCT over HTTP with the real bce-python-sdk and real ffmpeg (tiny clips).

upload event -> on_upload use-case -> SdkMct -> localcloud MCT transcodes -> notifier POSTs to the self-hosted
webhook (handlers.webhook_app) -> get_job -> store -> "upload done" POSTed to a local receiver.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from handlers import bootstrap
from handlers.adapters.mct_sdk import SdkMct
from handlers.adapters.store import SqlStore
from handlers.config import parse_config
from handlers.domain.clock import utcnow
from handlers.domain.ids import upload_id_for
from handlers.domain.statuses import SUCCESS, UPLOAD_DONE
from handlers.services.deps import Deps
from handlers.services.ports import MctNotFound
from handlers.services.reconcile import reconcile
from handlers.services.submit import process_upload_event
from handlers.webhook_app import app as webhook_app
from handlers.wire.downstream import verify_downstream_signature
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.mct.testing import running_mct, wait_for_job
from localcloud.samples import make_sample_clip
from localcloud.serve import serve_in_thread
from tests.unit.handlers.receiver import Receiver
from tests.waiting import mct_outstanding, pending_hints, wait_for, wait_idle

KEY = "incoming/my clip 视频.mp4"
URL_TOKEN = "it-url-token"
OUT = "transcoded/{dir}/{stem}/{target}.mp4"
SECRET = "it-downstream-secret"


def rule(bucket="uploads"):
    return {
        "name": "videos",
        "bucket": bucket,
        "prefixes": ["incoming/"],
        "suffixes": [".mp4"],
        "targets": [
            {"name": "720p", "preset": "bce.video_mp4_1280x720_2048kbps", "key": OUT},
            {"name": "360p", "preset": "bce.video_mp4_640x360_600kbps", "key": OUT},
        ],
        "thumbnails": [{"name": "poster", "key_prefix": "thumbnails/{dir}/{stem}/poster", "width": 160, "height": 120}],
    }


@pytest.fixture
def cloud(tmp_path):
    mct = running_mct(tmp_path / "mct", buckets=("uploads",))
    receiver = Receiver()
    downstream = serve_in_thread(receiver)
    webhook = serve_in_thread(webhook_app)
    yield mct, receiver, downstream, webhook
    webhook.stop()
    downstream.stop()
    mct.stop()
    bootstrap.set_deps(None)


def make_deps(tmp_path, mct, downstream, callback) -> Deps:
    cfg = parse_config(
        {
            "mct": {"endpoint": mct.server.endpoint, "pipeline": "autotranscode", "backoff_seconds": 0.05},
            "rules": [rule()],
            "callback": callback,
            "store_url": f"sqlite:///{tmp_path}/store.sqlite3",
            "downstream": {"url": downstream.url + "/events", "secret": SECRET, "backoff_seconds": 0.05},
        },
        env={},
    )
    sdk = SdkMct(mct.server.url, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
    deps = Deps(cfg, SqlStore(cfg.store_url), sdk)
    bootstrap.set_deps(deps)
    return deps


def upload_clip(mct, tmp_path, key=KEY, **clip):
    path = make_sample_clip(tmp_path / "clip.mp4", seconds=1, **clip)
    info = mct.service.storage.put("uploads", key, path.read_bytes(), content_type="video/mp4")
    return {
        "events": [
            {
                "eventId": "ev-1",
                "eventType": "PutObject",
                "eventTime": "2026-11-23T00:00:00Z",
                "content": {"bucket": "uploads", "object": key, "eTag": info.etag, "filesize": info.size},
            }
        ]
    }, info.etag


def test_upload_to_done_event_via_mct_callbacks(cloud, tmp_path):
    mct, receiver, downstream, webhook = cloud
    deps = make_deps(tmp_path, mct, downstream, {"url_token": URL_TOKEN})
    mct.client.create_notification("autotranscode_cb", f"{webhook.url}/mct/callback?token={URL_TOKEN}")
    pipeline_config = {"capacity": 2, "notification": "autotranscode_cb"}
    mct.client.create_pipeline("autotranscode", "uploads", "uploads", pipeline_config=pipeline_config)
    event, etag = upload_clip(mct, tmp_path)

    summary = process_upload_event(deps, event)
    # 320x240 source: 720p is skipped, 360p kept (smallest), plus the poster thumbnail.
    assert summary["submitted"] == 2 and summary["skipped"] == 1, summary
    assert process_upload_event(deps, event)["existing"] == 2  # redelivery creates nothing

    wait_for(lambda: receiver.requests)
    req = receiver.requests[0]
    assert verify_downstream_signature(SECRET, req["headers"], req["body"])
    done = json.loads(req["body"])
    assert done["status"] == "SUCCESS", done
    assert done["upload"] == {**done["upload"], "bucket": "uploads", "key": KEY, "etag": etag}
    [output] = done["outputs"]
    assert output["key"] == "transcoded/incoming/my clip 视频/360p.mp4"
    assert output["bucket"] == "uploads"  # from MCT's job (the pipeline's target bucket)
    assert output["output"]["video"]["width_in_pixel"] > 0
    assert mct.service.storage.exists("uploads", output["key"])
    [thumb] = done["thumbnails"]
    assert thumb["keys"] and all(mct.service.storage.exists("uploads", k) for k in thumb["keys"])
    assert done["skipped"][0]["target"] == "720p"
    uid = upload_id_for("uploads", KEY, etag)
    assert deps.store.get_upload(uid).status == UPLOAD_DONE
    # Late/duplicate callbacks must not produce a second event: wait until none can still arrive.
    wait_idle(lambda: mct_outstanding(mct.service), lambda: pending_hints(deps.store), what="MCT and the webhook")
    assert len(receiver.requests) == 1


def test_signed_notifications(cloud, tmp_path):
    mct, receiver, downstream, webhook = cloud
    endpoint = f"{webhook.url}/mct/callback"
    deps = make_deps(tmp_path, mct, downstream, {"sign_token": "it-sign-token", "endpoint": endpoint})
    # The Python SDK cannot send type/token (reference §2.9): register the SIGN notification on the backend.
    mct.service.backend.create_notification(
        {"name": "signed_cb", "endpoint": endpoint, "type": "SIGN", "token": "it-sign-token"}
    )
    mct.client.create_pipeline("autotranscode", "uploads", "uploads", pipeline_config={"notification": "signed_cb"})
    event, _ = upload_clip(mct, tmp_path)
    process_upload_event(deps, event)
    wait_for(lambda: receiver.requests)
    assert json.loads(receiver.requests[0]["body"])["status"] == "SUCCESS"


def test_reconciler_finishes_uploads_whose_callbacks_were_lost(cloud, tmp_path):
    mct, receiver, downstream, _ = cloud
    deps = make_deps(tmp_path, mct, downstream, {"url_token": URL_TOKEN})
    mct.client.create_pipeline("autotranscode", "uploads", "uploads")  # no notification at all
    # a portrait clip gets the portrait variant of the 360p preset (what `autotranscode provision` creates)
    video = {"codec": "h264", "bitRateInBps": 600000, "maxWidthInPixel": 360, "maxHeightInPixel": 640}
    mct.client.create_preset("pt_bce_video_mp4_360x640_600kbps", "mp4", video=video)
    event, etag = upload_clip(mct, tmp_path, portrait=True)
    summary = process_upload_event(deps, event)
    jobs = deps.store.jobs_for_upload(upload_id_for("uploads", KEY, etag))
    assert len(jobs) == summary["submitted"]
    for job in jobs:
        wait_for_job(mct.client, job.job_id, timeout=90, thumbnail=job.kind == "thumbnail")
    assert reconcile(deps)["checked"] == 0  # not stale yet
    deps.now = lambda: utcnow() + timedelta(minutes=30)
    result = reconcile(deps)
    assert result["updated"] == len(jobs)
    assert {j.status for j in deps.store.jobs_for_upload(jobs[0].upload_id)} == {SUCCESS}
    wait_for(lambda: receiver.requests, timeout=10)


def test_sdk_port_errors(cloud):
    mct, *_ = cloud
    sdk = SdkMct(mct.server.url, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
    with pytest.raises(MctNotFound):
        sdk.get_job("job-doesnotexist0000")
    bad = SdkMct(mct.server.url, DEFAULT_ACCESS_KEY, "wrong-secret")
    with pytest.raises(Exception) as info:
        bad.get_job("job-x")
    assert not getattr(info.value, "transient", True)
    down = SdkMct("127.0.0.1:9", DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, timeout_seconds=2)
    with pytest.raises(Exception) as info:
        down.get_job("job-x")
    assert info.value.transient


def test_unreliable_mct_still_one_job_per_target_and_one_event_per_upload(tmp_path):
    """API errors (500/503/429), dropped, duplicated and reordered callbacks, redelivered upload events:
    every target gets exactly one MCT job and every upload exactly one "upload done" event."""
    from localcloud.faults import FaultConfig

    faults = FaultConfig(api_error_rate=0.3, api_error_kinds=("500", "503", "throttle"), callback_drop_rate=0.4,
                         callback_duplicate_rate=0.5, callback_delay_ms=150, seed=7)  # fmt: skip
    mct = running_mct(tmp_path / "mct", buckets=("uploads",), faults=faults)
    receiver, downstream, webhook = Receiver(), None, None
    try:
        downstream = serve_in_thread(receiver)
        webhook = serve_in_thread(webhook_app)
        deps = make_deps(tmp_path, mct, downstream, {"url_token": URL_TOKEN})
        # Set up on the backend directly: the injected faults are for the functions, not for this test's setup.
        backend = mct.service.backend
        backend.create_notification({"name": "cb", "endpoint": f"{webhook.url}/mct/callback?token={URL_TOKEN}"})
        backend.create_pipeline({"pipelineName": "autotranscode", "sourceBucket": "uploads", "targetBucket": "uploads",
                                 "config": {"notification": "cb", "capacity": 4}})  # fmt: skip
        events = [upload_clip(mct, tmp_path, key=f"incoming/clip{i}.mp4")[0] for i in range(3)]
        for event in events * 2:  # every upload event delivered twice
            for _ in range(10):  # what CFC's retries do for a RetryLater
                if process_upload_event(deps, event)["retryable"] == 0:
                    break

        def all_done():
            reconcile(deps, stale_after=timedelta(0))  # recovers dropped callbacks
            return len(receiver.requests) >= 3 and all(u.status == UPLOAD_DONE for _, u in deps.store.list_jobs())

        wait_for(all_done, timeout=120)
        # Duplicates/late callbacks still in flight must not add events: wait until none can still arrive.
        wait_idle(lambda: mct_outstanding(mct.service), lambda: pending_hints(deps.store), what="MCT and the webhook")
        reconcile(deps, stale_after=timedelta(0))
        bodies = [json.loads(r["body"]) for r in receiver.requests if r["status"] == 200]
        assert sorted(b["upload"]["key"] for b in bodies) == [f"incoming/clip{i}.mp4" for i in range(3)]
        assert all(b["status"] == "SUCCESS" for b in bodies)
        ours = {j.job_id for j, _ in deps.store.list_jobs()}
        assert len(ours) == 6  # 3 uploads x (360p + poster)
        assert len(mct.service.backend.store.all_docs("jobs")) == 6  # and MCT has exactly those
    finally:
        for server in (webhook, downstream):
            if server is not None:
                server.stop()
        mct.stop()
        bootstrap.set_deps(None)
