"""Reliability R7 (issue #7): forged input is refused and records nothing.

- MCT callbacks to the functions' webhook (URL token + SIGN headers both configured): missing/wrong token, missing
  or wrong signature, tampered body, a genuine callback replayed after its window, unknown job ids, a genuine
  callback that lies about the job -> store unchanged (the webhook accepts authentic callbacks as hints; its
  verifier then drops the unknown job and records what MCT says, not what the callback says), no "upload done"
  event. A genuine callback is accepted (the positive control, so the test can fail).
- bce-auth-v1 on localcloud MCT and BOS: wrong/unknown keys, expired or future timestamps, tampered requests,
  malformed headers -> refused, MCT/BOS state unchanged.
- BOS keys that try to leave the bucket (``..``, encoded slashes, backslashes, NUL) -> refused, nothing written
  or read outside the bucket.
"""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import quote, urlsplit

import pytest
import requests

from handlers.domain.statuses import PENDING, SUCCESS
from localcloud import bce_auth
from localcloud.bos import BosService
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.mct.notification_sign import sign_headers
from localcloud.mct.notifier import build_message
from localcloud.mct.testing import signed_request
from localcloud.serve import serve_in_thread
from tests.reliability_support import (
    BUCKET,
    JOBS_PER_UPLOAD,
    PIPELINE,
    SIGN_TOKEN,
    URL_TOKEN,
    bucket_files,
    hints_drained,
    make_cloud,
    mct_state,
    report,
    snapshot_store,
)
from tests.waiting import wait_for


@pytest.fixture
def signed_cloud(tmp_path):
    """Scheduler not started: jobs stay PENDING until the test says so. Callbacks need the URL token AND SIGN."""
    auth = lambda url: {"url_token": URL_TOKEN, "sign_token": SIGN_TOKEN, "endpoint": url}  # noqa: E731
    cloud = make_cloud(tmp_path, start=False, notify=None, callback=auth)
    yield cloud
    cloud.stop()


def post_callback(cloud, body: str, headers: dict | None = None, token: str | None = URL_TOKEN):
    url = cloud.callback_url + (f"?token={quote(token)}" if token is not None else "")
    return requests.post(url, data=body.encode(), headers=headers or {}, timeout=30)


def domain(snapshot: dict) -> dict:
    """The tables that hold what autotranscode knows about uploads and jobs."""
    return {table: rows for table, rows in snapshot.items() if table in ("at_uploads", "at_jobs", "at_deliveries")}


def genuine(cloud, job_id: str, now: float | None = None) -> tuple[str, dict]:
    """A callback exactly as MCT sends it (message + SIGN headers) for the job as MCT holds it now."""
    row = cloud.backend.job_row(job_id)
    body = json.dumps(build_message(row.doc, "cb", cloud.mct.server.endpoint))
    return body, sign_headers(SIGN_TOKEN, cloud.callback_url, body, now=now)


def test_r7_forged_callbacks_are_refused_and_record_nothing(signed_cloud, request):
    cloud = signed_cloud
    events = [cloud.upload(f"incoming/r7/clip{i}.mp4") for i in range(2)]
    for event in events:
        assert cloud.deliver_like_cfc(event)
    jobs = cloud.store_jobs()
    assert len(jobs) == 2 * JOBS_PER_UPLOAD
    job = next(j for j in jobs if j.kind == "transcode")
    # The forgeries claim the job succeeded while MCT still has it PENDING.
    cloud.backend.mark_success(job.job_id, output={"container": "mp4"})
    body, headers = genuine(cloud, job.job_id)
    cloud.backend.store.save_job(job.job_id, {**cloud.backend.job_row(job.job_id).doc, "jobStatus": "PENDING"})

    forged_sig = dict(headers, **{"Notification-Auth-Token": "0" * 64})
    wrong_key = sign_headers("not-the-token", cloud.callback_url, body)
    other_endpoint = sign_headers(SIGN_TOKEN, "http://evil.example/cb", body)
    tampered = body.replace(job.job_id, jobs[-1].job_id)
    old_body, old_headers = genuine(cloud, job.job_id, now=time.time() - 2 * 86400)  # past the one-day window
    unknown = json.dumps({**json.loads(body), "messageBody": json.dumps({"jobId": "job-doesnotexist00"})})
    cases = {
        "no ?token": (body, headers, None, 401),
        "wrong ?token": (body, headers, "guess", 401),
        "token prefix": (body, headers, URL_TOKEN[:-1], 401),
        "no SIGN headers": (body, {}, URL_TOKEN, 401),
        "forged signature": (body, forged_sig, URL_TOKEN, 401),
        "signed with another token": (body, wrong_key, URL_TOKEN, 401),
        "signed for another endpoint": (body, other_endpoint, URL_TOKEN, 401),
        "body tampered after signing": (tampered, headers, URL_TOKEN, 401),
        "replayed outside the window": (old_body, old_headers, URL_TOKEN, 401),
        "oversized (300 KB)": (body + " " * 300_000, headers, URL_TOKEN, 413),
        "unknown job id (authentic)": (unknown, sign_headers(SIGN_TOKEN, cloud.callback_url, unknown), URL_TOKEN, 200),
    }
    before = snapshot_store(cloud.deps.store)
    refused = 0
    for name, (text, hdrs, token, status) in cases.items():
        answer = post_callback(cloud, text, hdrs, token)
        assert answer.status_code == status, (name, answer.status_code, answer.text)
        if status in (401, 413):
            refused += 1
            assert answer.json()["message"], name  # says what was wrong ...
            assert SIGN_TOKEN not in answer.text and URL_TOKEN not in answer.text  # ... without echoing secrets
            assert snapshot_store(cloud.deps.store) == before, f"{name}: the store changed"
        else:
            # Authentic: recorded as a hint, then dropped by the verifier (MCT does not know the job).
            assert answer.json()["status"] == "accepted", (name, answer.text)
            wait_for(lambda: hints_drained(cloud.deps.store), what="hints verified")
            assert domain(snapshot_store(cloud.deps.store)) == domain(before), f"{name}: the store changed"

    # Authentic, but it lies (says SUCCESS while MCT says PENDING): get_job decides, nothing moves forward.
    lying_body, lying_headers = genuine(cloud, job.job_id)
    lie = json.loads(lying_body)
    lie["messageBody"] = json.dumps({**json.loads(lie["messageBody"]), "jobStatus": "SUCCESS"})
    lie_text = json.dumps(lie)
    answer = post_callback(cloud, lie_text, sign_headers(SIGN_TOKEN, cloud.callback_url, lie_text))
    assert answer.status_code == 200, answer.text
    wait_for(lambda: hints_drained(cloud.deps.store), what="hints verified")
    assert cloud.deps.store.get_job(job.job_id).status == PENDING
    after_lie = snapshot_store(cloud.deps.store)
    assert after_lie["at_jobs"] == before["at_jobs"] and after_lie["at_uploads"] == before["at_uploads"]
    assert cloud.uploads_done_events() == []

    # Positive control: the jobs really finish and genuine callbacks are recorded.
    cloud.mct.service.start()
    wait_for(lambda: all(j["jobStatus"] == SUCCESS for j in cloud.mct_jobs()), what="jobs done")
    for j in cloud.store_jobs():
        text, hdrs = genuine(cloud, j.job_id)
        assert post_callback(cloud, text, hdrs).json()["status"] == "accepted"
    wait_for(lambda: {j.status for j in cloud.store_jobs()} == {SUCCESS}, what="genuine callbacks recorded")
    wait_for(lambda: len(cloud.uploads_done_events()) == 2, what="two done events")
    report(
        request,
        f"R7 callbacks: {refused} forged callbacks refused (401/413), 1 unknown job + 1 lying callback ignored, store "
        f"unchanged after each; {len(jobs)} genuine callbacks recorded (control)",
    )


# ----- bce-auth-v1 --------------------------------------------------------------------------------------------


def raw_request(base_url: str, method: str, raw_path: str, body: bytes = b"", headers: dict | None = None):
    """Send the path exactly as given (requests/urllib3 would normalise ``..`` segments away)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, raw_path, skip_host=True, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def signed_headers(
    base_url: str,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    ak: str = DEFAULT_ACCESS_KEY,
    sk: str = DEFAULT_SECRET_KEY,
    ts: float | None = None,
    params: list | None = None,
    signed: list[str] | None = None,
) -> dict[str, str]:
    """Headers of a bce-auth-v1 request for the *decoded* path (what the server verifies)."""
    now = time.time() if ts is None else ts
    headers = {
        "host": urlsplit(base_url).netloc,
        "content-length": str(len(body)),
        "x-bce-date": bce_auth.format_timestamp(now),
        "content-type": "application/json; charset=utf-8",
    }
    headers["authorization"] = bce_auth.sign(
        ak, sk, method, path, params or [], headers, timestamp=now, signed_headers=signed
    )
    return headers


def auth_forgeries(base_url: str, method: str, path: str, body: bytes) -> dict[str, tuple[str, dict, bytes]]:
    """name -> (raw path, headers, body) of requests that must all be refused."""
    ok = signed_headers(base_url, method, path, body)
    return {
        "no Authorization": (path, {k: v for k, v in ok.items() if k != "authorization"}, body),
        "wrong secret key": (path, signed_headers(base_url, method, path, body, sk="not-the-secret"), body),
        "unknown access key": (path, signed_headers(base_url, method, path, body, ak="stranger"), body),
        "expired (2 h old)": (path, signed_headers(base_url, method, path, body, ts=time.time() - 7200), body),
        "from the future (+2 h)": (path, signed_headers(base_url, method, path, body, ts=time.time() + 7200), body),
        "signed for another path": (path, signed_headers(base_url, method, path + "x", body), body),
        "signed for GET": (path, signed_headers(base_url, "GET", path, body), body),
        "signed for another host": (path, dict(ok, host="evil.example"), body),
        "x-bce-date changed": (path, dict(ok, **{"x-bce-date": bce_auth.format_timestamp(time.time() + 60)}), body),
        "malformed header": (path, dict(ok, authorization="bce-auth-v1/" + DEFAULT_ACCESS_KEY), body),
        "empty signature": (path, dict(ok, authorization=ok["authorization"].rsplit("/", 1)[0] + "/"), body),
        "not bce-auth-v1": (path, dict(ok, authorization="Bearer " + ok["authorization"]), body),
    }


def check_refused(status: int, raw: bytes, name: str) -> dict:
    assert 400 <= status < 500, (name, status, raw[:200])
    error = json.loads(raw)
    assert set(error) >= {"requestId", "code", "message"} and error["message"], (name, error)
    return error


def test_r7_bad_bce_auth_signatures_change_nothing_on_mct(tmp_path, request):
    cloud = make_cloud(tmp_path, start=False, notify=None)
    try:
        cloud.mct.service.storage.put(BUCKET, "incoming/src.mp4", b"media")
        base = cloud.mct.server.url
        body = json.dumps(
            {
                "pipelineName": PIPELINE,
                "source": {"sourceKey": "incoming/src.mp4"},
                "target": {"targetKey": "out/forged.mp4", "presetName": "bce.video_mp4_640x360_600kbps"},
            }  # fmt: skip
        ).encode()
        before = mct_state(cloud.mct.service)
        codes = {}
        for name, (path, headers, data) in auth_forgeries(base, "POST", "/v3/job/transcoding", body).items():
            status, raw = raw_request(base, "POST", path, data, headers)
            codes[name] = check_refused(status, raw, name)["code"]
            assert mct_state(cloud.mct.service) == before, f"{name}: MCT state changed"
        # Control: the same request, signed properly, is accepted.
        status, raw = raw_request(
            base, "POST", "/v3/job/transcoding", body, signed_headers(base, "POST", "/v3/job/transcoding", body)
        )
        assert status == 200 and json.loads(raw)["jobId"], raw
        report(
            request,
            f"R7 MCT bce-auth-v1: {len(codes)} forged create_job requests refused {sorted(set(codes.values()))}, "
            "0 jobs created; control accepted",
        )
    finally:
        cloud.stop()


@pytest.fixture
def bos(tmp_path):
    service = BosService(tmp_path / "data")
    service.storage.create_bucket(BUCKET, exist_ok=True)
    server = serve_in_thread(service.app)
    yield service, server
    server.stop()


def test_r7_bad_bce_auth_signatures_change_nothing_on_bos(bos, request):
    service, server = bos
    base = server.url
    path = f"/{BUCKET}/incoming/forged.mp4"
    before = bucket_files(service.storage.data_dir)
    codes = {}
    for name, (raw_path, headers, data) in auth_forgeries(base, "PUT", path, b"forged media").items():
        status, raw = raw_request(base, "PUT", raw_path, data, headers)
        codes[name] = check_refused(status, raw, name)["code"]
        assert bucket_files(service.storage.data_dir) == before, f"{name}: something was written"
    status, _ = raw_request(base, "PUT", path, b"media", signed_headers(base, "PUT", path, b"media"))
    assert status == 200
    assert service.storage.exists(BUCKET, "incoming/forged.mp4")
    report(
        request,
        f"R7 BOS bce-auth-v1: {len(codes)} forged PUTs refused {sorted(set(codes.values()))}, nothing written; "
        "control accepted",
    )


TRAVERSAL = [
    # (raw path as sent, path the server decodes)
    (f"/{BUCKET}/../escaped.txt", f"/{BUCKET}/../escaped.txt"),
    (f"/{BUCKET}/a/../../escaped.txt", f"/{BUCKET}/a/../../escaped.txt"),
    (f"/{BUCKET}/..%2Fescaped.txt", f"/{BUCKET}/../escaped.txt"),
    (f"/{BUCKET}/%2e%2e/%2e%2e/escaped.txt", f"/{BUCKET}/../../escaped.txt"),
    (f"/{BUCKET}/a/%2E%2E%2F%2E%2E%2Fescaped.txt", f"/{BUCKET}/a/../../escaped.txt"),
    (f"/{BUCKET}/..%5Cescaped.txt", f"/{BUCKET}/..\\escaped.txt"),
    (f"/{BUCKET}/ok%00.txt", f"/{BUCKET}/ok\x00.txt"),
    (f"/{BUCKET}/./escaped.txt", f"/{BUCKET}/./escaped.txt"),
    (f"/{BUCKET}//etc/escaped.txt", f"/{BUCKET}//etc/escaped.txt"),
    ("/../escaped.txt", "/../escaped.txt"),
    ("/..%2Fbuckets%2Fuploads/escaped.txt", "/../buckets/uploads/escaped.txt"),
    ("/./uploads/escaped.txt", "/./uploads/escaped.txt"),
]


def test_r7_traversal_keys_on_bos_are_refused(bos, request):
    service, server = bos
    base = server.url
    data_dir = service.storage.data_dir
    (data_dir / "secret.txt").write_text("not for you")
    (data_dir.parent / "outside.txt").write_text("not for you either")
    before = bucket_files(data_dir.parent)
    refused = 0
    for raw_path, decoded in TRAVERSAL:
        status, raw = raw_request(base, "PUT", raw_path, b"escaped", signed_headers(base, "PUT", decoded, b"escaped"))
        check_refused(status, raw, raw_path)
        assert bucket_files(data_dir.parent) == before, f"{raw_path}: something was written"
        for name in ("secret.txt", "outside.txt"):
            read_path = decoded.replace("escaped.txt", name)
            status, raw = raw_request(base, "GET", raw_path.replace("escaped.txt", name), b"",
                                      signed_headers(base, "GET", read_path))  # fmt: skip
            assert b"not for you" not in raw, (raw_path, status)
            check_refused(status, raw, raw_path)
        refused += 1
    report(
        request,
        f"R7 BOS traversal: {refused}/{len(TRAVERSAL)} escaping keys refused for PUT and GET, "
        "nothing written or read outside the bucket",
    )


def test_r7_traversal_keys_on_mct_are_refused(tmp_path, request):
    cloud = make_cloud(tmp_path, start=False, notify=None)
    try:
        cloud.mct.service.storage.put(BUCKET, "incoming/src.mp4", b"media")
        before = mct_state(cloud.mct.service)
        attempts = [
            ({"sourceKey": "incoming/src.mp4"}, "../../escaped.mp4", "targetKey"),
            ({"sourceKey": "incoming/src.mp4"}, "a/../../escaped.mp4", "targetKey"),
            ({"sourceKey": "../mct/mct.sqlite3"}, "out/x.mp4", "sourceKey"),
            ({"sourceKey": "incoming/../../secret"}, "out/x.mp4", "sourceKey"),
        ]
        for source, target_key, field in attempts:
            resp = signed_request(cloud.mct.server.url, "POST", "/v3/job/transcoding", {
                "pipelineName": PIPELINE, "source": source,
                "target": {"targetKey": target_key, "presetName": "bce.video_mp4_640x360_600kbps"}})  # fmt: skip
            error = check_refused(resp.status_code, resp.content, target_key)
            assert field in error["message"] or "does not exist" in error["message"], error
            assert mct_state(cloud.mct.service) == before
        report(request, f"R7 MCT traversal: {len(attempts)} escaping source/target keys refused, 0 jobs created")
    finally:
        cloud.stop()
