"""localcloud CFC runtime with a fixture template: env isolation, context, timeout, BOS dispatch, retries, DLQ."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from localcloud.bos.events import object_created_event
from localcloud.cfc import CfcRuntime, FunctionError, FunctionTimeout
from localcloud.storage import ObjectInfo

TEMPLATE = Path(__file__).resolve().parents[3] / "fixtures" / "cfc_app" / "template.yaml"


class Logs:
    def __init__(self):
        self.lines: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, function: str, line: str) -> None:
        with self.lock:
            self.lines.append((function, line))


@pytest.fixture
def out_dir(tmp_path):
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def runtime(tmp_path, out_dir):
    logs = Logs()
    rt = CfcRuntime(
        TEMPLATE,
        {"OUT_DIR": str(out_dir), "EnvTwo": {"OVERRIDE": "only-two"}},
        tmp_path / "data",
        retry_delays=(0.05, 0.1),
        log_sink=logs,
    )
    rt.logs = logs
    rt.start()
    yield rt
    rt.stop()


def bos_event(key: str, event_type: str = "PutObject", bucket: str = "media") -> dict:
    info = ObjectInfo(bucket, key, 10, "d41d8cd98f00b204e9800998ecf8427e", 0.0, "video/mp4")
    return object_created_event(info, event_type, region="bj")


def received(out_dir: Path) -> list[tuple[str, str]]:
    """(role, object key) of every event the recording functions got."""
    found = []
    for path in sorted(out_dir.glob("*.json")):
        data = json.loads(path.read_text())
        role = path.name.split("-", 1)[0]
        found.extend((role, r["content"]["object"]) for r in data["event"]["events"])
    return sorted(found)


def test_env_isolated_between_functions_and_context(runtime):
    one = runtime.invoke("EnvOne", {})
    two = runtime.invoke("EnvTwo", {})
    again = runtime.invoke("EnvOne", {})
    assert (one["VAR"], one["IMPORT_TIME_VAR"], one["ONLY_ONE"], one["OVERRIDE"]) == ("one", "one", "1", None)
    assert (two["VAR"], two["IMPORT_TIME_VAR"], two["ONLY_ONE"], two["OVERRIDE"]) == ("two", "two", None, "only-two")
    assert again["VAR"] == "one" and again["ONLY_ONE"] == "1"
    assert one["SHARED"] == two["SHARED"] == "from-globals"
    assert one["BCE_USER_FUNCTION_NAME"] == "EnvOne"
    ctx = two["context"]
    assert ctx["function_name"] == "EnvTwo" and ctx["function_version"] == "$LATEST"
    assert ctx["function_brn"].startswith("brn:bce:cfc:bj:") and ctx["function_brn"].endswith(
        ":function:EnvTwo:$LATEST"
    )
    assert ctx["memory_limit_in_mb"] == 256 and len(ctx["request_id"]) == 36
    assert 0 < ctx["remaining_ms"] <= 10_000


def test_machine_environment_does_not_leak_into_functions(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAK_CHECK", "parent-secret")
    rt = CfcRuntime(TEMPLATE, None, tmp_path / "data", log_sink=Logs())
    try:
        assert rt.invoke("EnvOne", {})["LEAK_CHECK"] is None
    finally:
        rt.stop()


def test_timeout_stops_the_invocation_and_next_call_works(runtime):
    with pytest.raises(FunctionTimeout) as exc:
        runtime.invoke("Slow", {"seconds": 5})
    assert exc.value.error["errorType"] == "Timeout"
    ok = runtime.invoke("Slow", {"seconds": 0})
    assert ok["slept"] == 0 and ok["remaining_ms"] <= 1000


def test_handler_error_is_reported_with_type_and_trace(runtime, tmp_path):
    with pytest.raises(FunctionError) as exc:
        runtime.invoke("Flaky", {"counter": str(tmp_path / "c"), "fail_times": -1})
    assert exc.value.error["errorType"] == "ValueError"
    assert "flaky failure #1" in exc.value.error["errorMessage"]
    assert any("Traceback" in line for _fn, line in runtime.logs.lines)
    assert {fn for fn, _line in runtime.logs.lines} == {"Flaky"}


def test_bos_trigger_filtering(runtime, out_dir):
    events = [
        bos_event("uploads/a.mp4"),  # Upload (Mp4)
        bos_event("uploads/b.mov"),  # Upload (Mov)
        bos_event("uploads/c.mp4", "CompleteMultipartUpload"),  # Upload
        bos_event("uploads/d.mov", "CompleteMultipartUpload"),  # nobody: Mov only takes PutObject
        bos_event("other/e.mp4"),  # nobody: prefix
        bos_event("uploads/f.MP4"),  # nobody: suffix is case-sensitive
        bos_event("uploads/g.mp4", bucket="elsewhere"),  # nobody: bucket
        bos_event("uploads/h.mp4", "CopyObject"),  # Copies only
    ]
    futures = [f for e in events for f in runtime.dispatch_bos_event(e)]
    outcomes = [f.result(timeout=30) for f in futures]
    assert all(o.ok for o in outcomes)
    assert received(out_dir) == [
        ("copies", "uploads/h.mp4"),
        ("upload", "uploads/a.mp4"),
        ("upload", "uploads/b.mov"),
        ("upload", "uploads/c.mp4"),
    ]
    assert any(fn == "Upload" and line == "recorded 1 event(s)" for fn, line in runtime.logs.lines)


def test_multi_record_envelope_is_split_per_record(runtime, out_dir):
    body = bos_event("uploads/1.mp4")
    body["events"] += bos_event("uploads/2.mp4")["events"]
    for f in runtime.dispatch_bos_event(body):
        f.result(timeout=30)
    assert received(out_dir) == [("upload", "uploads/1.mp4"), ("upload", "uploads/2.mp4")]
    assert len(list(out_dir.glob("*.json"))) == 2


def test_async_retry_then_success_writes_no_dead_letter(runtime, tmp_path):
    event = {"counter": str(tmp_path / "count"), "fail_times": 2}
    outcome = runtime.invoke_async("Flaky", event).result(timeout=30)
    assert outcome.ok and outcome.attempts == 3 and outcome.result == {"calls": 3}
    assert runtime.dead_letters() == []


def test_async_always_failing_goes_to_dead_letter(runtime, tmp_path):
    event = {"counter": str(tmp_path / "count"), "fail_times": -1}
    outcome = runtime.invoke_async("Flaky", event).result(timeout=30)
    assert not outcome.ok and outcome.attempts == 3
    assert (tmp_path / "count").read_text() == "3"
    [dead] = runtime.dead_letters("Flaky")
    assert dead.id == outcome.dead_letter_id == outcome.invocation_id
    assert dead.event == event and dead.attempts == 3 and dead.function == "Flaky"
    assert dead.error["errorType"] == "ValueError" and "flaky failure #3" in dead.error["errorMessage"]


def test_async_timeout_is_retried_then_dead_lettered(runtime):
    outcome = runtime.invoke_async("Slow", {"seconds": 3}).result(timeout=30)
    assert not outcome.ok and outcome.attempts == 3 and outcome.error["errorType"] == "Timeout"
    assert [d.id for d in runtime.dead_letters("Slow")] == [outcome.dead_letter_id]


def test_wait_idle(runtime, tmp_path):
    runtime.invoke_async("Slow", {"seconds": 0.2})
    assert runtime.wait_idle(timeout=20)


def test_unknown_function(runtime):
    with pytest.raises(KeyError, match="EnvOne"):
        runtime.invoke("Nope", {})


def test_import_error_fails_warm_start(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "bad.py").write_text("raise ImportError('missing dependency xyz')\n")
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Bad:\n    Type: BCE::Serverless::Function\n"
        "    Properties: {CodeUri: code/, Handler: bad.handler, Runtime: python3}\n"
    )
    rt = CfcRuntime(tmp_path / "template.yaml", None, tmp_path / "data", log_sink=Logs())
    try:
        with pytest.raises(FunctionError, match="missing dependency xyz"):
            rt.start(warm=True)
    finally:
        rt.stop()


def test_stop_keeps_running_invocations_queued_for_the_next_start(tmp_path):
    """A stop (Ctrl-C) cuts the running invocation short: it is neither lost nor dead-lettered, the next runtime
    on the same data dir runs it."""
    rt = CfcRuntime(TEMPLATE, None, tmp_path / "data", retry_delays=(0.01, 0.01), log_sink=Logs())
    future = rt.invoke_async("Slow", {"seconds": 0.9})
    time.sleep(0.4)  # running now (cold start ~0.1 s)
    rt.stop()
    outcome = future.result(timeout=10)
    assert not outcome.ok and outcome.dead_letter_id is None and outcome.error["errorType"] == "RuntimeStopped"
    again = CfcRuntime(TEMPLATE, None, tmp_path / "data", retry_delays=(0.01, 0.01), log_sink=Logs())
    try:
        again.start()
        assert again.recovered == 1
        assert again.wait_idle(timeout=20) and again.dead_letters() == []
    finally:
        again.stop()


def test_redrive_dead_letter(runtime, tmp_path):
    counter = tmp_path / "count"
    outcome = runtime.invoke_async("Flaky", {"counter": str(counter), "fail_times": 3}).result(timeout=30)
    assert not outcome.ok
    redriven = runtime.redrive(outcome.dead_letter_id).result(timeout=30)
    assert redriven.ok and redriven.result == {"calls": 4}
    assert runtime.dead_letters() == []
