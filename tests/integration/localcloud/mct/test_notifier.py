"""Completion callbacks: the documented body, SIGN headers that verify, retries until the receiver says 2xx."""

from __future__ import annotations

import json
import threading
import time

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from localcloud.mct.notification_sign import (
    EXPIRE_HEADER,
    LOCAL_ACCOUNT_ID,
    TOKEN_HEADER,
    USER_HEADER,
    verify_notification,
)
from localcloud.mct.testing import running_mct, signed_request, wait_for_job
from localcloud.serve import free_port, serve_in_thread

PRESET = "bce.video_mp4_854x480_800kbps"


class Receiver:
    """A local webhook: records every POST; answers ``fail_first`` requests with HTTP 500 first."""

    def __init__(self, fail_first: int = 0, port: int = 0):
        self.calls: list[tuple[dict, bytes]] = []
        self.fail_first = fail_first
        self.seen = 0
        self.lock = threading.Lock()
        self.server = serve_in_thread(Router([Route("/cb/{rest:path}", self.handle, methods=["POST"])]), port=port)
        self.url = f"{self.server.url}/cb/hook"

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.seen += 1
            if self.seen <= self.fail_first:
                return Response("try later", status_code=500)
            self.calls.append((dict(request.headers), body))
        return Response("ok")

    def wait(self, n: int = 1, timeout: float = 30) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.calls) >= n:
                    return list(self.calls)
            time.sleep(0.05)
        raise TimeoutError(f"{len(self.calls)} callbacks received, wanted {n}")


@pytest.fixture
def mct(tmp_path):
    with running_mct(tmp_path, buckets=("src", "dst")) as running:
        running.service.storage.put("src", "bad.mp4", b"this is not a video")  # fails fast in the engine
        yield running


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.stop()


def test_callback_body_for_failed_job(mct, receiver):
    client = mct.client
    client.create_notification("n1", receiver.url)
    client.create_pipeline("p1", "src", "dst", pipeline_config={"notification": "n1"})
    job_id = client.create_job("p1", {"sourceKey": "bad.mp4"}, {"targetKey": "o.mp4", "presetName": PRESET}).job_id
    job = wait_for_job(client, job_id)
    assert job.job_status == "FAILED" and job.error.code and job.error.message
    headers, raw = receiver.wait(1)[0]
    message = json.loads(raw)
    assert set(message) == {"messageBody", "messageId", "notification", "server", "subscriptionName", "version",
                            "signature"}  # fmt: skip
    assert message["notification"] == "n1" and message["server"] == mct.server.endpoint
    assert (message["subscriptionName"], message["version"], message["signature"]) == ("", "", "")
    assert len(message["messageId"]) == 36
    assert isinstance(message["messageBody"], str)
    inner = json.loads(message["messageBody"])
    assert inner == json.loads(job.raw_data)  # the job exactly as GET returns it
    assert inner["jobStatus"] == "FAILED" and inner["error"]["code"]
    assert headers["content-type"] == "application/json;charset=UTF-8"  # [UNVERIFIED] as Baidu's media services
    assert headers["user-agent"] == "AHC/2.0"
    assert TOKEN_HEADER.lower() not in headers


def test_sign_headers_verify(mct, receiver):
    body = {"name": "signed", "endpoint": receiver.url, "type": "SIGN", "token": "s3cret"}
    response = signed_request(mct.server.url, "POST", "/v3/notification", body)
    assert response.status_code == 200, response.text
    got = mct.client.get_notification("signed")
    assert got.endpoint == receiver.url and "s3cret" not in got.raw_data  # the token is never echoed
    mct.client.create_pipeline("p1", "src", "dst", pipeline_config={"notification": "signed"})
    mct.client.create_job("p1", {"sourceKey": "bad.mp4"}, {"targetKey": "o.mp4", "presetName": PRESET})
    headers, raw = receiver.wait(1)[0]
    expire, user, token = headers[EXPIRE_HEADER.lower()], headers[USER_HEADER.lower()], headers[TOKEN_HEADER.lower()]
    assert verify_notification("s3cret", receiver.url, raw.decode(), expire, user, token)
    assert not verify_notification("wrong", receiver.url, raw.decode(), expire, user, token)
    assert not verify_notification("s3cret", receiver.url, raw.decode() + " ", expire, user, token)
    assert user == LOCAL_ACCOUNT_ID  # the account id, as Baidu's media services send it [UNVERIFIED for MCT]
    assert abs(int(expire) - time.time() * 1000) < 24 * 3600 * 1000  # milliseconds, near now


def test_per_job_notification_url_and_retries(mct):
    flaky = Receiver(fail_first=2)
    try:
        mct.service.notifier.base_delay = 0.05
        mct.client.create_pipeline("p1", "src", "dst")  # no pipeline notification: the job names a URL
        target = {"targetKey": "o.mp4", "presetName": PRESET, "jobCfg": {"notification": flaky.url}}
        job_id = mct.client.create_job("p1", {"sourceKey": "bad.mp4"}, target).job_id
        _, raw = flaky.wait(1)[0]
        assert flaky.seen == 3  # two refused deliveries, then accepted
        message = json.loads(raw)
        assert message["notification"] == "" and json.loads(message["messageBody"])["jobId"] == job_id
        deadline = time.monotonic() + 5
        while mct.service.notifier.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mct.service.notifier.pending() == 0
    finally:
        flaky.server.stop()


def test_no_callback_without_notification(mct, receiver):
    mct.client.create_pipeline("p1", "src", "dst")
    job_id = mct.client.create_job("p1", {"sourceKey": "bad.mp4"}, {"targetKey": "o.mp4", "presetName": PRESET})
    wait_for_job(mct.client, job_id.job_id)
    time.sleep(0.3)
    assert receiver.calls == [] and mct.service.notifier.pending() == 0


def test_undelivered_callbacks_survive_a_restart(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/cb/hook"  # nothing listens yet
    with running_mct(tmp_path, buckets=("src", "dst")) as first:
        first.service.storage.put("src", "bad.mp4", b"not media")
        first.client.create_notification("n1", url)
        first.client.create_pipeline("p1", "src", "dst", pipeline_config={"notification": "n1"})
        job_id = first.client.create_job("p1", {"sourceKey": "bad.mp4"}, {"targetKey": "o.mp4", "presetName": PRESET})
        wait_for_job(first.client, job_id.job_id)
        deadline = time.monotonic() + 10
        while first.service.notifier.pending() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.service.notifier.pending() == 1
    receiver = Receiver(port=port)
    try:
        with running_mct(tmp_path) as second:
            _, raw = receiver.wait(1)[0]
            assert json.loads(json.loads(raw)["messageBody"])["jobId"] == job_id.job_id
            deadline = time.monotonic() + 5
            while second.service.notifier.pending() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert second.service.notifier.pending() == 0
    finally:
        receiver.server.stop()


def test_thumbnail_jobs_notify_too(mct, receiver):
    mct.client.create_notification("n1", receiver.url)
    mct.client.create_pipeline("p1", "src", "dst", pipeline_config={"notification": "n1"})
    job_id = mct.client.create_thumbnail_job("p1", {"key": "bad.mp4"}).job_id
    _, raw = receiver.wait(1)[0]
    inner = json.loads(json.loads(raw)["messageBody"])
    assert inner["jobId"] == job_id and inner["jobStatus"] == "FAILED" and "capture" in inner


def test_callback_faults_duplicate_and_drop(tmp_path, receiver):
    from localcloud.faults import FaultConfig

    with running_mct(tmp_path / "dup", buckets=("src", "dst"), faults=FaultConfig(callback_duplicate_rate=1)) as mct:
        mct.service.storage.put("src", "bad.mp4", b"not media")
        mct.client.create_notification("n1", receiver.url)
        mct.client.create_pipeline("p1", "src", "dst", pipeline_config={"notification": "n1"})
        mct.client.create_job("p1", {"sourceKey": "bad.mp4"}, {"targetKey": "o.mp4", "presetName": PRESET})
        calls = receiver.wait(2)
        first, second = (json.loads(raw) for _, raw in calls[:2])
        assert first["messageId"] == second["messageId"]  # the same message twice: receivers must dedupe
    receiver.calls.clear()
    with running_mct(tmp_path / "drop", buckets=("src", "dst"), faults=FaultConfig(callback_drop_rate=1)) as mct:
        mct.service.storage.put("src", "bad.mp4", b"not media")
        mct.client.create_notification("n1", receiver.url)
        mct.client.create_pipeline("p1", "src", "dst", pipeline_config={"notification": "n1"})
        job = mct.client.create_job("p1", {"sourceKey": "bad.mp4"}, {"targetKey": "o.mp4", "presetName": PRESET})
        assert wait_for_job(mct.client, job.job_id).job_status == "FAILED"
        assert mct.service.notifier.pending() == 0 and receiver.calls == []  # lost: the reconciler's case
