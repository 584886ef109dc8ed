"""localcloud's CFC API driven by bce-python-sdk's own CfcClient: functions, code, configuration, triggers and
invocation, all signed with bce-auth-v1; deployed functions really run (HTTP and BOS triggers)."""

from __future__ import annotations

import base64
import http.client
import io
import json
import time
import zipfile
from pathlib import Path

import pytest
from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.exception import BceHttpClientError, BceServerError
from baidubce.retry.retry_policy import NoRetryPolicy
from baidubce.services.cfc import models
from baidubce.services.cfc.cfc_client import CfcClient

from localcloud.stack import LocalStack

APP = Path(__file__).resolve().parents[3] / "fixtures" / "cfc_app" / "app"


def app_zip(extra: dict[str, str] | None = None) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in APP.glob("*.py"):
            if f"app/{path.name}" not in (extra or {}):
                zf.write(path, f"app/{path.name}")
        for name, text in (extra or {}).items():
            zf.writestr(name, text)
    return base64.b64encode(buf.getvalue()).decode()


def cfc(stack, secret=None) -> CfcClient:
    creds = BceCredentials(stack.access_key, secret or stack.secret_key)
    return CfcClient(BceClientConfiguration(credentials=creds, endpoint=stack.cfc_url, retry_policy=NoRetryPolicy()))


@pytest.fixture
def stack(tmp_path):
    s = LocalStack(tmp_path / "data", None, bos_port=0, mct_port=0, cfc_port=0, with_mct=False,
                   log_sink=lambda fn, line: None)  # fmt: skip
    s.start()
    yield s
    s.stop()


def api_error(call) -> BceServerError:
    """The server's error: with retries off the SDK wraps it in BceHttpClientError (``last_error``)."""
    with pytest.raises((BceServerError, BceHttpClientError)) as exc:
        call()
    error = getattr(exc.value, "last_error", exc.value)
    assert isinstance(error, BceServerError), exc.value
    return error


def invoke(client, name, event):
    response = client.invocations(name, body=event)
    return response.status, response.getheader("x-bce-function-error"), json.loads(response.read() or b"null")


def post(stack, path, body=b"{}", headers=None):
    conn = http.client.HTTPConnection(stack.cfc_url.removeprefix("http://"), timeout=20)
    conn.request("POST", path, body=body, headers=headers or {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.read()


def test_function_lifecycle_and_signed_invocation(stack):
    client = cfc(stack)
    created = client.create_function("Echo", handler="app.fns.echo", run_time="python3.10", timeout=10,
                                     memory_size=256, environment={"GREETING": "hi"}, zip_file=app_zip())  # fmt: skip
    assert created.FunctionBrn.endswith(":function:Echo:$LATEST") and created.Runtime == "python3.10"
    config = client.get_function_configuration("Echo")
    assert (config.Handler, config.MemorySize, config.Timeout) == ("app.fns.echo", 256, 10)
    assert config.CodeSha256 == created.CodeSha256
    assert [f.FunctionName for f in client.list_functions().Functions] == ["Echo"]

    status, error, result = invoke(client, "Echo", {"n": 1})
    assert status == 200 and error is None
    assert json.loads(result["body"])["greeting"] == "hi" and json.loads(result["body"])["event"] == {"n": 1}

    # unsigned, or signed with the wrong secret: refused before the function runs
    status, body = post(stack, "/v1/functions/Echo/invocations")
    assert status == 403 and json.loads(body)["code"] == "AccessDenied"
    error = api_error(lambda: cfc(stack, secret="wrong").get_function("Echo"))
    assert error.status_code == 400 and error.code == "SignatureDoesNotMatch"

    # configuration and code updates take effect for the next invocation
    client.update_function_configuration("Echo", environment={"GREETING": "hello again"})
    assert json.loads(invoke(client, "Echo", {})[2]["body"])["greeting"] == "hello again"
    client.update_function_code("Echo", zip_file=app_zip({"app/fns.py": "def echo(e, c):\n    return 'v2'\n"}))
    assert invoke(client, "Echo", {})[2] == "v2"
    assert client.get_function_configuration("Echo").CodeSha256 != created.CodeSha256

    client.delete_function("Echo")
    error = api_error(lambda: client.get_function("Echo"))
    assert error.status_code == 404 and "Echo" in str(error)


def test_errors_name_the_field_and_value(stack):
    client = cfc(stack)
    error = api_error(lambda: client.create_function("F", handler="app.fns.echo", run_time="nodejs12",
                                                     zip_file=app_zip()))  # fmt: skip
    assert error.status_code == 400 and "Runtime 'nodejs12'" in str(error)
    error = api_error(lambda: client.create_function("F", handler="app.fns.echo", run_time="python3.10",
                                                     zip_file="bm90IGEgemlw"))  # fmt: skip
    assert "ZipFile is not a zip" in str(error)
    client.create_function("F", handler="app.fns.echo", run_time="python3.10", zip_file=app_zip())
    error = api_error(lambda: client.create_function("F", handler="app.fns.echo", run_time="python3.10",
                                                     zip_file=app_zip()))  # fmt: skip
    assert error.status_code == 409 and "already exist" in str(error)
    brn = client.get_function_configuration("F").FunctionBrn
    bos = models.BOSTriggerData("nope", ["PutObject"], "/*", "t", True)
    error = api_error(lambda: client.create_trigger(brn, trigger_data=bos))
    assert error.status_code == 404 and "bucket 'nope' does not exist" in str(error)
    cron = models.CrontabTriggerData(brn, "c", "0 */5 * * * *", True)
    assert "ScheduleExpression '0 */5 * * * *'" in str(api_error(lambda: client.create_trigger(brn, trigger_data=cron)))


def test_http_and_bos_triggers_run_the_deployed_function(stack, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    client = cfc(stack)
    env = {"OUT_DIR": str(out), "ROLE": "deployed"}
    client.create_function("Rec", handler="app.fns.record", run_time="python3.10", environment=env,
                           zip_file=app_zip())  # fmt: skip
    client.create_function("Echo", handler="app.fns.echo", run_time="python3.10", zip_file=app_zip())
    rec_brn = client.get_function_configuration("Rec").FunctionBrn
    echo_brn = client.get_function_configuration("Echo").FunctionBrn

    client.create_trigger(echo_brn, trigger_data=models.HttpTriggerData("/hello/{who}", "POST", "anonymous"))
    [relation] = client.list_triggers(echo_brn).Relation
    assert relation.Data.EndpointPrefix == stack.cfc_url and relation.Source == models.HTTP_TRIGGER
    status, body = post(stack, "/hello/you", b'{"x": 1}')
    assert status == 200 and json.loads(body)["event"]["pathParameters"] == {"who": "you"}
    client.delete_trigger(echo_brn, relation.Source, relation.RelationId)
    assert post(stack, "/hello/you")[0] == 404

    stack.storage.create_bucket("media", exist_ok=True)
    bos = models.BOSTriggerData("media", ["PutObject"], "/uploads/*.mp4", "mp4", True)
    client.create_trigger(rec_brn, trigger_data=bos)
    stack.bos_client().put_object_from_string("media", "uploads/a.mp4", "video")
    stack.bos_client().put_object_from_string("media", "other/b.mp4", "video")
    assert stack.wait_idle(30)
    [written] = list(out.glob("deployed-*.json"))
    assert json.loads(written.read_text())["event"]["events"][0]["content"]["object"] == "uploads/a.mp4"


def test_deployed_functions_survive_a_restart(tmp_path):
    def start():
        s = LocalStack(tmp_path / "data", None, bos_port=0, mct_port=0, cfc_port=0, with_mct=False,
                       log_sink=lambda fn, line: None)  # fmt: skip
        return s.start()

    first = start()
    try:
        cfc(first).create_function("Echo", handler="app.fns.echo", run_time="python3.10", zip_file=app_zip(),
                                   environment={"GREETING": "kept"})  # fmt: skip
    finally:
        first.stop()
    second = start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "Echo" not in second.runtime.functions:
            time.sleep(0.05)
        assert json.loads(invoke(cfc(second), "Echo", {})[2]["body"])["greeting"] == "kept"
    finally:
        second.stop()
