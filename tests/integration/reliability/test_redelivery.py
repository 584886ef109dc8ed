"""Reliability R1/R2 (issue #7): redelivered upload events and an unreliable MCT API never lose or duplicate a job.

The upload function runs in-process (its CFC entrypoint) against localcloud MCT over HTTP with the real SDK; the
engine is ``FastEngine`` (no ffmpeg) so a thousand deliveries take seconds.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from handlers.domain.clock import utcnow
from handlers.domain.statuses import SUCCESS, UPLOAD_DONE
from handlers.on_upload import handler as on_upload_handler
from handlers.services.ports import MctError
from handlers.services.reconcile import reconcile
from handlers.services.submit import CLAIM_LEASE, RetryLater
from localcloud.faults import FaultConfig
from tests.reliability_support import JOBS_PER_UPLOAD, PIPELINE, make_cloud, report
from tests.waiting import wait_for


def output_keys(mct_jobs: list[dict]) -> Counter:
    """Where each MCT job writes: two jobs with one output key would be a duplicate."""
    return Counter(j["target"].get("targetKey") or j["target"].get("keyPrefix") for j in mct_jobs)


def check_one_job_per_target(cloud, uploads: int) -> tuple[int, int]:
    """MCT and the store agree: exactly uploads x k jobs, each output once, every claim has its MCT job."""
    expected = uploads * JOBS_PER_UPLOAD
    mct_jobs = cloud.mct_jobs()
    keys = output_keys(mct_jobs)
    duplicates = sum(n - 1 for n in keys.values())
    store_jobs = cloud.store_jobs()
    assert duplicates == 0, [k for k, n in keys.items() if n > 1][:5]
    assert len(mct_jobs) == expected
    assert len(store_jobs) == expected
    assert {j.job_id for j in store_jobs} == {j["jobId"] for j in mct_jobs}
    return len(mct_jobs), duplicates


def run_r1(tmp_path, request, uploads: int, deliveries: int, workers: int, store_url: str | None = None) -> None:
    # Scheduler not started: jobs stay PENDING, this is only about creating them.
    cloud = make_cloud(tmp_path, start=False, notify=None, store_url=store_url)
    try:
        events = [cloud.upload(f"incoming/r1/clip{i:03d}.mp4") for i in range(uploads)]
        work = [e for e in events for _ in range(deliveries)]
        random.Random(1).shuffle(work)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            summaries = list(pool.map(lambda e: on_upload_handler(e, None), work))
        elapsed = time.monotonic() - started

        assert sum(s["submitted"] for s in summaries) == uploads * JOBS_PER_UPLOAD
        assert sum(s["submitted"] + s["existing"] for s in summaries) == uploads * deliveries * JOBS_PER_UPLOAD
        # Counted through the MCT API too (the real SDK's list calls), not only the service state.
        listed = (
            cloud.mct.client.list_jobs(PIPELINE).jobs
            + cloud.mct.client.list_thumbnail_jobs_by_pipeline(PIPELINE).thumbnails
        )
        assert len(listed) == uploads * JOBS_PER_UPLOAD
        jobs, duplicates = check_one_job_per_target(cloud, uploads)
        backend = cloud.deps.store.dialect
        report(
            request,
            f"R1 ({backend} store): {uploads} uploads x {deliveries} deliveries ({workers} concurrent) -> {jobs} jobs "
            f"in MCT and store (expected {uploads * JOBS_PER_UPLOAD}), {duplicates} duplicates, {elapsed:.1f} s",
        )
    finally:
        if store_url:
            cloud.deps.store.drop_all()
        cloud.stop()


def test_r1_every_upload_event_delivered_10x_concurrently_creates_each_job_once(tmp_path, request):
    run_r1(tmp_path, request, uploads=100, deliveries=10, workers=32)


def test_r1_on_mysql_and_postgresql(tmp_path, request, server_db_url):
    """The same race on the server databases the functions use in CFC (skipped when their URL is not set)."""
    run_r1(tmp_path, request, uploads=30, deliveries=10, workers=16, store_url=server_db_url)


def run_r2(tmp_path, request, uploads: int, error_rate: float, label: str = "R2") -> None:
    faults = FaultConfig(
        api_error_rate=error_rate, api_error_kinds=("500", "503", "throttle", "timeout"), timeout_s=0.2, seed=2
    )
    cloud = make_cloud(tmp_path, faults=faults)
    try:
        events = [cloud.upload(f"incoming/r2/clip{i:03d}.mp4") for i in range(uploads)]
        work = events * 2  # BOS delivers every event at least once: here twice
        random.Random(2).shuffle(work)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            accepted = list(pool.map(cloud.deliver_like_cfc, work))
        dead_lettered = accepted.count(False)

        rounds = 0

        def finished() -> bool:
            nonlocal rounds
            rounds += 1
            reconcile(cloud.deps, stale_after=timedelta(0))  # lost creates and callbacks: the safety net
            ups = {u.upload_id: u for _, u in cloud.deps.store.list_jobs(limit=100_000)}
            return len(ups) == uploads and all(u.status == UPLOAD_DONE for u in ups.values())

        wait_for(finished, timeout=120, interval=0.2, what="every upload done")
        elapsed = time.monotonic() - started
        cloud.wait_idle()  # late duplicate callbacks, if any, have arrived: they must have changed nothing
        reconcile(cloud.deps, stale_after=timedelta(0))

        jobs, duplicates = check_one_job_per_target(cloud, uploads)
        by_id = {j["jobId"]: j for j in cloud.mct_jobs()}
        for job in cloud.store_jobs():
            assert job.status == SUCCESS == by_id[job.job_id]["jobStatus"], (job, by_id[job.job_id])
        events_out = cloud.uploads_done_events()
        assert sorted(e["upload"]["key"] for e in events_out) == sorted(e["events"][0]["content"]["object"]
                                                                        for e in events)  # fmt: skip
        injected = dict(sorted(faults.injected.items()))
        assert sum(injected.values()) > 0
        report(
            request,
            f"{label}: {uploads} uploads x 2 deliveries, {error_rate:.0%} MCT API faults {injected} -> {jobs} jobs "
            f"(expected {uploads * JOBS_PER_UPLOAD}), {duplicates} duplicates, {len(events_out)} done events, "
            f"{dead_lettered} deliveries gave up after CFC retries (finished by the reconciler in {rounds} rounds), "
            f"{elapsed:.1f} s",
        )
    finally:
        cloud.stop()


def test_r2_30_percent_mct_api_faults_every_upload_gets_all_its_jobs_once(tmp_path, request):
    run_r2(tmp_path, request, uploads=20, error_rate=0.3)


@pytest.mark.slow
def test_r2_slow_200_uploads_at_50_percent_faults(tmp_path, request):
    run_r2(tmp_path, request, uploads=200, error_rate=0.5, label="R2(slow)")


class ProcessDied(BaseException):
    """What a killed CFC instance looks like to the code after the call: nothing after it runs."""


class DiesAfterCreate:
    """The MCT port, but the function instance dies right after MCT created a job (before the id is stored)."""

    def __init__(self, mct):
        self.mct = mct

    def __getattr__(self, name):
        return getattr(self.mct, name)

    def create_job(self, *args):
        self.mct.create_job(*args)
        raise ProcessDied()

    def create_thumbnail_job(self, *args):
        self.mct.create_thumbnail_job(*args)
        raise ProcessDied()


class ListFails:
    """The MCT port while MCT's list API is down (503)."""

    def __init__(self, mct):
        self.mct = mct

    def __getattr__(self, name):
        return getattr(self.mct, name)

    def list_jobs(self, *args):
        raise MctError("injected: list unavailable", status=503, code="ServiceUnavailable", transient=True)


def test_r1_upload_function_crash_after_create_job_makes_no_second_job(tmp_path, request):
    cloud = make_cloud(tmp_path, start=False, notify=None)
    try:
        event = cloud.upload("incoming/crash/clip.mp4")
        real = cloud.deps.mct
        cloud.deps.mct = DiesAfterCreate(real)
        with pytest.raises(ProcessDied):
            on_upload_handler(event, None)
        cloud.deps.mct = real
        created = len(cloud.mct_jobs())  # MCT has these; the store does not know their ids
        assert created >= 1  # (the executor may cancel the calls that had not started yet)
        again = on_upload_handler(event, None)  # a claim of a possibly live invocation is left alone
        assert again["existing"] == created and again["submitted"] == JOBS_PER_UPLOAD - created, again
        # Later (the claim lease has run out): CFC's retry, a BOS redelivery and the reconciler all try again;
        # the first of them cannot even list MCT's jobs (MCT unavailable), which must not lead to a new job either.
        cloud.deps.now = lambda: utcnow() + CLAIM_LEASE + timedelta(seconds=1)
        cloud.deps.mct = ListFails(real)
        with pytest.raises(RetryLater):
            on_upload_handler(event, None)
        cloud.deps.mct = real
        on_upload_handler(event, None)
        reconcile(cloud.deps)
        jobs, duplicates = check_one_job_per_target(cloud, 1)
        report(request, f"R1 crash: upload function killed after {created} create_job call(s) -> {jobs} jobs "
                        f"(expected {JOBS_PER_UPLOAD}), {duplicates} duplicates")  # fmt: skip
    finally:
        cloud.stop()
