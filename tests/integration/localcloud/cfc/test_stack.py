"""LocalStack / `autotranscode up`: BOS events reach the template's functions; HTTP triggers served; clean stop."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.cfc.template import load_template
from localcloud.stack import LocalStack, local_function_env
from tests.integration.localcloud.cfc.test_runtime import TEMPLATE, Logs, received
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture
def stack(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    s = LocalStack(
        tmp_path / "data",
        TEMPLATE,
        bos_port=0,
        mct_port=0,
        cfc_port=0,
        with_mct=False,
        env_overrides={"OUT_DIR": str(out)},
        log_sink=Logs(),
    )
    s.start()
    s.out = out
    yield s
    s.stop()


def test_uploads_and_dropped_files_trigger_functions(stack):
    client = stack.bos_client()
    assert client.does_bucket_exist("media")  # created for the template's BOS triggers
    client.put_object_from_string("media", "uploads/a.mp4", "video")
    client.put_object_from_string("media", "elsewhere/b.mp4", "video")
    client.copy_object("media", "uploads/a.mp4", "media", "copies/c.mp4")
    dropped = stack.data_dir / "buckets" / "media" / "uploads" / "dropped.mov"
    dropped.write_bytes(b"movie")
    assert wait_for(lambda: len(received(stack.out)) == 3)
    assert stack.wait_idle(20)
    assert received(stack.out) == [
        ("copies", "copies/c.mp4"),
        ("upload", "uploads/a.mp4"),
        ("upload", "uploads/dropped.mov"),
    ]


def test_http_trigger_on_cfc_url(stack):
    conn = http.client.HTTPConnection(stack.cfc_url.removeprefix("http://"), timeout=20)
    conn.request("GET", "/echo/bob")
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["event"]["pathParameters"] == {"name": "bob"}


def test_mct_url_requires_start_with_mct(stack):
    with pytest.raises(RuntimeError, match="MCT is not running"):
        _ = stack.mct_url


def test_local_function_env_points_functions_at_local_mct(tmp_path):
    (tmp_path / "cfg.json").write_text(json.dumps({"mct": {"endpoint": "http://media.bj.baidubce.com"}, "x": 1}))
    (tmp_path / "t.yaml").write_text(
        "Resources:\n"
        "  A:\n    Type: BCE::Serverless::Function\n"
        "    Properties: {CodeUri: ./, Handler: m.h, Environment: {Variables: {AUTOTRANSCODE_CONFIG: cfg.json}}}\n"
        "  B:\n    Type: BCE::Serverless::Function\n    Properties: {CodeUri: ./, Handler: m.h}\n"
    )
    env = local_function_env(load_template(tmp_path / "t.yaml"), "http://127.0.0.1:9", tmp_path, "ak", "sk")
    assert env["BCE_ACCESS_KEY_ID"] == "ak" and env["BCE_ACCESS_KEY_SECRET"] == "sk"
    assert env["AUTOTRANSCODE_STORE_URL"] == f"sqlite:///{tmp_path / 'autotranscode.sqlite3'}"
    inline = json.loads(env["A"]["AUTOTRANSCODE_CONFIG_JSON"])
    assert inline == {"mct": {"endpoint": "http://127.0.0.1:9"}, "x": 1}
    assert "B" not in env


def test_full_stack_with_mct_starts_and_stops(tmp_path):
    pytest.importorskip("localcloud.mct.service")
    with LocalStack(tmp_path / "d", TEMPLATE, bos_port=0, mct_port=0, cfc_port=0, log_sink=Logs()) as s:
        conn = http.client.HTTPConnection(s.mct_endpoint, timeout=10)
        conn.request("GET", "/v3/pipeline")
        resp = conn.getresponse()
        assert resp.status in (400, 403) and "code" in json.loads(resp.read())  # unsigned: a BCE error body
        s.mct_client().create_pipeline("demo", "media", "media")
        assert [p.pipeline_name for p in s.mct_client().list_pipelines().pipelines] == ["demo"]
    assert not s._servers


def test_up_command_prints_addresses_and_stops_on_ctrl_c(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-X", "faulthandler", "-m", "autotranscode.cli", "up", "--template", str(TEMPLATE),
            "--data-dir", str(tmp_path / "d"), "--bos-port", "0", "--mct-port", "0", "--cfc-port", "0"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C stops" in line:
                break
        text = "".join(lines)
        assert "localcloud is up" in text, text
        assert re.search(r"BOS  http://127\.0\.0\.1:\d+", text) and re.search(r"CFC  http://127\.0\.0\.1:\d+", text)
        assert "trigger  BOS media/uploads/*.mp4" in text and "HTTP GET,POST" in text
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[0]
        assert proc.returncode == 0, rest
        assert "stopping localcloud" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_port_in_use_fails_fast_with_a_clear_error(tmp_path):
    import socket

    from localcloud.stack import PortInUse

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = LocalStack(tmp_path / "d", TEMPLATE, bos_port=0, mct_port=0, cfc_port=port, with_mct=False)
        with pytest.raises(PortInUse, match=f"CFC cannot listen on 127.0.0.1:{port}.*--cfc-port"):
            stack.start()
