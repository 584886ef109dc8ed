"""CFC pieces without processes: template parsing and validation, trigger matching, routes, proxy responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.cfc.http_trigger import canonical_header, compile_route, proxy_response
from localcloud.cfc.template import HttpTrigger, TemplateError, load_template, parse_template

TEMPLATE = Path(__file__).resolve().parents[3] / "fixtures" / "cfc_app" / "template.yaml"


def test_fixture_template_parsed_with_globals():
    fns = load_template(TEMPLATE)
    assert set(fns) == {"Echo", "Proxy", "Upload", "Copies", "EnvOne", "EnvTwo", "Slow", "Flaky"}
    one = fns["EnvOne"]
    assert one.environment == {"SHARED": "from-globals", "VAR": "one", "ONLY_ONE": "1"}
    assert one.timeout_s == 10 and one.memory_mb == 128 and one.code_dir == TEMPLATE.parent
    assert fns["Slow"].timeout_s == 1 and fns["EnvTwo"].memory_mb == 256
    mp4, mov = fns["Upload"].bos_triggers
    assert (mp4.bucket, mp4.prefix, mp4.suffix) == ("media", "uploads/", ".mp4")
    assert mp4.event_types == ("PutObject", "CompleteMultipartUpload") and mov.event_types == ("PutObject",)
    assert fns["Proxy"].http_triggers[0].methods == ("POST", "PUT")
    assert len(fns["Echo"].http_triggers[1].methods) == 7  # ANY


def test_trigger_matching():
    trigger = load_template(TEMPLATE)["Upload"].bos_triggers[0]
    assert trigger.matches("media", "uploads/a.mp4", "PutObject")
    assert not trigger.matches("media", "uploads/a.mp4", "CopyObject")
    assert not trigger.matches("media", "other/a.mp4", "PutObject")
    assert not trigger.matches("media", "uploads/a.MP4", "PutObject")
    assert not trigger.matches("other", "uploads/a.mp4", "PutObject")


def _doc(props: dict, events: dict | None = None) -> dict:
    base = {"Handler": "index.handler", "Runtime": "python3", "CodeUri": "./"}
    base.update(props)
    if events:
        base["Events"] = events
    return {"Resources": {"Fn": {"Type": "BCE::Serverless::Function", "Properties": base}}}


@pytest.mark.parametrize(
    "props,events,message",
    [
        ({"Handler": "nodot"}, None, "Handler 'nodot'"),
        ({"Runtime": "nodejs12"}, None, "Runtime 'nodejs12'"),
        ({"CodeUri": "missing-dir/"}, None, "CodeUri 'missing-dir/'"),
        ({"Timeout": 900}, None, "Timeout 900"),
        ({"MemorySize": "lots"}, None, "MemorySize 'lots'"),
        ({}, {"E": {"Type": "BOS", "Properties": {"EventTypes": ["PutObject"]}}}, "Bucket None"),
        ({}, {"E": {"Type": "BOS", "Properties": {"Bucket": "b", "EventTypes": ["Put"]}}}, "EventTypes value 'Put'"),
        ({}, {"E": {"Type": "HTTP", "Properties": {"ResourcePath": "x", "Method": "GET"}}}, "ResourcePath 'x'"),
        ({}, {"E": {"Type": "HTTP", "Properties": {"ResourcePath": "/x", "Method": "FETCH"}}}, "Method 'FETCH'"),
        ({}, {"E": {"Type": "HTTP", "Properties": {"ResourcePath": "/{a+}/b", "Method": "GET"}}}, "greedy"),
        (
            {},
            {"E": {"Type": "HTTP", "Properties": {"ResourcePath": "/x", "Method": "GET", "AuthType": "key"}}},
            "AuthType 'key'",
        ),
    ],
)
def test_template_errors_name_field_and_value(tmp_path, props, events, message):
    with pytest.raises(TemplateError, match="function Fn") as exc:
        parse_template(_doc(props, events), tmp_path)
    assert message in str(exc.value)


def test_no_functions_and_tags_tolerated(tmp_path):
    with pytest.raises(TemplateError, match="no function"):
        parse_template({"Resources": {"B": {"Type": "Other"}}}, tmp_path)
    (tmp_path / "t.yaml").write_text(
        "Resources:\n  Fn:\n    Type: BCE::Serverless::Function\n    Properties:\n"
        "      Handler: a.b\n      CodeUri: ./\n      Environment:\n        Variables:\n"
        "          REF: !Ref Something\n          FLAG: true\n"
    )
    fn = load_template(tmp_path / "t.yaml")["Fn"]
    assert fn.environment == {"REF": "Something", "FLAG": "true"}


def test_routes():
    route = compile_route("F", HttpTrigger("t", "/users/{id}/files/{rest+}", ("GET",)))
    m = route.pattern.match("/users/42/files/a/b/c.txt")
    assert {route.params[g]: v for g, v in m.groupdict().items()} == {"id": "42", "rest": "a/b/c.txt"}
    assert route.pattern.match("/users/42/files/") is None
    assert compile_route("F", HttpTrigger("t", "/webhooks/mct", ("POST",))).pattern.match("/webhooks/mct/")


def test_canonical_header():
    assert canonical_header("x-bce-request-id") == "X-Bce-Request-Id"
    assert canonical_header("content-type") == "Content-Type"


def test_proxy_response_mapping():
    resp = proxy_response("F", {"statusCode": 204, "headers": {"X-A": "1"}}, "rid")
    assert resp.status_code == 204 and resp.body == b"" and resp.headers["x-a"] == "1"
    resp = proxy_response("F", {"statusCode": "200", "body": {"a": 1}}, "rid")
    assert json.loads(resp.body) == {"a": 1} and resp.headers["content-type"] == "application/json"
    assert proxy_response("F", None, "rid").status_code == 502
    assert proxy_response("F", {"statusCode": "x"}, "rid").status_code == 502
    assert proxy_response("F", {"statusCode": 200, "body": "%%", "isBase64Encoded": True}, "rid").status_code == 502


def test_crontab_trigger_from_metadata(tmp_path):
    doc = _doc({})
    doc["Resources"]["Fn"]["Metadata"] = {"autotranscode": {"Crontab": {"Name": "every-5", "ScheduleExpression":
                                                                       "cron(*/5 * * * ?)"}}}  # fmt: skip
    [cron] = parse_template(doc, tmp_path)["Fn"].crontab_triggers
    assert (cron.name, cron.schedule) == ("every-5", "cron(*/5 * * * ?)")
    doc["Resources"]["Fn"]["Metadata"]["autotranscode"]["Crontab"]["ScheduleExpression"] = "0 */5 * * * *"
    with pytest.raises(TemplateError, match=r"ScheduleExpression '0 \*/5 \* \* \* \*' is not CFC's format"):
        parse_template(doc, tmp_path)
