import json
import logging
from types import SimpleNamespace

from handlers.logs import RedactingFilter, logger, redact, register_secret
from handlers.wire.cfc_context import adapt_context
from handlers.wire.downstream import downstream_headers, sign_downstream, verify_downstream_signature

BODY = '{"type":"autotranscode.upload.done"}'


def test_downstream_signature_roundtrip_and_tampering():
    headers = downstream_headers("sec", BODY, timestamp=1_700_000_000)
    assert headers["X-Autotranscode-Signature"].startswith("v1=")
    assert verify_downstream_signature("sec", headers, BODY, now=1_700_000_100)
    assert verify_downstream_signature("sec", {k.lower(): v for k, v in headers.items()}, BODY.encode(),
                                       now=1_700_000_100)  # fmt: skip
    assert not verify_downstream_signature("sec", headers, BODY + " ", now=1_700_000_100)
    assert not verify_downstream_signature("nope", headers, BODY, now=1_700_000_100)
    assert not verify_downstream_signature("sec", headers, BODY, now=1_700_000_000 + 301)
    assert not verify_downstream_signature("sec", {}, BODY, now=1_700_000_000)
    bad_ts = dict(headers, **{"X-Autotranscode-Timestamp": "abc"})
    assert not verify_downstream_signature("sec", bad_ts, BODY, now=1_700_000_000)


def test_signature_rotation_accepts_any_listed_signature():
    ts = 1_700_000_000
    headers = {
        "X-Autotranscode-Timestamp": str(ts),
        "X-Autotranscode-Signature": f"{sign_downstream('old', BODY, ts)},{sign_downstream('new', BODY, ts)}",
    }
    assert verify_downstream_signature("new", headers, BODY, now=ts)


def test_no_secret_means_no_signature_header():
    assert "X-Autotranscode-Signature" not in downstream_headers(None, BODY)


class FullContext:
    request_id = "req-1"
    function_name = "OnUpload"
    function_version = "3"
    function_brn = "brn:bce:cfc:bj:acct:function:OnUpload:3"
    memory_limit_in_mb = "256"

    def get_remaining_time_in_millis(self):
        return 1234


def test_cfc_context_adapter_full():
    ctx = adapt_context(FullContext())
    assert (ctx.aws_request_id, ctx.function_name, ctx.function_version) == ("req-1", "OnUpload", "3")
    assert ctx.invoked_function_arn.startswith("brn:bce:cfc") and ctx.memory_limit_in_mb == 256
    assert ctx.get_remaining_time_in_millis() == 1234


def test_cfc_context_adapter_tolerates_missing_and_none():
    for raw in (None, object(), SimpleNamespace(request_id=None, function_name=None, memory_limit_in_mb="x",
                                                get_remaining_time_in_millis=None)):  # fmt: skip
        ctx = adapt_context(raw)
        assert ctx.function_name and ctx.aws_request_id and ctx.memory_limit_in_mb == 128
        assert 0 < ctx.get_remaining_time_in_millis() <= 300_000


def test_powertools_accepts_the_adapter(log_output):
    @logger.inject_lambda_context
    def fn(event, context):
        logger.info("hello")
        return 1

    assert fn({}, adapt_context(FullContext())) == 1
    line = json.loads(log_output.getvalue().strip().splitlines()[-1])
    assert line["function_request_id"] == "req-1" and line["function_name"] == "OnUpload"


def test_secrets_are_redacted(log_output):
    register_secret("super-secret-value")
    assert redact("x super-secret-value y") == "x *** y"
    assert redact("http://h/cb?token=abc123&x=1") == "http://h/cb?token=***&x=1"
    logger.info("sk is super-secret-value", extra={"authorization": "bce-auth-v1/...", "detail": "super-secret-value"})
    out = log_output.getvalue()
    assert "super-secret-value" not in out and "bce-auth-v1" not in out and "***" in out


def test_filter_handles_printf_args():
    record = logging.LogRecord("x", logging.INFO, "f", 1, "key=%s", ("super-secret-value",), None)
    register_secret("super-secret-value")
    RedactingFilter().filter(record)
    assert record.getMessage() == "key=***"


def test_cfc_context_as_a_dict_is_read_like_an_object():
    # [UNVERIFIED] CFC documents its Python context as "usually a dict"; EasyFaaS passes `requestid`.
    ctx = adapt_context({"requestid": "req-dict", "function_name": "OnUpload", "memory_limit_in_mb": "256"})
    assert (ctx.aws_request_id, ctx.function_name, ctx.memory_limit_in_mb) == ("req-dict", "OnUpload", 256)
    camel = adapt_context({"requestId": "req-camel", "functionName": "OnNotification"})
    assert (camel.aws_request_id, camel.function_name) == ("req-camel", "OnNotification")
