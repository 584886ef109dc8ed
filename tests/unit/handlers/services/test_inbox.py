"""handlers.services.inbox: callbacks acknowledged once durably recorded, then verified with get_job in the
background; deferred while the job is unknown (submission in flight) or MCT fails; left-over hints survive a stop."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.domain.clock import utcnow
from handlers.domain.ids import claim_id_for, upload_id_for
from handlers.domain.records import Job, Upload
from handlers.domain.statuses import CLAIMED, SUCCESS, UPLOAD_DONE
from handlers.services.inbox import CallbackInbox
from handlers.services.submit import process_upload_event
from handlers.testing.memory_mct import MemoryMct
from handlers.testing.memory_store import MemoryStore
from tests.unit.handlers.conftest import bos_event, make_deps
from tests.waiting import wait_for


def finished_jobs(deps) -> list[str]:
    process_upload_event(deps, bos_event("incoming/x.mp4"))
    for job_id, job in deps.mct.jobs.items():
        if job["kind"] == "thumbnail":
            deps.mct.set_status(job_id, "SUCCESS", keys=[job["target"]["keyPrefix"] + "0.jpg"])
        else:
            deps.mct.set_status(job_id, "SUCCESS", output={"video": {"widthInPixel": 640}})
    return list(deps.mct.jobs)


@pytest.fixture
def inbox_for():
    started = []

    def make(deps):
        inbox = CallbackInbox(deps)
        started.append(inbox)
        return inbox

    yield make
    for inbox in started:
        inbox.stop()


def test_accepted_callbacks_are_verified_and_complete_the_upload(inbox_for):
    deps = make_deps()
    job_ids = finished_jobs(deps)
    inbox = inbox_for(deps)
    futures = [inbox.submit(job_id, f"m-{job_id}") for job_id in job_ids]
    assert [f.result(5) for f in futures] == [True] * len(job_ids)
    # A redelivered message is answered as a duplicate and changes nothing.
    assert inbox.submit(job_ids[0], f"m-{job_ids[0]}").result(5) is False
    upload_id = upload_id_for("uploads", "incoming/x.mp4", "etag-1")
    assert wait_for(lambda: deps.store.get_upload(upload_id).status == UPLOAD_DONE)
    assert {j.status for j in deps.store.jobs_for_upload(upload_id)} == {SUCCESS}
    assert wait_for(lambda: not deps.store.due_hints(utcnow() + timedelta(days=1), 10))


def test_callback_for_a_job_not_stored_yet_waits_for_its_submission(inbox_for):
    deps = make_deps()
    # A submission in flight: claimed, create_job done in MCT, job id not stored yet.
    upload_id = upload_id_for("uploads", "incoming/y.mp4", "e")
    deps.store.ensure_upload(Upload(upload_id, "uploads", "incoming/y.mp4", "e", "videos", 1))
    claim = Job(claim_id_for("uploads", "incoming/y.mp4", "e", "720p"), upload_id, "720p", "transcode", {})
    deps.store.claim(claim, deps.now(), timedelta(minutes=5))
    job_id = deps.mct.create_job(
        "autotranscode",
        {"sourceKey": "incoming/y.mp4"},
        {"targetKey": "o.mp4", "presetName": "bce.video_mp4_1280x720_2048kbps"},
    )
    deps.mct.set_status(job_id, "SUCCESS")
    inbox = inbox_for(deps)
    assert inbox.submit(job_id, "m-early").result(5) is True
    # The verifier looks, finds no stored job while a submission is in flight, and defers the hint (not drops it).
    [hint] = wait_for(lambda: [h for h in deps.store.due_hints(deps.now() + timedelta(days=1), 10) if h.attempts >= 1])
    assert hint.job_id == job_id and hint.not_before > hint.received_at
    assert deps.store.get_claim(claim.claim_id).status == CLAIMED and deps.store.get_job(job_id) is None
    deps.store.record_submitted(claim.claim_id, job_id, deps.now())
    assert wait_for(lambda: deps.store.get_job(job_id).status == SUCCESS)


def test_mct_failures_defer_and_retry(inbox_for):
    deps = make_deps()
    job_ids = finished_jobs(deps)
    # with_retries tries 4 times per verification: fail two whole verifications.
    deps.mct.fail_next(8, status=503)
    inbox = inbox_for(deps)
    assert inbox.submit(job_ids[0], None).result(5) is True
    assert wait_for(lambda: deps.store.get_job(job_ids[0]).status == SUCCESS)


def test_unverified_hints_survive_a_stop_and_are_verified_at_the_next_start(inbox_for):
    store = MemoryStore()
    deps = make_deps(store=store)
    job_ids = finished_jobs(deps)
    deps.mct.fail_next(10_000, status=503)  # MCT down
    first = inbox_for(deps)
    assert all(first.submit(job_id, None).result(5) for job_id in job_ids)
    first.stop()
    assert all(store.get_job(j).status != SUCCESS for j in job_ids)
    deps.mct.heal()
    restarted = make_deps(store=store, mct=deps.mct)
    inbox_for(restarted)
    assert wait_for(lambda: all(store.get_job(j).status == SUCCESS for j in job_ids))


class BrokenStore(MemoryStore):
    """The store is down for accepting hints."""

    def accept_hints(self, hints, now):
        raise OSError("database is locked")


def test_a_store_failure_fails_the_submission(inbox_for):
    inbox = inbox_for(make_deps(store=BrokenStore()))
    with pytest.raises(OSError):
        inbox.submit("job-x", "m-1").result(5)


def test_submit_after_stop_is_refused():
    inbox = CallbackInbox(make_deps())
    inbox.stop()
    with pytest.raises(RuntimeError):
        inbox.submit("job-x", None).result(5)


class BrokenForOneJob(MemoryMct):
    """get_job hits a bug for one job id."""

    def __init__(self, broken: str) -> None:
        super().__init__()
        self.broken = broken

    def get_job(self, job_id):
        if job_id == self.broken:
            raise RuntimeError("bug")
        return super().get_job(job_id)


def test_a_callback_whose_verification_crashes_does_not_block_the_others(inbox_for):
    deps = make_deps()
    job_ids = finished_jobs(deps)
    transcodes = [j for j in job_ids if deps.mct.jobs[j]["kind"] == "transcode"]
    mct = BrokenForOneJob(transcodes[0])
    mct.jobs = deps.mct.jobs
    deps = make_deps(store=deps.store, mct=mct)
    inbox = inbox_for(deps)
    assert all(inbox.submit(job_id, None).result(5) for job_id in transcodes)
    assert wait_for(lambda: deps.store.get_job(transcodes[1]).status == SUCCESS)
    [hint] = deps.store.due_hints(utcnow() + timedelta(days=1), 10)
    assert hint.job_id == transcodes[0] and hint.attempts >= 1  # deferred, kept for later


def test_a_caller_that_cannot_be_answered_does_not_stop_the_committer(inbox_for):
    deps = make_deps()
    inbox = inbox_for(deps)

    def gone(results):
        raise RuntimeError("Event loop is closed")

    inbox.submit_many([("job-a", "m-a")], gone)
    assert inbox.submit("job-b", "m-b").result(5) is True
    assert deps.store.message_seen("m-a")  # recorded even though its caller could not be told
