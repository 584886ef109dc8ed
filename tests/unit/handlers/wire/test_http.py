"""handlers.wire.http: CFC / API-gateway v1 / v2 events -> HttpRequest, and the JSON answer."""

import base64
import json

import pytest

from handlers.wire.http import HttpRequest, NotAnHttpEvent, json_response, request_from_event


def test_v1_event():
    event = {"httpMethod": "post", "path": "/mct/callback", "headers": {"X-A": "1"},
             "queryStringParameters": {"token": "t"}, "body": "{}", "isBase64Encoded": False}  # fmt: skip
    assert request_from_event(event) == HttpRequest("POST", "/mct/callback", {"X-A": "1"}, {"token": "t"}, "{}")


def test_v1_event_with_nulls_from_cfc():
    event = {"httpMethod": "GET", "path": None, "headers": None, "queryStringParameters": None, "body": None}
    assert request_from_event(event) == HttpRequest("GET", "/", {}, {}, "")


def test_v2_event_base64_and_raw_query():
    body = base64.b64encode('{"a": "é"}'.encode()).decode()
    event = {"version": "2.0", "rawPath": "/prod/mct/callback", "rawQueryString": "token=a%2Bb",
             "requestContext": {"http": {"method": "POST"}}, "body": body, "isBase64Encoded": True}  # fmt: skip
    req = request_from_event(event)
    assert (req.method, req.path, req.query, req.body) == ("POST", "/prod/mct/callback", {"token": "a+b"}, '{"a": "é"}')


@pytest.mark.parametrize("body", ["%%%not-base64", base64.b64encode(b"\xff\xfe").decode()])
def test_undecodable_base64_body_is_none(body):
    req = request_from_event({"httpMethod": "POST", "path": "/", "body": body, "isBase64Encoded": True})
    assert req.body is None


@pytest.mark.parametrize("event", [{"foo": 1}, [], "text", None])
def test_not_an_http_event_names_the_field(event):
    with pytest.raises(NotAnHttpEvent) as info:
        request_from_event(event)
    assert "httpMethod" in str(info.value) or "JSON object" in str(info.value)


def test_json_response():
    resp = json_response(404, {"error": "not_found"})
    assert resp["statusCode"] == 404 and resp["headers"]["Content-Type"] == "application/json"
    assert json.loads(resp["body"]) == {"error": "not_found"} and resp["isBase64Encoded"] is False
