"""Reliability R6 (issue #7): property-based fuzzing of everything that comes from outside.

- upload events into the upload function's entrypoint,
- MCT callbacks (API-gateway proxy events) into the notification function's entrypoint,
- MCT v3 API requests (signed, over HTTP) into localcloud MCT,
- BOS object requests (signed, over HTTP) into localcloud BOS.

Properties: no unhandled error, no 5xx, and every rejection says what was wrong: the functions name the field
(``events[0].content.object: ...``, ``{"field": "messageBody.jobId"}``), the services answer the BCE error body
with a non-empty message. CI runs 100 examples per property; ``-m slow`` runs 2000.
"""

from __future__ import annotations

import base64
import json
import string
import time
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import bootstrap
from handlers.config import parse_config
from handlers.on_notification import handler as on_notification_handler
from handlers.on_upload import handler as on_upload_handler
from handlers.services.deps import Deps
from handlers.testing.memory_mct import MemoryMct
from handlers.testing.memory_store import MemoryStore
from localcloud import bce_auth
from localcloud.bos import BosService
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.mct.testing import running_mct, signed_request
from localcloud.serve import serve_in_thread
from tests.integration.reliability.test_forgery import raw_request
from tests.reliability_support import BUCKET, URL_TOKEN, report, rule

CI_EXAMPLES, SLOW_EXAMPLES = 100, 2000
EXAMPLES = [pytest.param(CI_EXAMPLES, id="ci"), pytest.param(SLOW_EXAMPLES, id="big", marks=pytest.mark.slow)]


def run_property(prop, examples: int) -> None:
    settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )(prop)()


# ----- strategies -----------------------------------------------------------------------------------------------
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
keys = st.text(max_size=40) | st.sampled_from(
    ["incoming/a.mp4", "incoming/../x.mp4", "incoming/", "incoming/%2e%2e/a.MP4", "incoming/a b+c%20.mp4", "/a.mp4"]
)


def maybe(strategy):
    """Sometimes the plausible value, sometimes junk, sometimes absent (None -> key dropped)."""
    return st.one_of(strategy, json_values, st.just(None))


def drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


bos_record = st.builds(
    lambda event_id, event_type, bucket, obj, etag, size: drop_none(
        {
            "eventId": event_id,
            "eventType": event_type,
            "eventTime": "2026-11-23T00:00:00Z",
            "content": drop_none({"bucket": bucket, "object": obj, "eTag": etag, "filesize": size}),
        }
    ),
    maybe(st.text(max_size=10)),
    maybe(st.sampled_from(["PutObject", "CompleteMultipartUpload", "DeleteObject", "CopyObject"])),
    maybe(st.sampled_from([BUCKET, "other"])),
    maybe(keys),
    maybe(st.text(string.hexdigits, min_size=1, max_size=32)),
    maybe(st.integers(min_value=-1, max_value=10**12)),
)
s3_record = st.builds(
    lambda name, bucket, key, etag: {
        "eventName": name,
        "s3": {"bucket": {"name": bucket}, "object": drop_none({"key": key, "eTag": etag})},
    },  # fmt: skip
    st.sampled_from(["ObjectCreated:Put", "ObjectRemoved:Delete", "x"]),
    maybe(st.sampled_from([BUCKET, ""])),
    maybe(keys),
    maybe(st.text(max_size=8)),
)
upload_events = st.one_of(
    json_values,
    st.builds(lambda records: {"events": records}, st.lists(bos_record | json_values, max_size=3)),
    st.builds(lambda records: {"Records": records}, st.lists(s3_record | json_values, max_size=3)),
)


def function_deps() -> tuple[Deps, MemoryMct]:
    cfg = parse_config(
        {
            "mct": {"endpoint": "http://127.0.0.1:1", "pipeline": "autotranscode", "backoff_seconds": 0},
            "rules": [rule()],
            "callback": {"url_token": URL_TOKEN},
            "store_url": "memory://",
            "mediainfo_check": {"enabled": False},
        },
        env={},
    )
    mct = MemoryMct()
    deps = Deps(cfg, MemoryStore(), mct, sleep=lambda s: None)
    bootstrap.set_deps(deps)
    return deps, mct


@pytest.mark.parametrize("examples", EXAMPLES)
def test_r6_fuzzed_upload_events_never_crash_and_name_the_bad_field(request, examples):
    deps, _ = function_deps()
    seen = {"events": 0, "bad_records": 0, "rejected_envelopes": 0, "jobs": 0}

    @given(upload_events)
    def prop(event: Any) -> None:
        result = on_upload_handler(event, None)  # RetryLater would propagate: MemoryMct never fails here
        seen["events"] += 1
        assert isinstance(result, dict)
        if "error" in result:  # the envelope itself
            seen["rejected_envelopes"] += 1
            assert "event" in result["error"] or "expected" in result["error"], result
            return
        seen["jobs"] += result["submitted"]
        for obj in result["objects"]:
            if "index" in obj:  # a bad record: names where and what
                seen["bad_records"] += 1
                assert obj["error"].startswith(("events[", "Records[")), obj
                assert ":" in obj["error"] or "missing" in obj["error"], obj

    try:
        run_property(prop, examples)
    finally:
        bootstrap.set_deps(None)
    report(
        request,
        f"R6 upload events: {seen['events']} fuzzed events, 0 crashes; {seen['rejected_envelopes']} envelopes and "
        f"{seen['bad_records']} records rejected naming the field; {seen['jobs']} jobs",
    )


# ----- callbacks --------------------------------------------------------------------------------------------------
def notification_body(job_id: Any, status: Any, message_id: Any, wrap: str) -> str:
    inner = drop_none({"jobId": job_id, "jobStatus": status, "pipelineName": "autotranscode"})
    if wrap == "string":
        message_body: Any = json.dumps(inner)
    elif wrap == "object":
        message_body = inner
    else:
        message_body = wrap
    return json.dumps(drop_none({"messageBody": message_body, "messageId": message_id, "notification": "cb"}))


header_names = st.sampled_from(
    ["Content-Type", "Notification-Auth-Expire", "Notification-Auth-User", "Notification-Auth-Token", "X-Other"]
)
callback_bodies = st.one_of(
    st.builds(
        notification_body,
        maybe(st.sampled_from(["JOB_OURS", "job-unknown0000", ""])),
        maybe(st.sampled_from(["SUCCESS", "RUNNING", "FAILED", "bogus"])),
        maybe(st.text(max_size=12)),
        st.sampled_from(["string", "object", "{not json", "[]", "null"]),
    ),
    st.text(max_size=200),
    json_values.map(json.dumps),
)
proxy_events = st.builds(
    lambda body, b64, headers, token, extra_query, method, path, v2: (
        body,
        b64,
        headers,
        token,
        extra_query,
        method,
        path,
        v2,
    ),  # fmt: skip
    callback_bodies | st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    st.booleans(),
    st.dictionaries(header_names, st.text(max_size=30), max_size=4),
    st.one_of(st.just(URL_TOKEN), st.just(None), st.text(max_size=12)),
    st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=5), st.text(max_size=8), max_size=2),
    st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE"]),
    st.sampled_from(["/mct/callback", "/mct/callback/", "/stage/mct/callback", "/other", "/"]),
    st.booleans(),
)


def build_proxy_event(body, b64, headers, token, extra_query, method, path, v2, job_id) -> dict:
    body = body.replace("JOB_OURS", job_id)
    query = dict(extra_query)
    if token is not None:
        query["token"] = token
    raw = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode() if b64 else body
    if v2:
        return {"version": "2.0", "rawPath": path, "rawQueryString": "", "headers": headers,
                "queryStringParameters": query or None, "body": raw, "isBase64Encoded": b64,
                "requestContext": {"http": {"method": method, "path": path}, "stage": "$default"}}  # fmt: skip
    return {"resource": path, "path": path, "httpMethod": method, "headers": headers,
            "queryStringParameters": query or None, "body": raw, "isBase64Encoded": b64,
            "requestContext": {"stage": "$default"}}  # fmt: skip


@pytest.mark.parametrize("examples", EXAMPLES)
def test_r6_fuzzed_callbacks_never_5xx_and_rejections_say_why(request, examples):
    deps, mct = function_deps()
    ours = {"events": [{"eventId": "e", "content": {"bucket": BUCKET, "object": "incoming/a.mp4", "eTag": "abc"}}]}
    assert on_upload_handler(ours, None)["submitted"] == 3
    job_id = next(iter(mct.jobs))
    counts: dict[int, int] = {}

    @given(proxy_events)
    def prop(parts) -> None:
        event = build_proxy_event(*parts, job_id=job_id)
        answer = on_notification_handler(event, None)
        status = answer["statusCode"]
        counts[status] = counts.get(status, 0) + 1
        assert status < 500, (event, answer)
        if status >= 400:
            body = json.loads(answer["body"])
            assert body.get("message"), answer
            if status != 401:
                assert body.get("field"), answer  # names the field (401 says which credential is wrong)
        if status == 200 and parts[5] == "POST":
            assert json.loads(answer["body"])["status"] in ("recorded", "duplicate", "ignored"), answer

    try:
        run_property(prop, examples)
    finally:
        bootstrap.set_deps(None)
    report(
        request,
        f"R6 callbacks: {sum(counts.values())} fuzzed proxy events -> statuses {dict(sorted(counts.items()))}, "
        "0 x 5xx, every 400/404/405/413 names the field",
    )


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_r6_other_methods_on_the_callback_are_405_not_500(method):
    function_deps()
    try:
        event = build_proxy_event("{}", False, {}, URL_TOKEN, {}, method, "/mct/callback", False, job_id="job-x")
        answer = on_notification_handler(event, None)
    finally:
        bootstrap.set_deps(None)
    assert answer["statusCode"] == 405, answer
    assert "POST" in json.loads(answer["body"])["message"]


@pytest.fixture(scope="module")
def webhook(tmp_path_factory):
    from tests.reliability_support import make_cloud

    cloud = make_cloud(tmp_path_factory.mktemp("fuzz-webhook"), start=False, notify=None)
    yield cloud
    cloud.stop()


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda prefix, junk: prefix + junk, st.sampled_from([b'{"messageBody": "', b'{"messageId": "\xc3', b""]),
              st.binary(min_size=1, max_size=20)),
)  # fmt: skip


@pytest.mark.parametrize("examples", EXAMPLES)
def test_r6_fuzzed_raw_bodies_to_the_webhook_never_5xx(webhook, request, examples):
    import requests

    url = f"{webhook.callback_url}?token={URL_TOKEN}"
    counts: dict[int, int] = {}
    with requests.Session() as session:

        @given(raw_bodies)
        def prop(body: bytes) -> None:
            answer = session.post(url, data=body, timeout=30)
            counts[answer.status_code] = counts.get(answer.status_code, 0) + 1
            assert answer.status_code < 500, (body, answer.text)
            if answer.status_code >= 400:
                assert answer.json().get("field"), answer.text

        run_property(prop, examples)
    report(request, f"R6 raw webhook bodies: {sum(counts.values())} POSTs -> statuses {dict(sorted(counts.items()))}")


# ----- MCT API ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mct_server(tmp_path_factory):
    mct = running_mct(tmp_path_factory.mktemp("fuzz-mct"), buckets=("src", "dst"), start=False)
    mct.service.storage.put("src", "in.mp4", b"media")
    mct.service.backend.create_pipeline({"pipelineName": "p1", "sourceBucket": "src", "targetBucket": "dst"})
    yield mct
    mct.stop()


names = st.one_of(st.sampled_from(["p1", "p2x", "bce.video_mp4_640x360_600kbps", "cb1"]), st.text(max_size=12))
object_keys = st.one_of(st.sampled_from(["in.mp4", "../in.mp4", "out/x.mp4", "", "a//b"]), st.text(max_size=12))
video = st.fixed_dictionaries(
    {}, optional={"codec": maybe(st.sampled_from(["h264", "h265", "vp9"])), "bitRateInKbps": maybe(st.integers()),
                  "maxFrameRate": maybe(st.floats(allow_nan=False)), "maxWidthInPixel": maybe(st.integers()),
                  "maxHeightInPixel": maybe(st.integers()), "sizingPolicy": maybe(st.sampled_from(["keep", "x"]))},
)  # fmt: skip
MCT_REQUESTS = {
    ("POST", "/v3/job/transcoding"): st.fixed_dictionaries(
        {}, optional={"pipelineName": maybe(names), "source": maybe(st.fixed_dictionaries(
            {}, optional={"sourceKey": maybe(object_keys), "clips": maybe(st.lists(st.fixed_dictionaries(
                {}, optional={"sourceKey": maybe(object_keys), "startTimeInSecond": maybe(st.integers()),
                              "durationInSecond": maybe(st.integers())}), max_size=2))})),
                      "target": maybe(st.fixed_dictionaries({}, optional={
                          "targetKey": maybe(object_keys), "presetName": maybe(names),
                          "targetBucket": maybe(st.sampled_from(["dst", "nope", ""])),
                          "jobCfg": maybe(st.fixed_dictionaries({}, optional={"notification": maybe(names)}))}))},
    ),
    ("POST", "/v3/job/thumbnail"): st.fixed_dictionaries(
        {}, optional={"pipelineName": maybe(names), "source": maybe(st.fixed_dictionaries(
            {}, optional={"key": maybe(object_keys)})),
                      "target": maybe(st.fixed_dictionaries({}, optional={
                          "keyPrefix": maybe(object_keys), "format": maybe(st.sampled_from(["jpg", "png", "bmp"])),
                          "widthInPixel": maybe(st.integers()), "heightInPixel": maybe(st.integers())})),
                      "capture": maybe(st.fixed_dictionaries({}, optional={
                          "mode": maybe(st.sampled_from(["auto", "manual", "split", "idl"])),
                          "startTimeInSecond": maybe(st.integers()), "endTimeInSecond": maybe(st.integers()),
                          "intervalInSecond": maybe(st.integers()), "frameNumber": maybe(st.integers())}))},
    ),
    ("POST", "/v3/pipeline"): st.fixed_dictionaries(
        {}, optional={"pipelineName": maybe(names), "sourceBucket": maybe(st.sampled_from(["src", "nope"])),
                      "targetBucket": maybe(st.sampled_from(["dst", ""])), "description": maybe(st.text(max_size=200)),
                      "config": maybe(st.fixed_dictionaries({}, optional={"capacity": maybe(st.integers()),
                                                                            "notification": maybe(names)}))},
    ),
    ("POST", "/v3/preset"): st.fixed_dictionaries(
        {}, optional={"presetName": maybe(names), "container": maybe(st.sampled_from(["mp4", "hls", "avi"])),
                      "transmux": maybe(st.booleans()), "video": maybe(video),
                      "audio": maybe(st.fixed_dictionaries({}, optional={"bitRateInBps": maybe(st.integers()),
                                                                          "channels": maybe(st.integers())})),
                      "clip": maybe(st.fixed_dictionaries({}, optional={"startTimeInSecond": maybe(st.integers())}))},
    ),
    ("POST", "/v3/notification"): st.fixed_dictionaries(
        {}, optional={"name": maybe(names), "endpoint": maybe(st.sampled_from(["http://127.0.0.1:9/cb", "ftp://x",
                                                                                 "not a url"]))},
    ),
}  # fmt: skip
# Names an MCT 400 may point at (required fields are not in the body when they are missing).
MCT_FIELDS = ("pipelineName", "presetName", "source", "target", "key", "name", "capture", "endpoint", "sourceBucket",
              "targetBucket", "config", "container", "video", "audio", "transmux", "JSON")  # fmt: skip
mct_requests = st.sampled_from(sorted(MCT_REQUESTS)).flatmap(
    lambda route: st.tuples(st.just(route), MCT_REQUESTS[route] | json_values)
)
mct_queries = st.tuples(
    st.sampled_from(["/v3/job/transcoding", "/v3/job/thumbnail", "/v3/mediainfo", "/v3/job/transcoding/job-x"]),
    st.dictionaries(st.sampled_from(["pipelineName", "jobStatus", "begin", "end", "bucket", "key"]),
                    st.text(max_size=25) | st.sampled_from(["p1", "RUNNING", "2026-11-23T00:00:00Z", "src", "in.mp4"]),
                    max_size=4),
)  # fmt: skip


def check_bce_error(resp, what) -> None:
    assert resp.status_code < 500, (what, resp.status_code, resp.text[:300])
    if resp.status_code >= 400:
        error = resp.json()
        assert set(error) >= {"requestId", "code", "message"}, (what, error)
        assert error["code"] and error["message"], (what, error)


@pytest.mark.parametrize("examples", EXAMPLES)
def test_r6_fuzzed_mct_api_requests_never_5xx(mct_server, request, examples):
    base = mct_server.server.url
    counts: dict[int, int] = {}

    @given(mct_requests)
    def post(case) -> None:
        (method, path), body = case
        if not isinstance(body, dict):  # the wire also gets JSON that is not an object
            body = {"_": body}
        resp = signed_request(base, method, path, body)
        counts[resp.status_code] = counts.get(resp.status_code, 0) + 1
        check_bce_error(resp, (path, body))
        if resp.status_code == 400:
            message = resp.json()["message"]
            mentioned = [k for k in (*_all_keys(body), *MCT_FIELDS) if k and k in message]
            assert mentioned, (path, body, message)

    @given(mct_queries)
    def get(case) -> None:
        path, params = case
        resp = signed_request(base, "GET", path, params=params)
        counts[resp.status_code] = counts.get(resp.status_code, 0) + 1
        check_bce_error(resp, (path, params))

    started = time.monotonic()
    run_property(post, examples)
    run_property(get, max(10, examples // 2))
    report(request, f"R6 MCT API: {sum(counts.values())} fuzzed requests -> statuses {dict(sorted(counts.items()))}, "
                    f"0 x 5xx, every 400 names a field, {time.monotonic() - started:.1f} s")  # fmt: skip


def _all_keys(value) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k in value] + [k for v in value.values() for k in _all_keys(v)]
    if isinstance(value, list):
        return [k for v in value for k in _all_keys(v)]
    return []


# ----- BOS API ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bos_server(tmp_path_factory):
    service = BosService(tmp_path_factory.mktemp("fuzz-bos") / "data")
    service.storage.create_bucket(BUCKET, exist_ok=True)
    server = serve_in_thread(service.app)
    yield service, server
    server.stop()


bos_keys = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=30),
    st.sampled_from(["a.mp4", "../a", "a/../b", "a//b", "./a", "a/", "%2e%2e/a", "a\\b", "x" * 1100]),
)
bos_headers = st.dictionaries(
    st.sampled_from(["content-type", "content-md5", "x-bce-meta-a", "range", "x-bce-copy-source", "x-bce-acl"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    max_size=3,
)
bos_params = st.dictionaries(
    st.sampled_from(["append", "offset", "partNumber", "uploadId", "uploads", "maxKeys", "prefix", "marker"]),
    st.text(string.ascii_letters + string.digits + "-", max_size=6),
    max_size=2,
)


@pytest.mark.parametrize("examples", EXAMPLES)
def test_r6_fuzzed_bos_requests_never_5xx(bos_server, request, examples):
    service, server = bos_server
    base = server.url
    counts: dict[int, int] = {}
    outside = sorted(p.name for p in service.storage.data_dir.parent.iterdir())

    @given(st.sampled_from(["PUT", "GET", "HEAD", "DELETE", "POST"]), st.sampled_from([BUCKET, "nope", "UP"]),
           bos_keys, bos_headers, bos_params, st.binary(max_size=64))  # fmt: skip
    def prop(method, bucket, key, headers, params, body) -> None:
        if "\x00" in key or any(ord(c) < 32 for c in key):
            key = key.replace("\x00", "")  # http.client refuses control characters in the request line
            key = "".join(c for c in key if ord(c) >= 32)
        raw_path = f"/{bucket}/" + quote(key, safe="/~")
        decoded = f"/{bucket}/{key}"
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in params.items())
        sent = {"host": urlsplit(base).netloc, "content-length": str(len(body)), **headers,
                "x-bce-date": bce_auth.format_timestamp(time.time())}  # fmt: skip
        # Fuzzed x-bce-*/content-* headers are in the default signed set: sign after adding them.
        sent["authorization"] = bce_auth.sign(
            DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, method, decoded, list(params.items()), sent
        )
        status, raw = raw_request(base, method, raw_path + (f"?{query}" if query else ""), body, sent)
        counts[status] = counts.get(status, 0) + 1
        assert status < 500, (method, raw_path, params, headers, raw[:300])
        if status >= 400 and method != "HEAD":
            error = json.loads(raw)
            assert error.get("code") and error.get("message"), error

    run_property(prop, examples)
    assert sorted(p.name for p in service.storage.data_dir.parent.iterdir()) == outside  # nothing escaped
    report(request, f"R6 BOS API: {sum(counts.values())} fuzzed requests -> statuses {dict(sorted(counts.items()))}, "
                    "0 x 5xx, every error has a code and a message")  # fmt: skip
