"""Reliability end to end (issue #7, R2 through the real runtime): ``autotranscode up`` with faults on.

LocalStack runs template.yaml's functions in CFC worker processes, BOS delivers every upload event 3 times, the MCT
and BOS APIs fail 30% of requests, MCT drops 30% of its callbacks, duplicates half and reorders them. CFC retries
failed invocations (RetryLater), the Reconcile function (the cron trigger) picks up the rest. Every upload must end
with exactly its jobs in MCT and one "upload done" event.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections import Counter
from pathlib import Path

from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.exception import BceError
from baidubce.services.bos.bos_client import BosClient

from handlers.adapters.store import SqlStore
from handlers.domain.statuses import SUCCESS, UPLOAD_DONE
from handlers.wire.downstream import verify_downstream_signature
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.faults import FaultConfig
from localcloud.samples import make_sample_clip
from localcloud.serve import serve_in_thread
from localcloud.stack import ENV_CONFIG_JSON, LocalStack
from tests.reliability_support import DOWNSTREAM_SECRET, report
from tests.unit.handlers.receiver import Receiver
from tests.waiting import stack_outstanding, wait_for, wait_idle

REPO = Path(__file__).resolve().parents[3]
UPLOADS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def put_with_retries(bos: BosClient, key: str, path: Path) -> None:
    """The test's own upload goes through the faulty BOS API too: retry what the SDK does not (429)."""
    for _ in range(20):
        try:
            bos.put_object_from_file("uploads", key, str(path))
            return
        except BceError:
            time.sleep(0.1)
    raise AssertionError(f"could not upload {key}")


def test_r2_end_to_end_through_localcloud_with_faults(tmp_path, request):
    receiver = Receiver()
    downstream = serve_in_thread(receiver)
    mct_port = free_port()
    config = json.loads((REPO / "autotranscode.example.json").read_text())
    config["mct"].update(endpoint=f"http://127.0.0.1:{mct_port}", backoff_seconds=0.05)
    config["reconcile"] = {"stale_after_minutes": 0, "redeliver_after_minutes": 0}
    config["downstream"] = {"url": downstream.url + "/events", "secret": DOWNSTREAM_SECRET, "backoff_seconds": 0.05}
    token = config["callback"]["url_token"]
    functions = ("OnUpload", "OnNotification", "Reconcile")
    faults = FaultConfig.parse(
        "api_error_rate=0.3,api_error_kinds=500|503|throttle,bos_redeliveries=2,callback_drop_rate=0.3,"
        "callback_duplicate_rate=0.5,callback_delay_ms=300,seed=9"
    )
    stack = LocalStack(
        tmp_path / "data", REPO / "template.yaml", bos_port=0, mct_port=mct_port, cfc_port=0, faults=faults,
        env_overrides={name: {ENV_CONFIG_JSON: json.dumps(config)} for name in functions},
        retry_delays=(0.2, 0.5), log_sink=lambda function, line: None,
    )  # fmt: skip
    stack.start()
    started = time.monotonic()
    try:
        backend = stack.mct.backend  # setup is not what is under test: no faults for it
        backend.create_notification({"name": "cb", "endpoint": f"{stack.cfc_url}/mct/callback?token={token}"})
        pipeline = {"pipelineName": "autotranscode", "sourceBucket": "uploads", "targetBucket": "uploads"}
        backend.create_pipeline({**pipeline, "config": {"notification": "cb", "capacity": 4}})
        bos = BosClient(BceClientConfiguration(BceCredentials(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY),
                                               endpoint=stack.bos_endpoint))  # fmt: skip
        clip = make_sample_clip(tmp_path / "clip.mp4", seconds=1)
        keys = [f"incoming/e2e/clip{i}.mp4" for i in range(UPLOADS)]
        for key in keys:
            put_with_retries(bos, key, clip)
        store = SqlStore(f"sqlite:///{stack.data_dir / 'autotranscode.sqlite3'}")
        cron_runs = 0

        def done() -> bool:
            nonlocal cron_runs
            stack.wait_idle(30)
            ups = {u.upload_id: u for _, u in store.list_jobs(limit=1000)}
            if len(ups) == UPLOADS and all(u.status == UPLOAD_DONE for u in ups.values()) and receiver.requests:
                return True
            cron_runs += 1
            with contextlib.suppress(Exception):  # an injected fault may fail a run; the next one picks up
                stack.runtime.invoke("Reconcile", {})  # what the crontab trigger does every few minutes
            return False

        wait_for(done, timeout=150, interval=0.5, what="every upload done")
        # Delayed duplicate callbacks still in flight must not add events: wait until none is left anywhere.
        wait_idle(lambda: stack_outstanding(stack), what="the stack")
        elapsed = time.monotonic() - started

        jobs = [j for j, _ in store.list_jobs(limit=1000)]
        mct_jobs = backend.list_transcoding_jobs() + backend.list_thumbnail_jobs()
        outputs = Counter(j["target"].get("targetKey") or j["target"].get("keyPrefix") for j in mct_jobs)
        assert max(outputs.values()) == 1, outputs  # no job twice
        assert len(mct_jobs) == len(jobs) == 2 * UPLOADS  # 320x240 clips: 360p + poster each
        assert {j.job_id for j in jobs} == {j["jobId"] for j in mct_jobs}
        assert {j.status for j in jobs} == {SUCCESS}
        events = [r for r in receiver.requests if r["status"] == 200]
        assert sorted(json.loads(r["body"])["upload"]["key"] for r in events) == keys  # one event per upload
        assert all(verify_downstream_signature(DOWNSTREAM_SECRET, r["headers"], r["body"]) for r in events)
        dead = len(stack.runtime.dead_letters())
        report(
            request,
            f"R2(e2e): {UPLOADS} BOS uploads through CFC (template.yaml), faults "
            f"{dict(sorted(faults.injected.items()))} -> {len(mct_jobs)} jobs (expected {2 * UPLOADS}), 0 duplicates, "
            f"{len(events)} done events, "
            f"{dead} dead letters, {cron_runs} reconcile runs, {elapsed:.1f} s",
        )
    finally:
        stack.stop()
        downstream.stop()
