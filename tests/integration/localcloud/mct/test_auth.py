"""bce-auth-v1 on the MCT service and the BCE error shape, with raw HTTP for forged/expired requests."""

from __future__ import annotations

import time

import pytest
import requests
from baidubce.exception import BceHttpClientError

from localcloud import bce_auth
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.mct.testing import media_client, running_mct


@pytest.fixture
def mct(tmp_path):
    with running_mct(tmp_path, start=False, buckets=("src", "dst")) as running:
        yield running


def signed_get(mct, path, params=(), timestamp=None, sk=DEFAULT_SECRET_KEY, ak=DEFAULT_ACCESS_KEY, signed=None,
               sign_path=None, extra_headers=None):  # fmt: skip
    host = mct.server.endpoint
    headers = {"host": host, "x-bce-date": bce_auth.format_timestamp(timestamp or time.time())}
    headers.update(extra_headers or {})
    auth = bce_auth.sign(ak, sk, "GET", sign_path or path, list(params), headers, timestamp=timestamp,
                         signed_headers=signed)  # fmt: skip
    return requests.get(f"{mct.server.url}{path}", params=list(params), headers={**headers, "Authorization": auth},
                        timeout=10)  # fmt: skip


def assert_bce_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"requestId", "code", "message"}
    assert body["code"] == code and body["message"]
    assert response.headers["x-bce-request-id"] == body["requestId"]
    assert int(response.headers["content-length"]) == len(response.content)
    return body


def test_valid_raw_request_and_headers(mct):
    response = signed_get(mct, "/v3/pipeline")
    assert response.status_code == 200
    assert response.json() == {"pipelines": []}
    assert response.headers["x-bce-request-id"]
    assert response.headers["content-type"].startswith("application/json")
    assert int(response.headers["content-length"]) == len(response.content)


def test_explicit_signed_headers_like_go_sdk(mct):
    response = signed_get(mct, "/v3/preset", signed=["host", "x-bce-date"])
    assert response.status_code == 200 and response.json()["presets"]


def test_request_without_x_bce_date_like_java_sdk(mct):
    ts = time.time()
    headers = {"host": mct.server.endpoint, "date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))}
    auth = bce_auth.sign(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, "GET", "/v3/pipeline", [], headers, timestamp=ts)
    response = requests.get(f"{mct.server.url}/v3/pipeline", headers={**headers, "Authorization": auth}, timeout=10)
    assert response.status_code == 200


def test_wrong_secret_key_with_sdk(mct):
    client = media_client(mct.server.endpoint, secret_key="not-the-secret")
    with pytest.raises(BceHttpClientError) as info:
        client.list_pipelines()
    assert info.value.last_error.code == "SignatureDoesNotMatch"
    assert info.value.last_error.status_code == 400


def test_unknown_access_key_with_sdk(mct):
    client = media_client(mct.server.endpoint, access_key="who-is-this")
    with pytest.raises(BceHttpClientError) as info:
        client.list_pipelines()
    assert (info.value.last_error.code, info.value.last_error.status_code) == ("InvalidAccessKeyId", 403)


def test_forged_signature_for_another_path(mct):
    response = signed_get(mct, "/v3/notification", sign_path="/v3/pipeline")
    assert_bce_error(response, 400, "SignatureDoesNotMatch")


def test_forged_query_parameter(mct):
    mct.client.create_pipeline("p1", "src", "dst")
    host = mct.server.endpoint
    headers = {"host": host, "x-bce-date": bce_auth.format_timestamp(time.time())}
    auth = bce_auth.sign(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, "GET", "/v3/job/transcoding",
                         [("pipelineName", "p1")], headers)  # fmt: skip
    response = requests.get(f"{mct.server.url}/v3/job/transcoding", params={"pipelineName": "p2"},
                            headers={**headers, "Authorization": auth}, timeout=10)  # fmt: skip
    assert_bce_error(response, 400, "SignatureDoesNotMatch")


def test_expired_signature(mct):
    response = signed_get(mct, "/v3/pipeline", timestamp=time.time() - 3600)
    assert_bce_error(response, 400, "RequestExpired")


def test_missing_and_malformed_authorization(mct):
    response = requests.get(f"{mct.server.url}/v3/pipeline", timeout=10)
    assert_bce_error(response, 403, "AccessDenied")
    response = requests.get(f"{mct.server.url}/v3/pipeline", headers={"Authorization": "Bearer x"}, timeout=10)
    assert_bce_error(response, 400, "InvalidHTTPAuthHeader")


def test_unknown_route_and_method_have_bce_bodies(mct):
    assert_bce_error(signed_get(mct, "/v3/nothing-here"), 404, "InvalidURI")
    host = mct.server.endpoint
    headers = {"host": host, "x-bce-date": bce_auth.format_timestamp(time.time()), "content-length": "0"}
    auth = bce_auth.sign(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, "DELETE", "/v3/mediainfo", [], headers)
    response = requests.delete(f"{mct.server.url}/v3/mediainfo", headers={**headers, "Authorization": auth}, timeout=10)
    assert_bce_error(response, 405, "MethodNotAllowed")


def test_malformed_json_body(mct):
    body = b"{not json"
    headers = {
        "host": mct.server.endpoint,
        "content-type": "application/json; charset=utf-8",
        "content-length": str(len(body)),
        "x-bce-date": bce_auth.format_timestamp(time.time()),
    }
    auth = bce_auth.sign(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, "POST", "/v3/pipeline", [], headers)
    response = requests.post(f"{mct.server.url}/v3/pipeline", data=body, headers={**headers, "Authorization": auth},
                             timeout=10)  # fmt: skip
    body = assert_bce_error(response, 400, "MalformedJSON")
    assert body["message"].startswith("Could not read JSON")


def test_pipeline_names_with_percent_encoded_keys_in_mediainfo_query(mct):
    """The SDK percent-encodes `/` and spaces in the key; the signature must still verify."""
    mct.service.storage.put("src", "dir/a b.txt", b"not media")
    with pytest.raises(BceHttpClientError) as info:
        mct.client.get_mediainfo_of_file("src", "dir/a b.txt")
    assert info.value.last_error.code == "MetaInfoExceptions.GetMediaInfoFailed"
