"""Scheduler rules with an in-memory twin of the engine interface (no ffmpeg, no HTTP)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from localcloud.mct.service import MctService
from tests.waiting import wait_for as wait_until

PRESET = "bce.video_mp4_640x360_600kbps"


class TwinEngine:
    """Same interface as localcloud.mct.engine; holds each call until ``release`` is set."""

    @dataclass
    class ClipInput:
        bucket: str
        key: str
        start_s: float | None = None
        duration_s: float | None = None

    @dataclass
    class TranscodeRequest:
        job_id: str
        clips: list
        target_bucket: str
        target_key: str
        preset: dict
        watermarks: list = field(default_factory=list)
        encryption_key: str | None = None

    @dataclass
    class TranscodeResult:
        output: dict
        keys: list

    class EngineError(Exception):
        def __init__(self, code, message):
            super().__init__(message)
            self.code, self.message = code, message

    def __init__(self):
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.calls: list[list[str]] = []  # job ids per transcode_many call, in start order

    def transcode_many(self, reqs, storage, on_process=None):
        with self.lock:
            self.calls.append([r.job_id for r in reqs])
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            assert self.release.wait(10), "test never released the engine"
            results = []
            for req in reqs:
                if req.target_key.startswith("fail"):
                    results.append(self.EngineError("TranscodeFailed", f"cannot make {req.target_key}"))
                    continue
                storage.put(req.target_bucket, req.target_key, b"output")
                results.append(self.TranscodeResult({"bitRateInKBps": "1.00"}, [req.target_key]))
            return results
        finally:
            with self.lock:
                self.active -= 1


@pytest.fixture
def make_service(tmp_path):
    services = []

    def make(max_running=8, engine=None):
        engine = engine or TwinEngine()
        service = MctService(tmp_path, credentials=None, max_running=max_running, engine=engine)
        for bucket in ("src", "dst"):
            service.storage.create_bucket(bucket, exist_ok=True)
        for i in range(6):
            service.storage.put("src", f"in{i}.mp4", b"media")
        services.append(service)
        return service, engine

    yield make
    for service in services:
        service.close()


def create_job(service, pipeline, source, target_key):
    body = {"pipelineName": pipeline, "source": {"sourceKey": source},
            "target": {"targetKey": target_key, "presetName": PRESET}}  # fmt: skip
    return service.backend.create_transcoding_job(body)


def status(service, job_id):
    return service.backend.get_transcoding_job(job_id)["jobStatus"]


def test_pipeline_capacity_and_fifo(make_service):
    service, engine = make_service(max_running=8)
    service.backend.create_pipeline({"pipelineName": "p1", "sourceBucket": "src", "targetBucket": "dst",
                                     "config": {"capacity": 2}})  # fmt: skip
    ids = [create_job(service, "p1", f"in{i}.mp4", f"out{i}.mp4") for i in range(5)]
    service.start()
    wait_until(lambda: engine.active == 2)
    assert [status(service, j) for j in ids] == ["RUNNING", "RUNNING", "PENDING", "PENDING", "PENDING"]
    assert sorted(c[0] for c in engine.calls) == sorted(ids[:2])  # the two oldest run first
    engine.release.set()
    wait_until(lambda: all(status(service, j) == "SUCCESS" for j in ids))
    assert engine.max_active <= 2


def test_capacity_one_is_strict_fifo(make_service):
    service, engine = make_service(max_running=8)
    service.backend.create_pipeline({"pipelineName": "p1", "sourceBucket": "src", "targetBucket": "dst",
                                     "config": {"capacity": 1}})  # fmt: skip
    ids = [create_job(service, "p1", f"in{i}.mp4", f"out{i}.mp4") for i in range(5)]
    engine.release.set()
    service.start()
    wait_until(lambda: all(status(service, j) == "SUCCESS" for j in ids))
    assert [c[0] for c in engine.calls] == ids  # first come, first served
    assert engine.max_active == 1


def test_global_cap_across_pipelines(make_service):
    service, engine = make_service(max_running=1)
    for name in ("p1", "p2"):
        service.backend.create_pipeline({"pipelineName": name, "sourceBucket": "src", "targetBucket": "dst"})
    ids = [create_job(service, f"p{i % 2 + 1}", f"in{i}.mp4", f"out{i}.mp4") for i in range(4)]
    service.start()
    wait_until(lambda: engine.active == 1)
    engine.release.set()
    wait_until(lambda: all(status(service, j) == "SUCCESS" for j in ids))
    assert engine.max_active == 1
    assert [c[0] for c in engine.calls] == ids


def test_jobs_sharing_a_source_go_to_the_engine_together(make_service):
    service, engine = make_service()
    service.backend.create_pipeline({"pipelineName": "p1", "sourceBucket": "src", "targetBucket": "dst"})
    same = [create_job(service, "p1", "in0.mp4", f"r{i}.mp4") for i in range(3)]
    other = create_job(service, "p1", "in1.mp4", "x.mp4")
    engine.release.set()
    service.start()
    wait_until(lambda: all(status(service, j) == "SUCCESS" for j in [*same, other]))
    assert sorted(engine.calls, key=len, reverse=True) == [same, [other]]


def test_engine_errors_become_failed_jobs(make_service):
    service, engine = make_service()
    service.backend.create_pipeline({"pipelineName": "p1", "sourceBucket": "src", "targetBucket": "dst"})
    ok = create_job(service, "p1", "in0.mp4", "good.mp4")
    bad = create_job(service, "p1", "in0.mp4", "fail.mp4")
    engine.release.set()
    service.start()
    wait_until(lambda: status(service, bad) == "FAILED" and status(service, ok) == "SUCCESS")
    job = service.backend.get_transcoding_job(bad)
    assert job["error"] == {"code": "TranscodeFailed", "message": "cannot make fail.mp4"}
    assert job["startTime"] <= job["endTime"]
    assert service.backend.get_transcoding_job(ok)["output"] == {"bitRateInKBps": "1.00"}


def test_running_jobs_are_requeued_after_restart(tmp_path, make_service):
    service, _ = make_service()
    service.backend.create_pipeline({"pipelineName": "p1", "sourceBucket": "src", "targetBucket": "dst"})
    job_id = create_job(service, "p1", "in0.mp4", "out.mp4")
    service.backend.mark_running(job_id)  # the process "crashes" mid-job
    service.close()

    again, engine = make_service()
    assert status(again, job_id) == "RUNNING"
    engine.release.set()
    again.start()
    wait_until(lambda: status(again, job_id) == "SUCCESS")
    assert engine.calls == [[job_id]]
    assert again.backend.get_pipeline("p1")["config"]["capacity"] == 20  # state survived


def test_raising_capacity_starts_waiting_jobs_at_once(make_service):
    service, engine = make_service(max_running=8)
    service.backend.create_pipeline({"pipelineName": "p1", "sourceBucket": "src", "targetBucket": "dst",
                                     "config": {"capacity": 1}})  # fmt: skip
    ids = [create_job(service, "p1", f"in{i}.mp4", f"out{i}.mp4") for i in range(3)]
    service.start()
    wait_until(lambda: engine.active == 1)
    body = {**service.backend.get_pipeline("p1"), "config": {"capacity": 3}}
    service.backend.update_pipeline("p1", body)
    wait_until(lambda: engine.active == 3)  # no job had to finish first
    assert all(status(service, j) == "RUNNING" for j in ids)
    engine.release.set()
    wait_until(lambda: all(status(service, j) == "SUCCESS" for j in ids))


def test_renditions_created_one_after_another_share_one_engine_call(make_service):
    # The scheduler is already running when the jobs arrive (as when an upload handler creates them): the first
    # one waits for its siblings instead of starting alone.
    service, engine = make_service()
    service.backend.create_pipeline({"pipelineName": "p1", "sourceBucket": "src", "targetBucket": "dst"})
    engine.release.set()
    service.start()
    ids = [create_job(service, "p1", "in0.mp4", f"r{i}.mp4") for i in range(4)]
    wait_until(lambda: all(status(service, j) == "SUCCESS" for j in ids))
    assert engine.calls == [ids]


class ProcessTwinEngine(TwinEngine):
    """Each call starts one stand-in process (exits when ``exit`` is set), then finishes when ``release`` is set."""

    class Process:
        def __init__(self, exited: threading.Event):
            self.exited = exited

        def wait(self, timeout=None):
            self.exited.wait()
            return 0

        def poll(self):
            return 0 if self.exited.is_set() else None

        def kill(self):
            self.exited.set()

    def __init__(self):
        super().__init__()
        self.exit = threading.Event()

    def transcode_many(self, reqs, storage, on_process=None):
        on_process(self.Process(self.exit))
        return super().transcode_many(reqs, storage, on_process)


def test_a_call_whose_ffmpeg_exited_frees_its_slot_while_it_finishes(make_service):
    service, engine = make_service(max_running=1, engine=ProcessTwinEngine())
    service.backend.create_pipeline({"pipelineName": "p1", "sourceBucket": "src", "targetBucket": "dst"})
    ids = [create_job(service, "p1", f"in{i}.mp4", f"out{i}.mp4") for i in range(2)]
    service.start()
    wait_until(lambda: engine.active == 1)
    assert [status(service, j) for j in ids] == ["RUNNING", "PENDING"]  # one slot, its process still running
    engine.exit.set()  # the first call's process exits; the call itself is still finishing (probe, commit)
    wait_until(lambda: engine.active == 2)
    assert [status(service, j) for j in ids] == ["RUNNING", "RUNNING"]
    engine.release.set()
    wait_until(lambda: all(status(service, j) == "SUCCESS" for j in ids))
