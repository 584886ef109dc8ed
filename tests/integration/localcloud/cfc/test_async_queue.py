"""Durable asynchronous invocations (localcloud CFC): recorded before the caller is answered, run again after a
crash, retried per the policy, dead-lettered, listed and replayed (also from another process's connection)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.cfc import CfcRuntime
from localcloud.cfc.async_queue import AsyncQueue, RetryPolicy, queue_path
from tests.integration.localcloud.cfc.test_runtime import TEMPLATE, Logs, bos_event, received


def make_runtime(data_dir: Path, out_dir: Path) -> CfcRuntime:
    return CfcRuntime(TEMPLATE, {"OUT_DIR": str(out_dir)}, data_dir, retry_delays=(0.05, 0.1), log_sink=Logs())


@pytest.fixture
def out_dir(tmp_path):
    path = tmp_path / "out"
    path.mkdir()
    return path


def test_an_event_is_committed_before_dispatch_returns(tmp_path, out_dir):
    rt = make_runtime(tmp_path / "data", out_dir)  # not started: nothing runs it
    try:
        other = AsyncQueue(queue_path(tmp_path / "data"))  # what a restarted process would read
        [future] = rt.dispatch_bos_event(bos_event("uploads/a.mp4"))
        assert other.pending() == 1
        other.close()
        assert future.result(timeout=30).ok  # and it runs (workers start with the first async invocation)
    finally:
        rt.stop()


def test_invocation_running_when_the_process_died_runs_at_the_next_start(tmp_path, out_dir):
    data = tmp_path / "data"
    crashed = AsyncQueue(queue_path(data))
    crashed.enqueue("Upload", bos_event("uploads/survivor.mp4"))
    crashed.enqueue("Upload", bos_event("uploads/queued.mp4"))
    assert crashed.claim() is not None  # running when the process was SIGKILLed: never finished
    crashed.close()
    rt = make_runtime(data, out_dir)
    try:
        rt.start()
        assert rt.recovered == 2
        assert rt.wait_idle(timeout=30)
        assert received(out_dir) == [("upload", "uploads/queued.mp4"), ("upload", "uploads/survivor.mp4")]
        assert rt.dead_letters() == []
    finally:
        rt.stop()


def test_dead_letter_replayed_by_another_process_while_running(tmp_path):
    rt = CfcRuntime(TEMPLATE, None, tmp_path / "data", retry_delays=(0.01, 0.01), log_sink=Logs())
    counter = tmp_path / "count"
    try:
        rt.start()
        outcome = rt.invoke_async("Flaky", {"counter": str(counter), "fail_times": 3}).result(timeout=30)
        assert not outcome.ok and counter.read_text() == "3"
        cli = AsyncQueue(queue_path(tmp_path / "data"))  # `autotranscode events replay` in another process
        [dead] = cli.dead_letters()
        assert dead.id == outcome.invocation_id and dead.function == "Flaky" and dead.attempts == 3
        with pytest.raises(KeyError, match="nope"):
            cli.replay([dead.id, "nope"])
        assert [d.id for d in cli.dead_letters()] == [dead.id]  # all or nothing
        assert cli.replay([dead.id]) == [dead.id]
        cli.close()
        assert rt.wait_idle(timeout=30)  # the running workers look at the file at least once a second
        assert counter.read_text() == "4" and rt.dead_letters() == []
    finally:
        rt.stop()


def test_policy_exhaustion_and_maximum_age(tmp_path):
    queue = AsyncQueue(tmp_path / "q.sqlite3")
    policy = RetryPolicy(retry_delays=(5.0, 7.0), max_age_seconds=100)
    queue.enqueue("Fn", {"n": 1}, "one", now=1000)
    error = {"errorType": "E", "errorMessage": "boom", "stackTrace": []}
    inv = queue.claim(now=1000)
    assert not queue.failed(inv, error, policy, now=1001)
    assert queue.claim(now=1005) is None and queue.next_due_in(now=1005) == pytest.approx(1.0)
    inv = queue.claim(now=1006)
    assert inv.attempts == 1 and not queue.failed(inv, error, policy, now=1006)
    inv = queue.claim(now=1013)
    assert inv.attempts == 2 and queue.failed(inv, error, policy, now=1013)  # third failure: dead
    [dead] = queue.dead_letters()
    assert (dead.id, dead.attempts, dead.error, queue.pending()) == ("one", 3, error, 0)
    queue.enqueue("Fn", {"n": 2}, "old", now=1000)
    inv = queue.claim(now=1200)
    assert queue.failed(inv, error, policy, now=1200)  # older than the policy keeps events: no more retries
    assert [d.id for d in queue.dead_letters()] == ["one", "old"]


def test_dead_letter_files_of_an_older_localcloud_move_into_the_table(tmp_path):
    folder = tmp_path / "data" / "cfc" / "dead-letter" / "Flaky"
    folder.mkdir(parents=True)
    record = {
        "function": "Flaky", "invocationId": "abc", "attempts": 3, "firstAttemptAt": "2026-11-01T00:00:00.000000Z",
        "failedAt": "2026-11-01T00:00:02.000000Z", "error": {"errorType": "ValueError"}, "event": {"x": 1},
    }  # fmt: skip
    (folder / "abc.json").write_text(json.dumps(record))
    rt = CfcRuntime(TEMPLATE, None, tmp_path / "data", log_sink=Logs())
    try:
        rt.start()
        [dead] = rt.dead_letters()
        assert (dead.id, dead.function, dead.event, dead.attempts) == ("abc", "Flaky", {"x": 1}, 3)
        assert dead.first_attempt_at.startswith("2026-11-01T00:00:00") and not (folder / "abc.json").exists()
    finally:
        rt.stop()
