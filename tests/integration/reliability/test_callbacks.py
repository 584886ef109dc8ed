"""Reliability R3/R4 (issue #7): replayed, shuffled, stale and lost MCT callbacks.

R3: every callback MCT sent is replayed 5x, mixed with stale copies (an authentic callback saying RUNNING after
    the job ended), shuffled and POSTed concurrently to the self-hosted webhook -> the store equals get_job.
R4: every callback dropped -> the reconciler (the cron function) records every result.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests

from handlers.domain.clock import utcnow
from handlers.domain.statuses import FAILED, KIND_THUMBNAIL, PENDING, SUCCESS, UPLOAD_DONE
from handlers.services.reconcile import reconcile
from handlers.wire.mct_views import JobView
from localcloud.faults import FaultConfig
from localcloud.serve import serve_in_thread
from tests.reliability_support import JOBS_PER_UPLOAD, URL_TOKEN, FastEngine, hints_drained, make_cloud, report
from tests.unit.handlers.receiver import Receiver
from tests.waiting import wait_for


def upload_all(cloud, uploads: int, failing: int) -> list[dict]:
    """``failing`` of the uploads get transcoding jobs the engine fails (FAILED is a final state too): 2 each."""
    events = []
    for i in range(uploads):
        folder = "fail" if i < failing else "ok"
        events.append(cloud.upload(f"incoming/{folder}/clip{i:03d}.mp4"))
    for event in events:
        assert cloud.deliver_like_cfc(event)
    return events


def mct_terminal(cloud, expected: int) -> bool:
    jobs = cloud.mct_jobs()
    return len(jobs) == expected and all(j["jobStatus"] in (SUCCESS, FAILED) for j in jobs)


def assert_store_matches_get_job(cloud) -> dict[str, int]:
    """The recorded state of every job equals what MCT's get_job says now (status and the stored result)."""
    statuses: dict[str, int] = {}
    for job in cloud.store_jobs():
        get = cloud.deps.mct.get_thumbnail_job if job.kind == KIND_THUMBNAIL else cloud.deps.mct.get_job
        view: JobView = get(job.job_id)
        assert job.status == view.status, (job.target, job.job_id, job.status, view.status)
        assert job.result == view.result(), job.job_id
        statuses[job.status] = statuses.get(job.status, 0) + 1
    return statuses


def assert_one_done_event_per_upload(cloud, events: list[dict]) -> int:
    done = cloud.uploads_done_events()
    assert sorted(d["upload"]["key"] for d in done) == sorted(e["events"][0]["content"]["object"] for e in events)
    ups = {u.upload_id: u for _, u in cloud.deps.store.list_jobs(limit=100_000)}
    assert len(ups) == len(events) and all(u.status == UPLOAD_DONE for u in ups.values())
    return len(done)


def stale_copy(body: bytes) -> bytes:
    """The same notification as if sent while the job still ran: RUNNING, a new messageId."""
    message = json.loads(body)
    inner = json.loads(message["messageBody"])
    inner["jobStatus"] = "RUNNING"
    inner.pop("output", None)
    inner.pop("endTime", None)
    message["messageBody"] = json.dumps(inner)
    message["messageId"] = str(uuid.uuid4())
    return json.dumps(message).encode()


def test_r3_callbacks_replayed_5x_shuffled_and_stale_final_state_equals_get_job(tmp_path, request):
    uploads, failing, replays = 20, 4, 5
    recorder = Receiver()  # MCT's callbacks land here first, so the test can replay them
    recorder_server = serve_in_thread(recorder)
    cloud = make_cloud(tmp_path, engine=FastEngine(delay=0.02), notify=recorder_server.url + "/mct/callback")
    cloud.servers.append(recorder_server)
    try:
        events = upload_all(cloud, uploads, failing)
        expected = uploads * JOBS_PER_UPLOAD
        wait_for(lambda: mct_terminal(cloud, expected), what="all MCT jobs final")
        wait_for(lambda: len(recorder.requests) >= expected, what="every callback sent")
        originals = [r["body"] for r in recorder.requests]
        assert cloud.uploads_done_events() == []  # nothing reached the functions yet

        bodies = [b for b in originals for _ in range(replays)] + [stale_copy(b) for b in originals]
        random.Random(3).shuffle(bodies)
        url = f"{cloud.callback_url}?token={URL_TOKEN}"
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool, requests.Session() as session:
            answers = list(pool.map(lambda b: session.post(url, data=b, timeout=30), bodies))
        elapsed = time.monotonic() - started

        assert [a.status_code for a in answers] == [200] * len(bodies), {a.status_code for a in answers}
        outcomes: dict[str, int] = {}
        for a in answers:
            outcomes[a.json()["status"]] = outcomes.get(a.json()["status"], 0) + 1
        # Answered once recorded: the webhook's verifier reads get_job in the background.
        wait_for(lambda: hints_drained(cloud.deps.store), what="accepted callbacks verified")
        verified = time.monotonic() - started
        statuses = assert_store_matches_get_job(cloud)
        assert statuses == {SUCCESS: expected - 2 * failing, FAILED: 2 * failing}  # both renditions fail
        cloud.wait_idle()  # a second "upload done" would have shown up by now
        done = assert_one_done_event_per_upload(cloud, events)
        report(
            request,
            f"R3: {len(originals)} callbacks x {replays} replays + {len(originals)} stale RUNNING copies = "
            f"{len(bodies)} POSTs, shuffled, 8 concurrent -> {sum(statuses.values())}/{expected} jobs equal get_job "
            f"{statuses}, answers {outcomes}, {done} done events (expected {uploads}), answered in {elapsed:.1f} s, "
            f"verified after {verified:.1f} s",
        )
    finally:
        cloud.stop()


def test_r4_every_callback_dropped_the_reconciler_records_every_result(tmp_path, request):
    uploads, failing = 20, 3
    faults = FaultConfig(callback_drop_rate=1.0, seed=4)
    cloud = make_cloud(tmp_path, faults=faults)
    try:
        events = upload_all(cloud, uploads, failing)
        expected = uploads * JOBS_PER_UPLOAD
        wait_for(lambda: mct_terminal(cloud, expected), what="all MCT jobs final")
        cloud.wait_idle()  # every callback sent (and dropped)
        assert {j.status for j in cloud.store_jobs()} == {PENDING}  # no callback arrived
        assert cloud.mct.service.notifier.delivered == 0
        assert faults.injected.get("callback_dropped") == expected

        assert reconcile(cloud.deps)["checked"] == 0  # not stale yet: the cron leaves fresh jobs alone
        # The cron trigger some minutes later (stale_after_minutes=10 by default).
        cloud.deps.now = lambda: utcnow() + timedelta(minutes=11)
        started = time.monotonic()
        summary = reconcile(cloud.deps)
        elapsed = time.monotonic() - started

        assert summary["checked"] == expected and summary["updated"] == expected and summary["errors"] == 0
        statuses = assert_store_matches_get_job(cloud)
        assert statuses == {SUCCESS: expected - 2 * failing, FAILED: 2 * failing}  # both renditions fail
        done = assert_one_done_event_per_upload(cloud, events)
        assert reconcile(cloud.deps)["checked"] == 0  # nothing left to look at
        report(
            request,
            f"R4: {expected} jobs, callbacks dropped {faults.injected.get('callback_dropped')}/{expected} -> "
            f"reconciler recorded {summary['updated']}/{expected} {statuses}, {done} done events "
            f"(expected {uploads}), reconcile took {elapsed:.1f} s",
        )
    finally:
        cloud.stop()


def test_r3_callbacks_racing_the_reconciler_give_one_done_event_per_upload(tmp_path, request):
    """Replayed callbacks and reconciler runs, interleaved on 11 threads, on the same finished jobs."""
    uploads = 20
    recorder = Receiver()
    recorder_server = serve_in_thread(recorder)
    cloud = make_cloud(tmp_path, notify=recorder_server.url + "/mct/callback")
    cloud.servers.append(recorder_server)
    try:
        events = upload_all(cloud, uploads, failing=2)
        expected = uploads * JOBS_PER_UPLOAD
        wait_for(lambda: mct_terminal(cloud, expected), what="all MCT jobs final")
        wait_for(lambda: len(recorder.requests) >= expected, what="every callback sent")
        bodies = [r["body"] for r in recorder.requests] * 3
        random.Random(6).shuffle(bodies)
        url = f"{cloud.callback_url}?token={URL_TOKEN}"
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=11) as pool, requests.Session() as session:
            runs = [pool.submit(reconcile, cloud.deps, timedelta(0))]
            posts = []
            for i, body in enumerate(bodies):
                posts.append(pool.submit(session.post, url, data=body, timeout=30))
                if i % 36 == 35:
                    runs.append(pool.submit(reconcile, cloud.deps, timedelta(0)))
            answers = [f.result() for f in posts]
            summaries = [f.result() for f in runs]
        elapsed = time.monotonic() - started
        assert {a.status_code for a in answers} == {200}
        statuses = assert_store_matches_get_job(cloud)
        cloud.wait_idle()
        done = assert_one_done_event_per_upload(cloud, events)
        by_reconciler = sum(s["updated"] for s in summaries)
        report(
            request,
            f"R3 race: {len(bodies)} callback POSTs + 6 reconcile runs at once -> {sum(statuses.values())}/{expected} "
            f"jobs equal get_job ({by_reconciler} recorded by the reconciler), {done} done events "
            f"(expected {uploads}), {elapsed:.1f} s",
        )
    finally:
        cloud.stop()


def test_r4_downstream_app_down_the_reconciler_redelivers_every_done_event(tmp_path, request):
    """The user's app answers 500 for a while: every "upload done" event still arrives (once acknowledged)."""
    uploads = 10
    cloud = make_cloud(tmp_path)
    cloud.receiver.statuses = [500] * 40  # 10 uploads x 3 attempts each fail, and some more
    try:
        events = upload_all(cloud, uploads, failing=0)

        def all_done() -> bool:
            reconcile(cloud.deps, stale_after=timedelta(0))  # not what this test is about: no job left behind
            ups = {u.upload_id: u for _, u in cloud.deps.store.list_jobs(limit=1000)}
            return len(ups) == uploads and all(u.status == UPLOAD_DONE for u in ups.values())

        wait_for(all_done, what="uploads done")
        wait_for(lambda: len(cloud.receiver.requests) >= 30, what="first delivery attempts")
        assert cloud.uploads_done_events() == []  # every attempt so far was refused
        runs = 0
        while len(cloud.uploads_done_events()) < uploads and runs < 5:
            runs += 1  # the cron, each run redeliver_after_minutes (5) after the last attempt
            cloud.deps.now = lambda later=timedelta(minutes=6 * runs): utcnow() + later
            reconcile(cloud.deps)
        done = assert_one_done_event_per_upload(cloud, events)
        refused = sum(1 for r in cloud.receiver.requests if r["status"] != 200)
        report(
            request,
            f"R4 downstream: app down for {refused} POSTs -> {done}/{uploads} done events acknowledged after "
            f"{runs} reconcile run(s), none twice",
        )
    finally:
        cloud.stop()


class SlowToRecord:
    """The MCT port, but the function takes a while after create_job returns before it stores the job id (a busy
    database, a GC pause): a fast job's callback can arrive first."""

    def __init__(self, mct, delay: float):
        self.mct, self.delay = mct, delay

    def __getattr__(self, name):
        return getattr(self.mct, name)

    def create_job(self, *args):
        job_id = self.mct.create_job(*args)
        time.sleep(self.delay)
        return job_id

    def create_thumbnail_job(self, *args):
        job_id = self.mct.create_thumbnail_job(*args)
        time.sleep(self.delay)
        return job_id


def test_r3_callback_arriving_before_the_job_id_is_stored_is_not_lost(tmp_path, request):
    uploads = 3
    cloud = make_cloud(tmp_path)
    cloud.deps.mct = SlowToRecord(cloud.deps.mct, delay=0.5)
    try:
        events = upload_all(cloud, uploads, failing=0)
        expected = uploads * JOBS_PER_UPLOAD
        wait_for(lambda: mct_terminal(cloud, expected), what="all MCT jobs final")
        # No reconciler here: the callbacks alone must get every job recorded.
        wait_for(lambda: {j.status for j in cloud.store_jobs()} == {SUCCESS}, timeout=10, what="all recorded")
        # The last job's callback records it, then marks the upload done and delivers: give delivery its moment.
        wait_for(lambda: len(cloud.uploads_done_events()) >= uploads, timeout=10, what="done events delivered")
        done = assert_one_done_event_per_upload(cloud, events)
        report(request, f"R3 early callbacks: {expected} callbacks before their job ids were stored -> all recorded, "
                        f"{done} done events (expected {uploads})")  # fmt: skip
    finally:
        cloud.stop()
