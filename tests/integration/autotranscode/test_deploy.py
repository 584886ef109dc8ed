"""`autotranscode deploy`, run as a user runs it, against localcloud's CFC API (bce-python-sdk's CfcClient on the
wire): the deployed functions then carry an upload end to end (recorded result + signed done event); a second
deploy changes nothing; --dry-run prints a diff; a changed trigger is replaced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.retry.retry_policy import NoRetryPolicy
from baidubce.services.cfc.cfc_client import CfcClient

from autotranscode.demo import DownstreamReceiver
from handlers.adapters.store import SqlStore
from handlers.domain.statuses import SUCCESS, UPLOAD_DONE
from localcloud.samples import make_sample_clip
from localcloud.serve import serve_in_thread
from localcloud.stack import LocalStack

REPO = Path(__file__).resolve().parents[3]
SECRET = "downstream-secret-from-the-caller"
URL_TOKEN = "callback-token-from-the-caller"


def run_cli(*args, env, check=True):
    proc = subprocess.run([sys.executable, "-m", "autotranscode.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def deployment(tmp_path):
    stack = LocalStack(tmp_path / "data", None, bos_port=0, mct_port=0, cfc_port=0, log_sink=lambda fn, line: None)
    stack.start()
    receiver = DownstreamReceiver(SECRET)
    downstream = serve_in_thread(receiver)
    try:
        config = json.loads((REPO / "autotranscode.example.json").read_text())
        config["mct"]["endpoint"] = stack.mct_url
        config["downstream"] = {"url": downstream.url}  # its secret comes from the caller's environment
        del config["callback"]["url_token"]  # so does the callback token: `build` refuses a file holding secrets
        config_path = tmp_path / "autotranscode.json"
        config_path.write_text(json.dumps(config))
        zip_path = tmp_path / "cfc.zip"
        token_env = {**os.environ, "AUTOTRANSCODE_CALLBACK_URL_TOKEN": URL_TOKEN}
        # the venv provides the dependencies (the functions run on this interpreter, not CFC's 3.10)
        run_cli("build", "--no-deps", "--config", str(config_path), "--output", str(zip_path), env=token_env)
        env = {
            **token_env,
            "BCE_ACCESS_KEY_ID": stack.access_key,
            "BCE_ACCESS_KEY_SECRET": stack.secret_key,
            "AUTOTRANSCODE_STORE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
            "AUTOTRANSCODE_DOWNSTREAM_SECRET": SECRET,
        }
        args = ["deploy", "--endpoint", stack.cfc_url, "--config", str(config_path), "--zip", str(zip_path)]
        stack.bos_client().create_bucket("uploads")
        yield stack, receiver, env, args, tmp_path
    finally:
        downstream.stop()
        stack.stop()


def cfc(stack) -> CfcClient:
    creds = BceCredentials(stack.access_key, stack.secret_key)
    return CfcClient(BceClientConfiguration(credentials=creds, endpoint=stack.cfc_url, retry_policy=NoRetryPolicy()))


def bos_relations(stack) -> list:
    client = cfc(stack)
    brn = client.get_function_configuration("OnUpload").FunctionBrn
    return [r for r in client.list_triggers(brn).Relation if r.Source == "bos/uploads"]


def test_deploy_then_upload_end_to_end_then_nothing_to_change(deployment):
    stack, receiver, env, args, tmp_path = deployment
    first = run_cli(*args, env=env)
    for expected in ("+ function OnUpload (create", "+     Runtime: 'python3.10'", "+ trigger bos/uploads Upload",
                     "+ trigger HTTP /mct/callback -> OnNotification", "+ trigger crontab reconcile-every-5-minutes",
                     "create pipeline autotranscode", "create notification autotranscode_cb"):  # fmt: skip
        assert expected in first.stdout, first.stdout
    assert SECRET not in first.stdout + first.stderr and stack.secret_key not in first.stdout
    config = cfc(stack).get_function_configuration("OnUpload")
    assert config.Runtime == "python3.10" and config.Environment.Variables.AUTOTRANSCODE_CONFIG == "autotranscode.json"

    clip = make_sample_clip(tmp_path / "clip.mp4", seconds=1)
    stack.bos_client().put_object_from_file("uploads", "incoming/trip.MOV", str(clip))  # upper case: still matched
    store = SqlStore(env["AUTOTRANSCODE_STORE_URL"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not receiver.events:
        time.sleep(0.2)
    uploads = [u for _, u in store.list_jobs()]
    assert uploads and uploads[0].status == UPLOAD_DONE
    assert {j.status for j in store.jobs_for_upload(uploads[0].upload_id)} == {SUCCESS}
    [(event, signed)] = receiver.events
    assert signed and event["status"] == "SUCCESS" and event["upload"]["key"] == "incoming/trip.MOV"

    second = run_cli(*args, env=env)
    assert "no changes:" in second.stdout and "+ " not in second.stdout, second.stdout
    assert "notification autotranscode_cb: up to date" in second.stdout


def test_dry_run_shows_a_diff_and_a_changed_trigger_is_replaced(deployment):
    stack, _, env, args, tmp_path = deployment
    run_cli(*args, env=env)
    [before] = bos_relations(stack)
    changed = tmp_path / "template.yaml"
    changed.write_text((REPO / "template.yaml").read_text().replace("Prefix: incoming/", "Prefix: incoming/videos/"))
    template_args = [*args, "--template", str(changed)]

    dry = run_cli(*template_args, "--dry-run", env=env)
    assert "~ trigger bos/uploads Upload -> OnUpload (replace" in dry.stdout, dry.stdout
    assert "-     Resource: '/incoming/*'" in dry.stdout and "+     Resource: '/incoming/videos/*'" in dry.stdout
    assert [r.RelationId for r in bos_relations(stack)] == [before.RelationId]  # nothing changed

    run_cli(*template_args, env=env)
    [after] = bos_relations(stack)
    assert after.RelationId != before.RelationId and after.Data.Resource == "/incoming/videos/*"
    assert "no changes:" in run_cli(*template_args, env=env).stdout


def test_config_errors_exit_2_with_one_message(deployment):
    stack, _, env, args, tmp_path = deployment
    no_key = {k: v for k, v in env.items() if k != "BCE_ACCESS_KEY_SECRET"}
    proc = run_cli(*args, env=no_key, check=False)
    assert proc.returncode == 2 and proc.stderr.count("error:") == 1 and "BCE_ACCESS_KEY_SECRET" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli(*args, "--template", str(tmp_path / "missing.yaml"), env=env, check=False)
    assert proc.returncode == 2 and "missing.yaml" in proc.stderr and "Traceback" not in proc.stderr
    stack.bos_client().delete_bucket("uploads")
    proc = run_cli(*args, env=env, check=False)
    assert proc.returncode == 1 and "trigger bos/uploads Upload -> OnUpload: create failed" in proc.stderr
    assert "bucket 'uploads' does not exist" in proc.stderr
