"""Reliability R8 (issue 12): BOS upload events are durable. `autotranscode up` runs as a subprocess (real ffmpeg,
template.yaml's functions in CFC worker processes); the test talks to it with the real BosClient only.

- Crash after acknowledge: 24 uploads PUT from 8 threads and answered 200, then the whole `up` process group is
  SIGKILLed at once. `up` started again on the same --data-dir must finish every upload by itself (no command
  run): each one final in the store with exactly one "upload done" event.
- Dead letters: an upload event whose function fails every CFC retry is kept, `up` reports it at start,
  `autotranscode events dead-letters` lists it and `autotranscode events replay` delivers it.

"Idle" is read from the stack's own state (no fixed sleeps): the CFC event queue empty, every MCT job final,
MCT's callback outbox empty.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.services.bos.bos_client import BosClient

from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.samples import make_sample_clip
from localcloud.serve import serve_in_thread
from tests.reliability_support import DOWNSTREAM_SECRET, report
from tests.unit.handlers.receiver import Receiver
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[3]
UPLOADS, THREADS = 24, 8
CLI = [sys.executable, "-m", "autotranscode.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_app(tmp_path: Path, downstream_url: str) -> Path:
    """template.yaml as shipped, with the example config plus a downstream receiver and short backoffs."""
    config = json.loads((REPO / "autotranscode.example.json").read_text())
    config["mct"]["backoff_seconds"] = 0.05
    config["downstream"] = {"url": downstream_url, "secret": DOWNSTREAM_SECRET, "backoff_seconds": 0.05}
    config_path = tmp_path / "autotranscode.json"
    config_path.write_text(json.dumps(config))
    template = (REPO / "template.yaml").read_text()
    template = template.replace("CodeUri: ./", f"CodeUri: {REPO}/")
    template = template.replace(
        "AUTOTRANSCODE_CONFIG: autotranscode.example.json", f"AUTOTRANSCODE_CONFIG: {config_path}"
    )
    path = tmp_path / "template.yaml"
    path.write_text(template)
    return path


class Up:
    """`autotranscode up` in its own process group (so SIGKILL takes its function workers and ffmpeg too)."""

    def __init__(self, template: Path, data_dir: Path, log_path: Path, *extra: str, ports: dict | None = None):
        # A restart uses the same ports, as the same command line would: MCT's queued callbacks name the CFC URL.
        self.ports = ports or {"bos": free_port(), "mct": free_port(), "cfc": free_port()}
        self.bos_port = self.ports["bos"]
        argv = [*CLI, "up", "--template", str(template), "--data-dir", str(data_dir), "--bos-port",
                str(self.bos_port), "--mct-port", str(self.ports["mct"]), "--cfc-port", str(self.ports["cfc"]),
                *extra]  # fmt: skip
        self.log_path = log_path
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in wait()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # fmt: skip
        config = BceClientConfiguration(
            credentials=BceCredentials(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY), endpoint=f"127.0.0.1:{self.bos_port}"
        )
        self.bos = BosClient(config)
        wait_for(self._ready, timeout=90, interval=0.1, what=f"`autotranscode up` ready (log: {log_path})")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"`autotranscode up` exited with {self.proc.returncode}:\n{self.output()}")
        return "Ctrl-C stops" in self.output()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill_group(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.wait()
        with contextlib.suppress(OSError):  # whatever is left of the group (nothing, normally)
            os.killpg(self.proc.pid, signal.SIGKILL)

    def wait(self) -> None:
        try:
            self.proc.wait(60)
        finally:
            self.log.close()


def rows(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:  # table not created yet
            return []


def idle(data_dir: Path) -> bool:
    """Nothing left to do: no event queued or being delivered, every MCT job final, no callback to send."""
    queued = rows(data_dir / "cfc" / "async.sqlite3", "SELECT COUNT(*) FROM invocations")
    mct = data_dir / "mct" / "mct.sqlite3"
    unfinished = rows(mct, "SELECT COUNT(*) FROM jobs WHERE status NOT IN ('SUCCESS', 'FAILED')")
    outbox = rows(mct, "SELECT COUNT(*) FROM outbox")
    return all(r and r[0][0] == 0 for r in (queued, unfinished, outbox))


def uploads_state(data_dir: Path) -> dict[str, str]:
    """object key -> upload status in the functions' store."""
    return dict(rows(data_dir / "autotranscode.sqlite3", "SELECT object_key, status FROM at_uploads"))


def done_events(receiver: Receiver) -> Counter:
    return Counter(json.loads(r["body"])["upload"]["key"] for r in receiver.requests if r["status"] == 200)


@pytest.mark.parametrize("kill", ["at_once", "mid_submission"])
def test_r8_uploads_acknowledged_then_sigkill_all_finish_after_restart(tmp_path, request, kill):
    """``at_once``: SIGKILL as soon as every PUT was answered (the issue's scenario: most events not yet delivered).
    ``mid_submission``: SIGKILL once the functions recorded a third of the uploads (invocations cut short)."""
    receiver = Receiver()
    downstream = serve_in_thread(receiver)
    template = write_app(tmp_path, downstream.url + "/events")
    data_dir, log_path = tmp_path / "data", tmp_path / "up-1.log"
    clip = make_sample_clip(tmp_path / "clip.mp4", seconds=1)
    keys = [f"incoming/r8/clip{i:02d}.mp4" for i in range(UPLOADS)]
    up = Up(template, data_dir, log_path)
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(THREADS) as pool:  # every PUT answered 200 (a failure raises here)
            list(pool.map(lambda key: up.bos.put_object_from_file("uploads", key, str(clip)), keys))
        acked = time.monotonic()
        if kill == "mid_submission":
            wait_for(lambda: len(uploads_state(data_dir)) >= UPLOADS // 3, timeout=60, interval=0.02,
                     what=f"a third of the uploads recorded (log: {log_path})")  # fmt: skip
        up.kill_group()
        before_restart = uploads_state(data_dir)
        # Claims the killed process took but had not recorded a job for: the functions leave those to their lease
        # (handlers.services.submit.CLAIM_LEASE, 330 s) and the reconciler, so a restart alone cannot finish them.
        orphans = rows(data_dir / "autotranscode.sqlite3",
                       "SELECT COUNT(*) FROM at_jobs WHERE status = 'CLAIMED' AND job_id IS NULL")  # fmt: skip
        orphans = orphans[0][0] if orphans else 0
        events_before = sum(done_events(receiver).values())
        log_path = tmp_path / "up-2.log"
        up = Up(template, data_dir, log_path, ports=up.ports)  # no other command: `up` alone must finish the work
        restarted = time.monotonic()

        def finished() -> bool:
            states = uploads_state(data_dir)
            return len(states) == UPLOADS and set(states.values()) == {"DONE"} and idle(data_dir)

        what = f"every upload done and the stack idle ({orphans} orphaned claim(s) at the kill; log: {log_path})"
        wait_for(finished, timeout=240, interval=0.25, what=what)
        elapsed, after_restart = time.monotonic() - started, time.monotonic() - restarted
    finally:
        up.stop()
        downstream.stop()

    assert sorted(uploads_state(data_dir)) == keys
    events = done_events(receiver)
    assert events == Counter({key: 1 for key in keys}), events  # exactly one "upload done" event per upload
    recovered = next((line for line in up.output().splitlines() if line.startswith("  events ")), "nothing queued")
    report(
        request,
        f"R8 ({kill}): {UPLOADS} uploads PUT from {THREADS} threads in {acked - started:.1f} s, `up` SIGKILLed "
        f"(store knew {len(before_restart)}, {events_before} done events, {orphans} orphaned claims) -> restart: "
        f"{recovered.strip()}; "
        f"{len(events)}/{UPLOADS} uploads done with one event each, {elapsed:.1f} s in all "
        f"({after_restart:.1f} s after the restart)",
    )


def test_r8_dead_lettered_event_is_reported_listed_and_replayed(tmp_path, request):
    receiver = Receiver()
    downstream = serve_in_thread(receiver)
    template = write_app(tmp_path, downstream.url + "/events")
    data_dir, log_path = tmp_path / "data", tmp_path / "up-1.log"
    key = "incoming/dlq/clip.mp4"
    # First run: every MCT API call fails (503), so OnUpload asks CFC to retry until its retries are spent.
    # The upload arrives as a file dropped into the bucket directory (the faults cover the BOS API too).
    up = Up(template, data_dir, log_path, "--no-provision", "--faults", "api_error_rate=1,api_error_kinds=503")
    try:
        target = data_dir / "buckets" / "uploads" / key
        target.parent.mkdir(parents=True, exist_ok=True)
        make_sample_clip(tmp_path / "clip.mp4", seconds=1).replace(target)
        queue = data_dir / "cfc" / "async.sqlite3"
        wait_for(lambda: rows(queue, "SELECT COUNT(*) FROM dead_letters") == [(1,)], timeout=120, interval=0.2,
                 what=f"the event dead-lettered (log: {log_path})")  # fmt: skip
    finally:
        up.stop()
    assert rows(queue, "SELECT COUNT(*) FROM invocations") == [(0,)]

    log_path = tmp_path / "up-2.log"
    up = Up(template, data_dir, log_path, ports=up.ports)  # no faults now
    try:
        assert "1 dead-lettered event(s) (OnUpload)" in up.output()  # reported at start
        listed = subprocess.run([*CLI, "events", "dead-letters", "--data-dir", str(data_dir), "--json"],
                                cwd=REPO, capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        [dead] = json.loads(listed.stdout)["dead_letters"]
        assert dead["function"] == "OnUpload" and dead["attempts"] == 3
        assert dead["event"]["events"][0]["content"]["object"] == key
        assert dead["error"]["errorType"] == "RetryLater"
        assert uploads_state(data_dir).get(key) != "DONE" and not receiver.requests
        replayed = subprocess.run([*CLI, "events", "replay", dead["id"], "--data-dir", str(data_dir)],
                                  cwd=REPO, capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        assert "queued 1 event(s)" in replayed.stdout

        def finished() -> bool:
            return uploads_state(data_dir).get(key) == "DONE" and idle(data_dir)

        wait_for(finished, timeout=120, interval=0.25, what=f"the replayed upload done (log: {log_path})")
        again = subprocess.run([*CLI, "events", "dead-letters", "--data-dir", str(data_dir)],
                               cwd=REPO, capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        assert again.stdout.startswith("no dead letters")
    finally:
        up.stop()
        downstream.stop()
    assert done_events(receiver) == Counter({key: 1})
    report(
        request, f"R8 dead letter: 1 event dead-lettered after {dead['attempts']} attempts, listed, replayed -> done"
    )
