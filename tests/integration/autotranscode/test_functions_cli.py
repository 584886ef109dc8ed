"""The function-side CLI commands against localcloud MCT: provision (idempotent), jobs, redrive, reconcile, invoke."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autotranscode.cli import main
from handlers.adapters.store import SqlStore
from handlers.domain.ids import upload_id_for
from localcloud.mct.testing import running_mct, wait_for_job
from localcloud.samples import make_sample_clip

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    mct = running_mct(tmp_path / "mct", buckets=("uploads",))
    cfg = json.loads((REPO / "autotranscode.example.json").read_text())
    cfg["mct"]["endpoint"] = mct.server.url
    cfg["mct"]["backoff_seconds"] = 0.01
    cfg["rules"][0]["thumbnails"] = []
    video = {"codec": "h264", "bitRateInBps": 256000, "widthInPixel": 320, "heightInPixel": 240}
    cfg["presets"] = [{"presetName": "my_small", "container": "mp4", "video": video}]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    store_url = f"sqlite:///{tmp_path}/store.sqlite3"
    for var in ("AUTOTRANSCODE_CONFIG_JSON", "BCE_ACCESS_KEY_ID", "BCE_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AUTOTRANSCODE_CONFIG", str(path))
    monkeypatch.setenv("AUTOTRANSCODE_STORE_URL", store_url)
    yield mct, path, store_url
    mct.stop()


def cli(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_provision_is_idempotent(setup, capsys):
    mct, *_ = setup
    code, out = cli(capsys, "provision", "--callback-url", "http://127.0.0.1:9/mct/callback")
    assert code == 0, out
    assert "create preset my_small" in out and "create pipeline autotranscode" in out
    assert "create notification autotranscode_cb" in out
    assert mct.client.get_notification("autotranscode_cb").endpoint.endswith("token=local-callback-token-change-me")
    code, out = cli(capsys, "provision", "--callback-url", "http://127.0.0.1:9/mct/callback")
    assert code == 0 and "create" not in out and "up to date" in out
    code, out = cli(capsys, "provision", "--callback-url", "http://127.0.0.1:10/mct/callback", "--dry-run")
    assert "would create notification autotranscode_cb_" in out and "would attach" in out
    code, out = cli(capsys, "provision", "--callback-url", "http://127.0.0.1:10/mct/callback")
    assert code == 0, out
    name = mct.client.get_pipeline("autotranscode").config.notification
    assert name.startswith("autotranscode_cb_")
    assert mct.client.get_notification(name).endpoint.startswith("http://127.0.0.1:10/")
    code, out = cli(capsys, "provision", "--callback-url", "http://127.0.0.1:10/mct/callback")
    assert "create" not in out and "attach" not in out


def test_jobs_redrive_reconcile(setup, capsys, tmp_path):
    mct, _, store_url = setup
    assert cli(capsys, "provision")[0] == 0
    clip = make_sample_clip(tmp_path / "c.mp4", seconds=1)
    info = mct.service.storage.put("uploads", "incoming/a.mp4", clip.read_bytes())
    event = {"events": [{"eventId": "e1", "eventType": "PutObject",
                         "content": {"bucket": "uploads", "object": "incoming/a.mp4", "eTag": info.etag}}]}  # fmt: skip
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    code, out = cli(capsys, "invoke", "OnUpload", "--event", str(event_path), "--template", str(REPO / "template.yaml"),
                    "--env", f"AUTOTRANSCODE_CONFIG={setup[1]}", "--env", f"AUTOTRANSCODE_STORE_URL={store_url}",
                    "--env", "AUTOTRANSCODE_CONFIG_JSON=")  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["submitted"] == 1  # stdout holds the result alone; the logs went to stderr
    code, out = cli(capsys, "jobs", "list", "--json")
    [row] = json.loads(out)
    assert row["status"] == "PENDING" and row["key"] == "incoming/a.mp4"
    wait_for_job(mct.client, row["job_id"], timeout=60)
    code, out = cli(capsys, "reconcile", "--stale-after", "0")
    assert code == 0 and json.loads(out)["updated"] == 1
    code, out = cli(capsys, "jobs", "show", row["job_id"], "--live")
    shown = json.loads(out)
    assert shown["job"]["status"] == "SUCCESS" and shown["upload"]["status"] == "DONE"
    assert shown["mct"]["job_status"] == "SUCCESS"
    # Make it FAILED in the store, then redrive: a new MCT job replaces it.
    store = SqlStore(store_url)
    uid = upload_id_for("uploads", "incoming/a.mp4", info.etag)
    [job] = store.jobs_for_upload(uid)
    store.execute("UPDATE at_jobs SET status='FAILED', status_rank=3 WHERE claim_id=?", (job.claim_id,))
    code, out = cli(capsys, "redrive", "--all-failed")
    assert code == 0, out
    [result] = json.loads(out)
    assert result["outcome"] == "submitted" and result["job_id"] != row["job_id"]
    assert store.get_upload(uid).status == "OPEN"
    code, out = cli(capsys, "jobs", "list", "--status", "pending", "--since", "1h")
    assert result["job_id"] in out
    assert cli(capsys, "jobs", "show", "job-nope")[0] == 1


def test_invoke_reports_bad_function_and_runs_in_a_subprocess(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "autotranscode.cli", "invoke", "Nope"], cwd=REPO,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode != 0 and "OnUpload" in proc.stderr + proc.stdout


def test_build_without_deps(tmp_path, monkeypatch, capsys):
    import zipfile

    monkeypatch.chdir(REPO)
    out_zip = tmp_path / "x.zip"
    # the example config holds a callback token: refused unless told
    assert main(["build", "--no-deps", "--output", str(out_zip)]) == 2
    err = capsys.readouterr().err
    assert "holds secrets (callback.url_token)" in err and "--allow-secrets" in err and not out_zip.exists()
    assert "local-callback-token-change-me" not in err
    assert "WARNING mct.endpoint: http://127.0.0.1:18081 is a local address" in err
    assert "WARNING callback.url_token: looks like a placeholder" in err
    code, out = cli(capsys, "build", "--no-deps", "--allow-secrets", "--output", str(out_zip))
    assert code == 0
    names = zipfile.ZipFile(out_zip).namelist()
    assert "handlers/on_upload.py" in names and "autotranscode.example.json" in names
    assert not any("__pycache__" in n for n in names)
    time.sleep(0)


def test_jobs_list_piped_into_head_ends_quietly(tmp_path):
    from datetime import timedelta

    from handlers.domain.clock import utcnow
    from handlers.domain.ids import claim_id_for
    from handlers.domain.records import Job, Upload

    url = f"sqlite:///{tmp_path}/s.db"
    store = SqlStore(url)
    for n in range(3000):  # more than a pipe buffer of table lines
        key = f"incoming/{n}.mp4"
        up = store.ensure_upload(Upload(upload_id_for("uploads", key, "e"), "uploads", key, "e", "videos", 1))
        store.claim(Job(claim_id_for("uploads", key, "e", "360p"), up.upload_id, "360p", "transcode", {}),
                    utcnow(), timedelta(minutes=5))  # fmt: skip
    cli = [sys.executable, "-m", "autotranscode.cli", "jobs", "list", "--store-url", url, "--limit", "3000"]
    run = subprocess.run(f"{' '.join(cli)} | head -2", shell=True, capture_output=True, text=True, timeout=120)
    assert len(run.stdout.splitlines()) == 2
    assert "Traceback" not in run.stderr and "BrokenPipeError" not in run.stderr, run.stderr
