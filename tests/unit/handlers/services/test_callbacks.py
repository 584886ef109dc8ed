import base64
import json
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from handlers import bootstrap, on_notification
from handlers.callback_routing import route
from handlers.domain.ids import upload_id_for
from handlers.domain.statuses import DELIVERY_DELIVERED, DELIVERY_FAILED, FAILED, RUNNING, SUCCESS, UPLOAD_DONE
from handlers.services.submit import process_upload_event
from handlers.testing.memory_mct import MemoryMct
from handlers.wire.downstream import build_event, verify_downstream_signature
from handlers.wire.http import HttpRequest
from handlers.wire.mct_sign import mct_notification_signature, verify_mct_notification
from localcloud.serve import serve_in_thread
from tests.unit.handlers.conftest import URL_TOKEN, bos_event, config_dict, load_event, make_deps
from tests.unit.handlers.receiver import Receiver

Q = {"token": URL_TOKEN}


class Answer(NamedTuple):
    status_code: int
    body: dict


def post_callback(deps, body, headers, query):
    """POST a notification through the same routing as the CFC function and the webhook: (status, JSON body)."""
    return Answer(*route(HttpRequest("POST", deps.config.callback.path, headers, query, body), deps))


def notification(job_id, status="SUCCESS", message_id=None, **extra):
    inner = {"jobId": job_id, "jobStatus": status, **extra}
    return json.dumps({"messageBody": json.dumps(inner), "messageId": message_id or f"m-{job_id}-{status}"})


def submitted(deps, key="incoming/x.mp4"):
    process_upload_event(deps, bos_event(key))
    return list(deps.mct.jobs)


def finish_all(deps, status="SUCCESS"):
    for job_id, job in deps.mct.jobs.items():
        if job["kind"] == "thumbnail":
            deps.mct.set_status(job_id, status, keys=[job["target"]["keyPrefix"] + "0.jpg"])
        else:
            deps.mct.set_status(job_id, status, output={"video": {"widthInPixel": 640, "heightInPixel": 360}})
        yield job_id, post_callback(deps, notification(job_id, status), {}, Q)


def test_success_flow_records_authoritative_state(deps):
    job_id = submitted(deps)[0]
    deps.mct.set_status(job_id, "RUNNING")
    # The callback claims SUCCESS but MCT says RUNNING: the store follows MCT.
    out = post_callback(deps, notification(job_id, "SUCCESS"), {}, Q)
    assert out.status_code == 200 and out.body["job_status"] == RUNNING


def test_completion_once_and_downstream_signed_delivery():
    receiver = Receiver()
    server = serve_in_thread(receiver)
    try:
        deps = make_deps(config_dict(downstream={"url": server.url + "/hook", "secret": "down-secret"}))
        deps.mct.mediainfo[("uploads", "incoming/x.mp4")] = {"video": {"widthInPixel": 1920, "heightInPixel": 1080}}
        submitted(deps)
        outcomes = [o for _, o in finish_all(deps)]
        assert all(o.status_code == 200 for o in outcomes)
        # Late duplicates / replays change nothing and deliver nothing new.
        for job_id in list(deps.mct.jobs):
            post_callback(deps, notification(job_id, "RUNNING", message_id="late"), {}, Q)
        assert len(receiver.requests) == 1
        req = receiver.requests[0]
        assert verify_downstream_signature("down-secret", req["headers"], req["body"])
        assert not verify_downstream_signature("other", req["headers"], req["body"])
        event = json.loads(req["body"])
        assert event["status"] == "SUCCESS" and event["upload"]["key"] == "incoming/x.mp4"
        assert {o["target"] for o in event["outputs"]} == {"720p", "360p"}
        assert event["outputs"][0]["output"]["video"]["width_in_pixel"] == 640
        assert event["thumbnails"][0]["keys"] == ["thumbs/incoming/x/0.jpg"]
        uid = upload_id_for("uploads", "incoming/x.mp4", "etag-1")
        assert deps.store.get_upload(uid).status == UPLOAD_DONE
        assert deps.store.get_delivery(uid).status == DELIVERY_DELIVERED
    finally:
        server.stop()


def test_downstream_failure_retries_then_records_and_reconciler_redelivers():
    from datetime import timedelta

    from handlers.services.reconcile import reconcile

    receiver = Receiver(statuses=[503, 503])
    server = serve_in_thread(receiver)
    try:
        deps = make_deps(
            config_dict(
                downstream={"url": server.url, "secret": "s3cret-x", "max_attempts": 2},
                reconcile={"redeliver_after_minutes": 0},
            )  # fmt: skip
        )
        submitted(deps)
        list(finish_all(deps, "FAILED"))
        uid = upload_id_for("uploads", "incoming/x.mp4", "etag-1")
        d = deps.store.get_delivery(uid)
        assert (d.status, d.attempts, d.last_status_code) == (DELIVERY_FAILED, 2, 503)
        deps.now = lambda: __import__("handlers.domain.clock").domain.clock.utcnow() + timedelta(seconds=1)
        summary = reconcile(deps)
        assert summary["redelivered"] == 1
        assert deps.store.get_delivery(uid).status == DELIVERY_DELIVERED
        assert json.loads(receiver.requests[-1]["body"])["status"] == "FAILED"
    finally:
        server.stop()


def test_unreachable_downstream_is_recorded():
    deps = make_deps(config_dict(downstream={"url": "http://127.0.0.1:9/x", "max_attempts": 1}))
    submitted(deps)
    list(finish_all(deps))
    d = deps.store.get_delivery(upload_id_for("uploads", "incoming/x.mp4", "etag-1"))
    assert d.status == DELIVERY_FAILED and "Error" in d.last_error


def test_monotonic_late_running_never_overwrites(deps):
    job_id = submitted(deps)[0]
    deps.mct.set_status(job_id, "FAILED", error={"code": "JobOverTime", "message": "timed out"})
    post_callback(deps, notification(job_id, "FAILED"), {}, Q)
    deps.mct.set_status(job_id, "RUNNING")  # a confused/late read
    post_callback(deps, notification(job_id, "RUNNING"), {}, Q)
    job = deps.store.get_job(job_id)
    assert job.status == FAILED and job.result["error"]["code"] == "JobOverTime"


def test_duplicate_message_id_is_acknowledged_without_work(deps):
    job_id = submitted(deps)[0]
    deps.mct.set_status(job_id, "SUCCESS")
    assert post_callback(deps, notification(job_id, message_id="dup"), {}, Q).body["status"] == "recorded"
    calls = deps.mct.calls
    out = post_callback(deps, notification(job_id, message_id="dup"), {}, Q)
    assert out.body["status"] == "duplicate" and deps.mct.calls == calls


def test_a_new_callback_for_a_job_already_final_is_recorded_while_mct_is_down(deps):
    # SUCCESS/FAILED never change in MCT: once stored, a redelivered callback (new messageId) needs no get_job, so
    # an MCT outage does not turn it into a 503 that MCT would retry for nothing.
    job_id = submitted(deps)[0]
    deps.mct.set_status(job_id, "SUCCESS")
    assert post_callback(deps, notification(job_id, message_id="first"), {}, Q).body["job_status"] == SUCCESS
    deps.mct.fail_next(100, status=503)
    out = post_callback(deps, notification(job_id, message_id="second"), {}, Q)
    assert out == (200, {"status": "recorded", "job_id": job_id, "job_status": SUCCESS})


def test_unknown_job_is_ignored(deps):
    out = post_callback(deps, notification("job-not-ours"), {}, Q)
    assert out.status_code == 200 and out.body["status"] == "ignored"


def test_get_job_outage_returns_503_and_does_not_remember_the_message(deps):
    job_id = submitted(deps)[0]
    deps.mct.fail_next(10)
    out = post_callback(deps, notification(job_id, message_id="m-x"), {}, Q)
    assert out.status_code == 503
    assert not deps.store.message_seen("m-x")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body"),
        ("[1]", "body"),
        ("{}", "messageBody"),
        (json.dumps({"messageBody": "{nope"}), "messageBody"),
        (json.dumps({"messageBody": json.dumps([1])}), "messageBody"),
        (json.dumps({"messageBody": json.dumps({"jobStatus": "SUCCESS"})}), "messageBody.jobId"),
    ],
)
def test_bad_input_is_a_clear_400(deps, body, field):
    out = post_callback(deps, body, {}, Q)
    assert out.status_code == 400 and out.body["field"] == field and out.body["message"]


def test_message_body_as_object_is_accepted(deps):
    job_id = submitted(deps)[0]
    body = json.dumps({"messageBody": {"jobId": job_id}, "messageId": "obj"})
    assert post_callback(deps, body, {}, Q).status_code == 200


def test_size_limit(deps):
    out = post_callback(deps, "x" * (256 * 1024 + 1), {}, Q)
    assert out.status_code == 413


def test_url_token_required(deps):
    assert post_callback(deps, notification("j"), {}, {}).status_code == 401
    assert post_callback(deps, notification("j"), {}, {"token": "wrong"}).status_code == 401


def sign_deps():
    return make_deps(config_dict(callback={"sign_token": "sign-tok", "endpoint": "http://cb.example/mct/callback"}))


def signed_headers(body, token="sign-tok", expire=None, endpoint="http://cb.example/mct/callback", user="mct-user"):
    expire = expire or str(int(time.time()) + 600)
    sig = mct_notification_signature(token, endpoint, body, expire, user)
    return {"notification-auth-expire": expire, "Notification-Auth-User": user, "NOTIFICATION-AUTH-TOKEN": sig}


def test_sign_headers_accepted_and_rejected():
    deps = sign_deps()
    job_id = submitted(deps)[0]
    body = notification(job_id)
    assert post_callback(deps, body, signed_headers(body), {}).status_code == 200
    assert post_callback(deps, body, signed_headers(body, token="other"), {}).status_code == 401
    assert post_callback(deps, body + " ", signed_headers(body), {}).status_code == 401
    assert post_callback(deps, body, {}, {}).status_code == 401
    old = signed_headers(body, expire=str(int(time.time()) - 3 * 86_400))
    out = post_callback(deps, body, old, {})
    assert out.status_code == 401 and "replay window" in out.body["message"]


@pytest.mark.parametrize(
    "expire, user",
    [
        (lambda now: str(int(now * 1000)), "2f8e0c6d7a1b4c3e9d5f00112233aabb"),  # ms and an account id (Baidu's media)
        (lambda now: str(int(now)), "mct-user"),  # seconds and a user name
        (lambda now: str(int(now - 3600) * 1000), "any string at all"),  # an hour old: "not a precise expiry"
    ],
)
def test_sign_expire_in_ms_or_s_and_any_user_are_accepted(expire, user):
    deps = sign_deps()
    body = notification(submitted(deps)[0])
    headers = signed_headers(body, expire=expire(time.time()), user=user)
    assert post_callback(deps, body, headers, {}).status_code == 200


SIGN_VECTORS = json.loads((Path(__file__).parents[3] / "fixtures" / "sign_vectors.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("vector", SIGN_VECTORS["vectors"], ids=lambda v: v["name"])
def test_sign_verification_agrees_with_the_fixed_vectors(vector):
    # The same file checks localcloud's sender (tests/unit/localcloud/mct/test_sign_vectors.py); the two share no code.
    v = vector
    assert mct_notification_signature(v["token"], v["endpoint"], v["body"], v["expire"], v["user"]) == v["signature"]
    headers = {"Notification-Auth-Expire": v["expire"], "Notification-Auth-User": v["user"],
               "Notification-Auth-Token": v["signature"]}  # fmt: skip
    assert verify_mct_notification(v["token"], v["endpoint"], v["body"], headers, now=0, max_age=0) is None
    assert verify_mct_notification("other", v["endpoint"], v["body"], headers, now=0, max_age=0) is not None


# --- the CFC / API gateway / ASGI entrypoints -------------------------------------------------------------------------


@pytest.fixture
def installed():
    deps = make_deps(
        config_dict(
            callback={
                "url_token": "local-callback-token-change-me",
                "sign_token": "local-sign-token",
                "endpoint": "http://127.0.0.1:18082/mct/callback",
            }
        )  # fmt: skip
    )
    bootstrap.set_deps(deps)
    yield deps
    bootstrap.set_deps(None)


def test_sample_events_through_the_cfc_handler(installed):
    # SIGN and URL token both configured: callback_signed.json has only SIGN headers -> refused.
    assert on_notification.handler(load_event("callback_signed.json"), None)["statusCode"] == 401
    for name in ("callback_success.json", "callback_failed.json"):
        resp = on_notification.handler(load_event(name), None)
        assert resp["statusCode"] == 401, name  # has ?token= but no SIGN headers


def test_cfc_events_with_url_token_only():
    deps = make_deps(config_dict(callback={"url_token": "local-callback-token-change-me"}))
    bootstrap.set_deps(deps)
    try:
        for name in ("callback_success.json", "callback_failed.json", "apigw_v2_callback.json"):
            resp = on_notification.handler(load_event(name), None)
            assert resp["statusCode"] == 200, (name, resp)
            assert json.loads(resp["body"])["status"] == "ignored"  # job ids in the samples are not ours
            assert resp["headers"]["Content-Type"] == "application/json"
        bad = on_notification.handler(load_event("callback_malformed.json"), None)
        assert bad["statusCode"] == 400 and json.loads(bad["body"])["field"] == "messageBody"
        assert on_notification.handler({"foo": 1}, None)["statusCode"] == 400
        get = dict(load_event("callback_success.json"), httpMethod="GET")
        assert on_notification.handler(get, None)["statusCode"] == 200
    finally:
        bootstrap.set_deps(None)


def test_signed_sample_event_verifies():
    deps = make_deps(config_dict(callback={"sign_token": "local-sign-token",
                                           "endpoint": "http://127.0.0.1:18082/mct/callback"}))  # fmt: skip
    bootstrap.set_deps(deps)
    try:
        resp = on_notification.handler(load_event("callback_signed.json"), None)
        assert resp["statusCode"] == 200 and json.loads(resp["body"])["status"] == "ignored"
    finally:
        bootstrap.set_deps(None)


def test_full_flow_through_api_gateway_v2_base64():
    deps = make_deps(config_dict(callback={"url_token": "t0ken"}))
    bootstrap.set_deps(deps)
    try:
        job_id = submitted(deps)[0]
        deps.mct.set_status(job_id, "SUCCESS")
        body = notification(job_id)
        event = {"version": "2.0", "rawPath": "/mct/callback", "rawQueryString": "token=t0ken",
                 "queryStringParameters": {"token": "t0ken"}, "headers": {},
                 "requestContext": {"http": {"method": "POST", "path": "/mct/callback"}},
                 "body": base64.b64encode(body.encode()).decode(), "isBase64Encoded": True}  # fmt: skip
        resp = on_notification.handler(event, None)
        assert resp["statusCode"] == 200 and json.loads(resp["body"])["job_status"] == SUCCESS
    finally:
        bootstrap.set_deps(None)


def test_asgi_webhook_app():
    import requests

    from handlers import webhook_app
    from handlers.webhook_app import app

    deps = make_deps(config_dict(callback={"url_token": "t0ken", "max_body_bytes": 2048}))
    bootstrap.set_deps(deps)
    server = serve_in_thread(app)
    try:
        job_id = submitted(deps)[0]
        deps.mct.set_status(job_id, "SUCCESS")
        url = server.url + "/mct/callback"
        r = requests.post(url, params={"token": "t0ken"}, data=notification(job_id), timeout=10)
        # Answered once recorded; get_job and the status update follow in the background.
        assert r.status_code == 200 and r.json() == {"status": "accepted", "job_id": job_id}
        deadline = time.monotonic() + 10
        while deps.store.get_job(job_id).status != SUCCESS and time.monotonic() < deadline:
            time.sleep(0.02)
        assert deps.store.get_job(job_id).status == SUCCESS
        again = requests.post(url, params={"token": "t0ken"}, data=notification(job_id), timeout=10)
        assert again.json() == {"status": "duplicate", "job_id": job_id}
        assert requests.put(url, timeout=10).status_code == 405
        assert (
            requests.post(server.url + "/elsewhere", params={"token": "t0ken"}, data="{}", timeout=10).status_code
            == 404
        )
        assert requests.post(url, data=notification(job_id), timeout=10).status_code == 401
        big = requests.post(url, params={"token": "t0ken"}, data=b"x" * 5000, timeout=10)
        assert big.status_code == 413 and big.json()["field"] == "body"
        assert requests.get(url, timeout=10).json()["ok"] is True
    finally:
        server.stop()
        webhook_app.stop_inbox()
        bootstrap.set_deps(None)


def test_build_event_statuses(deps):
    submitted(deps)
    uid = upload_id_for("uploads", "incoming/x.mp4", "etag-1")
    jobs = deps.store.jobs_for_upload(uid)
    deps.store.update_job_status(jobs[0].job_id, FAILED, {"error": {"code": "E", "message": "m"}}, deps.now())
    for j in jobs[1:]:
        deps.store.update_job_status(j.job_id, SUCCESS, {}, deps.now())
    event = build_event(deps.store.get_upload(uid), deps.store.jobs_for_upload(uid))
    assert event["status"] == "PARTIAL" and event["errors"][0]["code"] == "E"


def test_reconciler_resubmits_claims_left_retryable():
    from handlers.services.reconcile import reconcile

    deps = make_deps(config_dict(mediainfo_check=False))
    deps.mct.fail_next(4 * 3, status=503)
    assert process_upload_event(deps, bos_event("incoming/x.mp4"))["retryable"] == 3
    assert len(deps.mct.jobs) == 0
    summary = reconcile(deps)
    assert summary["resubmitted"] == 3 and len(deps.mct.jobs) == 3
    assert reconcile(deps)["resubmitted"] == 0


def test_reconciler_reads_stuck_jobs():
    from datetime import timedelta

    from handlers.domain.clock import utcnow
    from handlers.services.reconcile import reconcile

    deps = make_deps(mct=MemoryMct())
    submitted(deps)
    for job_id in deps.mct.jobs:
        deps.mct.set_status(job_id, "SUCCESS")
    assert reconcile(deps)["checked"] == 0  # not stale yet
    deps.now = lambda: utcnow() + timedelta(minutes=11)
    summary = reconcile(deps)
    assert summary["checked"] == 3 and summary["updated"] == 3
    assert deps.store.get_upload(upload_id_for("uploads", "incoming/x.mp4", "etag-1")).status == UPLOAD_DONE


def test_wrong_path_is_a_404_naming_the_expected_one():
    deps = make_deps(config_dict(callback={"url_token": "t0ken"}))
    bootstrap.set_deps(deps)
    try:
        event = dict(load_event("callback_success.json"), path="/other", queryStringParameters={"token": "t0ken"})
        resp = on_notification.handler(event, None)
        assert resp["statusCode"] == 404 and "/mct/callback" in json.loads(resp["body"])["message"]
        event["path"] = "/prod/mct/callback/"
        assert on_notification.handler(event, None)["statusCode"] == 200
    finally:
        bootstrap.set_deps(None)


def test_crash_after_marking_done_is_redelivered_by_the_reconciler():
    from datetime import timedelta

    from handlers.domain.clock import utcnow
    from handlers.services.reconcile import reconcile
    from handlers.testing.memory_store import MemoryStore

    class CrashOnce(MemoryStore):
        crashed = False

        def record_delivery(self, delivery):
            if not self.crashed:
                self.crashed = True
                raise RuntimeError("function killed mid-delivery")
            super().record_delivery(delivery)

    receiver = Receiver()
    server = serve_in_thread(receiver)
    try:
        deps = make_deps(config_dict(downstream={"url": server.url}), store=CrashOnce())
        submitted(deps)
        with pytest.raises(RuntimeError):
            list(finish_all(deps))
        uid = upload_id_for("uploads", "incoming/x.mp4", "etag-1")
        assert deps.store.get_upload(uid).status == UPLOAD_DONE
        deps.now = lambda: utcnow() + timedelta(minutes=6)
        assert reconcile(deps)["redelivered"] == 1
        assert deps.store.get_delivery(uid).status == DELIVERY_DELIVERED
        assert len(receiver.requests) == 2  # at-least-once: the receiver dedupes on upload.id
        assert len({json.loads(r["body"])["upload"]["id"] for r in receiver.requests}) == 1
    finally:
        server.stop()


def test_self_hosted_webhook_refuses_to_start_with_a_bad_config():
    import os
    import subprocess
    import sys

    from tests.unit.handlers.conftest import ROOT

    bad = config_dict(callback={"url_token": "t0ken", "max_body_bytes": -1})
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOTRANSCODE_")}
    env.update(AUTOTRANSCODE_CONFIG_JSON=json.dumps(bad), BCE_ACCESS_KEY_ID="ak", BCE_ACCESS_KEY_SECRET="sk")
    argv = [sys.executable, "-m", "uvicorn", "handlers.webhook_app:app", "--port", "0", "--log-level", "info"]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "callback.max_body_bytes" in output and "-1" in output, output


def test_self_hosted_webhook_verifies_left_over_callbacks_at_start(tmp_path):
    import os
    import subprocess
    import sys
    from datetime import timedelta

    from handlers.adapters.store import open_store
    from handlers.domain.clock import utcnow
    from handlers.domain.ids import claim_id_for
    from handlers.domain.records import Job, Upload
    from localcloud.serve import free_port
    from tests.unit.handlers.conftest import ROOT

    # A callback accepted before a crash: its hint is still in the store, nothing will POST it again.
    url = f"sqlite:///{tmp_path}/store.sqlite3"
    store = open_store(url)
    upload_id = upload_id_for("uploads", "incoming/x.mp4", "e")
    store.ensure_upload(Upload(upload_id, "uploads", "incoming/x.mp4", "e", "videos", 1))
    claim = Job(claim_id_for("uploads", "incoming/x.mp4", "e", "720p"), upload_id, "720p", "transcode", {})
    store.claim(claim, utcnow(), timedelta(minutes=5))
    store.record_submitted(claim.claim_id, "job-leftover", utcnow())
    assert store.accept_hints([("job-leftover", "m-1")], utcnow()) == [True]
    # MCT is unreachable here, so the verifier's get_job fails and the hint is deferred: proof that it ran.
    config = config_dict(callback={"url_token": "t0ken"}, store_url=url)
    config["mct"]["max_attempts"] = 1
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOTRANSCODE_")}
    env.update(AUTOTRANSCODE_CONFIG_JSON=json.dumps(config), BCE_ACCESS_KEY_ID="ak", BCE_ACCESS_KEY_SECRET="sk")
    argv = [sys.executable, "-m", "uvicorn", "handlers.webhook_app:app", "--port", str(free_port())]
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            hints = store.due_hints(utcnow() + timedelta(days=1), 10)
            if hints and hints[0].attempts >= 1:
                break
            time.sleep(0.1)
        assert hints and hints[0].job_id == "job-leftover" and hints[0].attempts >= 1
    finally:
        server.terminate()
        server.wait(10)
