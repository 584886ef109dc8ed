"""CFC HTTP triggers over real HTTP: event shape, path parameters, method matching, proxy response mapping."""

from __future__ import annotations

import base64
import http.client
import json
import time
from urllib.parse import quote

import pytest

from localcloud import bce_auth
from localcloud.cfc import CfcRuntime
from localcloud.serve import serve_in_thread
from tests.integration.localcloud.cfc.test_runtime import TEMPLATE, Logs


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    rt = CfcRuntime(TEMPLATE, {"OUT_DIR": "/nonexistent"}, tmp_path_factory.mktemp("cfc"), log_sink=Logs())
    rt.start()
    srv = serve_in_thread(rt.http_app)
    srv.runtime = rt
    yield srv
    srv.stop()
    rt.stop()


def call(server, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def test_event_shape_for_path_parameter(server):
    status, headers, data = call(
        server, "POST", "/echo/ann?x=1&y=two", b'{"hello": "world"}', {"Content-Type": "application/json"}
    )
    assert status == 200 and headers["x-echo"] == "yes"
    body = json.loads(data)
    assert body["greeting"] == "hello" and body["function"] == "Echo"
    event = body["event"]
    assert set(event) == {
        "resource", "path", "httpMethod", "headers", "queryStringParameters", "pathParameters",
        "requestContext", "body", "isBase64Encoded",
    }  # fmt: skip
    assert event["resource"] == "/echo/{name}" and event["path"] == "/echo/ann" and event["httpMethod"] == "POST"
    assert event["queryStringParameters"] == {"x": "1", "y": "two"}
    assert event["pathParameters"] == {"name": "ann"}
    assert event["body"] == '{"hello": "world"}' and event["isBase64Encoded"] is False
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["headers"]["X-Bce-Request-Id"] == event["requestContext"]["requestId"]
    assert event["requestContext"]["resourcePath"] == "/echo/{name}"
    assert event["requestContext"]["sourceIp"] == "127.0.0.1"


def test_literal_route_beats_parameter_and_greedy_proxy(server):
    _s, _h, data = call(server, "GET", "/echo/special")
    assert json.loads(data)["event"]["resource"] == "/echo/special"
    key = "a b/c/视频.mp4"
    _s, _h, data = call(server, "DELETE", "/files/" + quote(key))
    event = json.loads(data)["event"]
    assert event["pathParameters"] == {"path": key} and event["resource"] == "/files/{path+}"


def test_method_and_path_mismatch(server):
    status, headers, _ = call(server, "DELETE", "/echo/ann")
    assert status == 405 and "GET" in headers["allow"]
    status, _h, _ = call(server, "GET", "/nothing/here")
    assert status == 404


def test_binary_request_body_is_base64_and_status_is_mapped(server):
    raw = bytes(range(256))
    status, _h, data = call(server, "PUT", "/api/v1/thing", raw)
    assert status == 418
    assert data == raw  # the function echoed the base64 body with isBase64Encoded: true


def test_base64_response_body_decoded(server):
    status, headers, data = call(server, "POST", "/api/x?mode=binary")
    assert status == 201 and headers["content-type"] == "image/png"
    assert data == base64.b64decode("AAEC/w==")


def test_malformed_proxy_response_and_errors(server):
    status, _h, data = call(server, "POST", "/api/x?mode=bad")
    assert status == 502 and b"statusCode" in data
    status, _h, data = call(server, "POST", "/api/x?mode=raise")
    assert status == 502 and b"proxy exploded" in data


def test_invoke_api(server):
    status, headers, data = call(server, "POST", "/v1/functions/EnvOne/invocations", b"{}")
    assert status == 200 and json.loads(data)["VAR"] == "one"
    status, _h, data = call(server, "POST", "/v1/functions/Nope/invocations", b"{}")
    assert status == 404


def test_iam_trigger_needs_signature(tmp_path):
    (tmp_path / "t.yaml").write_text(
        TEMPLATE.read_text()
        .replace("AuthType: anonymous", "AuthType: iam")
        .replace("CodeUri: ./", f"CodeUri: {TEMPLATE.parent}")
    )
    rt = CfcRuntime(tmp_path / "t.yaml", None, tmp_path / "d", log_sink=Logs(), credentials={"ak": "sk"})
    srv = serve_in_thread(rt.http_app)
    try:
        status, _h, _ = call(srv, "GET", "/echo/ann")
        assert status == 403
        now = bce_auth.format_timestamp(time.time())
        headers = {"host": srv.endpoint, "content-length": "0", "x-bce-date": now}
        headers["authorization"] = bce_auth.sign("ak", "sk", "GET", "/echo/ann", [], headers)
        status, _h, _ = call(srv, "GET", "/echo/ann", headers=headers)
        assert status == 200
    finally:
        srv.stop()
        rt.stop()
