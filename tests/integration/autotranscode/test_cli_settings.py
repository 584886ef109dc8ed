"""Every command finds the same configuration and store, keeps stdout for its answer, and fails with one message
naming where the bad value came from (exit 2, no traceback without -v). `check` and `provision` against localcloud
MCT."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from autotranscode.cli import main
from autotranscode.settings import STATE_FILE, resolve_local, write_state
from autotranscode.tables import display_width, format_table
from handlers.adapters.store import SqlStore
from handlers.domain.clock import utcnow
from handlers.domain.records import Job, Upload
from localcloud.mct.testing import running_mct

REPO = Path(__file__).resolve().parents[3]
ENV_VARS = ("AUTOTRANSCODE_CONFIG", "AUTOTRANSCODE_CONFIG_JSON", "AUTOTRANSCODE_STORE_URL", "BCE_ACCESS_KEY_ID",
            "BCE_ACCESS_KEY_SECRET")  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no .localcloud here unless a test makes one


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(tmp_path: Path, endpoint: str = "http://127.0.0.1:9", **changes) -> Path:
    cfg = json.loads((REPO / "autotranscode.example.json").read_text())
    cfg["mct"]["endpoint"] = endpoint
    cfg["mct"]["max_attempts"] = 1
    cfg.update(changes)
    path = tmp_path / "my-config.json"
    path.write_text(json.dumps(cfg))
    return path


def record_job(store_url: str, key: str, target: dict) -> None:
    """job-1 (PENDING) of an upload of `key`, as the upload function records it."""
    store = SqlStore(store_url)
    store.ensure_upload(Upload("u1", "uploads", key, "e", "videos", 1))
    store.claim(Job("c1", "u1", "720p", "transcode", {"target": target}), utcnow(), timedelta(minutes=5))
    store.record_submitted("c1", "job-1", utcnow())
    store.dispose()


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotranscode.cli", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def test_json_output_is_json_alone_and_empty_is_a_list(tmp_path):
    path = config(tmp_path, store_url=f"sqlite:///{tmp_path}/s.sqlite3")
    proc = run("jobs", "list", "--json", "--config", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    assert f"store  sqlite:///{tmp_path}/s.sqlite3" in proc.stderr and "MCT http://127.0.0.1:9" in proc.stderr


def test_commands_beside_a_stack_use_its_config_and_store(tmp_path, capsys):
    path = config(tmp_path)
    data = tmp_path / ".localcloud"
    data.mkdir()
    store_url = f"sqlite:///{data}/autotranscode.sqlite3"
    write_state(data, config_source=str(path), effective_config=json.loads(path.read_text()), store_url=store_url,
                mct_endpoint="http://127.0.0.1:1", bos_endpoint="x", cfc_url="http://127.0.0.1:2",
                callback_url="http://127.0.0.1:2/mct/callback")  # fmt: skip
    for args in ([], ["--config", str(path)], ["--config", "my-config.json"]):
        resolved = resolve_local(type("A", (), {"config": args[1] if args else None, "store_url": None,
                                                "data_dir": None})())  # fmt: skip
        assert resolved.env["AUTOTRANSCODE_STORE_URL"] == store_url and resolved.state is not None
        assert json.loads(Path(resolved.env["AUTOTRANSCODE_CONFIG"]).read_text())["mct"]["endpoint"] == (
            "http://127.0.0.1:1"
        )  # the stack's MCT, not the file's
    record_job(store_url, "incoming/中文视频.mp4", {"targetKey": "transcoded/中文视频/720p.mp4"})
    assert main(["jobs", "list"]) == 0
    captured = capsys.readouterr()
    assert "as run by the local stack" in captured.err and store_url in captured.err
    header, row = captured.out.splitlines()
    assert display_width(header.split("KEY")[0]) == display_width(row.split("incoming/")[0])
    assert display_width(header.split("OUTPUT")[0]) == display_width(row.split("transcoded/")[0])
    # another config: its own store, said so
    other = tmp_path / "other.json"
    other.write_text(path.read_text())
    resolved = resolve_local(type("A", (), {"config": str(other), "store_url": None, "data_dir": None})())
    assert resolved.state is None and "not the local stack's config" in resolved.notes[0]
    assert (data / STATE_FILE).exists()


def test_commands_find_a_stack_started_here_with_another_data_dir(tmp_path, capsys):
    # `autotranscode up --config mine.json --data-dir /elsewhere`, then `jobs list` from the same directory.
    path = config(tmp_path)
    elsewhere = tmp_path / "elsewhere" / "stack"
    elsewhere.mkdir(parents=True)
    store_url = f"sqlite:///{elsewhere}/autotranscode.sqlite3"
    write_state(elsewhere, config_source=str(path), effective_config=json.loads(path.read_text()),
                store_url=store_url, mct_endpoint="http://127.0.0.1:1", bos_endpoint="x", cfc_url="http://127.0.0.1:2",
                callback_url="http://127.0.0.1:2/mct/callback")  # fmt: skip
    resolved = resolve_local(type("A", (), {"config": None, "store_url": None, "data_dir": None})())
    assert resolved.state is not None and resolved.env["AUTOTRANSCODE_STORE_URL"] == store_url
    record_job(store_url, "incoming/x.mp4", {"targetKey": "transcoded/x/720p.mp4"})
    assert main(["jobs", "list"]) == 0
    captured = capsys.readouterr()
    assert store_url in captured.err and "incoming/x.mp4" in captured.out


def test_tables_align_by_display_width():
    text = format_table(["key", "status"], [{"key": "中文.mp4", "status": "OK"}, {"key": "ab.mp4", "status": "FAILED"}])
    lines = text.splitlines()
    starts = [
        display_width(line[: line.index(word)]) for line, word in zip(lines, ["STATUS", "OK", "FAILED"], strict=True)
    ]
    assert len(set(starts)) == 1, text


def test_config_errors_exit_2_with_one_message_naming_the_source(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    proc = run("jobs", "list", "--config", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{bad}: not valid JSON" in proc.stderr and "AUTOTRANSCODE_CONFIG_JSON" not in proc.stderr
    proc = run("-v", "jobs", "list", "--config", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" in proc.stderr
    invalid = config(tmp_path, rules=[])
    proc = run("reconcile", "--config", str(invalid), cwd=tmp_path)
    assert proc.returncode == 2 and str(invalid) in proc.stderr and "rules" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_closed_database_port_names_host_port_and_the_setting(tmp_path):
    port = closed_port()
    path = config(tmp_path, store_url=f"mysql+pymysql://app:pw-secret@127.0.0.1:{port}/autotranscode")
    proc = run("jobs", "list", "--config", str(path), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"127.0.0.1:{port}" in proc.stderr and f"store_url in {path}" in proc.stderr
    assert "pw-secret" not in proc.stderr
    proc = run("jobs", "list", "--config", str(path), "--store-url", f"postgresql://u@127.0.0.1:{port}/x",
               cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and f"postgresql server 127.0.0.1:{port}" in proc.stderr
    assert "change --store-url" in proc.stderr


def test_live_show_without_mct_and_provision_name_the_endpoint(tmp_path):
    port = closed_port()
    store_url = f"sqlite:///{tmp_path}/s.sqlite3"
    path = config(tmp_path, endpoint=f"http://127.0.0.1:{port}", store_url=store_url)
    record_job(store_url, "incoming/a.mp4", {})
    proc = run("jobs", "show", "job-1", "--live", "--config", str(path), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"MCT at http://127.0.0.1:{port}" in proc.stderr and json.loads(proc.stdout)["job"]["job_id"] == "job-1"
    proc = run("provision", "--config", str(path), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"MCT at http://127.0.0.1:{port}" in proc.stderr


def test_check_finds_an_unknown_preset_and_provision_updates_a_changed_one(tmp_path, capsys):
    with running_mct(tmp_path / "mct", buckets=("uploads",)) as mct:
        cfg = json.loads(config(tmp_path, endpoint=mct.server.url).read_text())
        video = {"codec": "h264", "bitRateInBps": 300000, "maxWidthInPixel": 320, "maxHeightInPixel": 180}
        cfg["presets"] = [{"presetName": "my_small", "container": "mp4", "video": video}]
        cfg["rules"][0]["targets"].append({"name": "small", "preset": "my_small", "key": "t/{stem}/s.mp4"})
        cfg["rules"][0]["targets"].append({"name": "typo", "preset": "bce.video_mp4_1x1_nope", "key": "t/{stem}/x.mp4"})
        cfg["store_url"] = f"sqlite:///{tmp_path}/s.sqlite3"
        path = tmp_path / "c.json"
        path.write_text(json.dumps(cfg))
        assert main(["check", "--config", str(path), "--offline"]) == 0  # the config alone is fine
        capsys.readouterr()
        assert main(["check", "--config", str(path), "--json"]) == 2
        findings = {f["subject"]: f for f in json.loads(capsys.readouterr().out)}
        assert findings["pipeline autotranscode"]["level"] == "error"  # not provisioned yet
        assert findings["preset bce.video_mp4_1x1_nope"]["level"] == "error"
        assert "rule 'videos', target 'typo'" in findings["preset bce.video_mp4_1x1_nope"]["message"]
        assert findings["preset my_small"]["level"] == "warning"  # in `presets`: provision creates it
        assert findings["store"]["level"] == "ok"

        cfg["rules"][0]["targets"].pop()
        path.write_text(json.dumps(cfg))
        assert main(["provision", "--config", str(path), "--callback-url", "http://127.0.0.1:9/mct/callback"]) == 0
        out = capsys.readouterr().out
        assert "create preset my_small" in out and "create preset pt_bce_video_mp4_720x1280_2048kbps" in out
        portrait = mct.client.get_preset("pt_bce_video_mp4_720x1280_2048kbps").video
        assert (portrait.max_width_in_pixel, portrait.max_height_in_pixel) == (720, 1280)
        assert main(["check", "--config", str(path), "--callback-url", "http://127.0.0.1:9/mct/callback"]) == 0
        capsys.readouterr()

        video["bitRateInBps"] = 400000
        path.write_text(json.dumps(cfg))
        assert main(["provision", "--config", str(path), "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "would update preset my_small:\n    video.bitRateInBps: 300000 -> 400000" in out
        assert mct.client.get_preset("my_small").video.bit_rate_in_bps == 300000
        assert main(["provision", "--config", str(path)]) == 0
        assert "update preset my_small" in capsys.readouterr().out
        assert mct.client.get_preset("my_small").video.bit_rate_in_bps == 400000
        assert main(["provision", "--config", str(path)]) == 0
        assert "preset my_small: up to date" in capsys.readouterr().out
        # the notification must point at the callback URL
        assert main(["check", "--config", str(path), "--callback-url", "http://127.0.0.1:8/elsewhere"]) == 2
        assert "not at http://127.0.0.1:8/elsewhere" in capsys.readouterr().err


def test_build_refuses_secrets_unless_allowed_and_never_prints_them(tmp_path, monkeypatch):
    cfg = json.loads(config(tmp_path).read_text())
    cfg["callback"]["url_token"] = "tok-very-secret-1"
    cfg["downstream"] = {"url": "https://app.example.org/hook", "secret": "hook-very-secret-2"}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    proc = run("build", "--no-deps", "--config", str(path), "--output", str(tmp_path / "x.zip"), cwd=REPO)
    assert proc.returncode == 2 and not (tmp_path / "x.zip").exists()
    assert "callback.url_token, downstream.secret" in proc.stderr
    assert "tok-very-secret-1" not in proc.stderr + proc.stdout and "hook-very-secret-2" not in proc.stderr
    del cfg["callback"]["url_token"], cfg["downstream"]["secret"]
    cfg["callback"]["allow_unauthenticated"] = True
    path.write_text(json.dumps(cfg))
    proc = run("build", "--no-deps", "--config", str(path), "--output", str(tmp_path / "x.zip"), cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING downstream.secret: not set" in proc.stderr and "mct.endpoint" in proc.stderr


def test_up_stops_at_a_config_error_or_an_unknown_preset_before_any_upload(tmp_path):
    invalid = config(tmp_path, rules=[{"bucket": "uploads", "targets": [{"preset": "x", "key": "{nope}"}]}])
    proc = run("up", "--config", str(invalid), "--data-dir", str(tmp_path / "d1"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{invalid} is invalid" in proc.stderr and "rules.0.targets.0.key" in proc.stderr
    cfg = json.loads(config(tmp_path).read_text())
    cfg["rules"][0]["targets"][0]["preset"] = "bce.video_mp4_1x1_nope"
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps(cfg))
    ports = [str(closed_port()) for _ in range(3)]
    proc = run("up", "--config", str(typo), "--data-dir", str(tmp_path / "d2"), "--bos-port", ports[0],
               "--mct-port", ports[1], "--cfc-port", ports[2], "--no-watch", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "ERROR   preset bce.video_mp4_1x1_nope: does not exist in MCT" in proc.stderr
    assert "localcloud is up" not in proc.stdout
