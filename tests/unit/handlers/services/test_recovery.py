"""Issue 12 on the in-memory twins: the sweep, scheduled redelivery with backoff, and the newest version of a key
winning. (The same flows on the real stack: tests/integration/reliability/test_recovery.py.)"""

from __future__ import annotations

import json
from datetime import timedelta

from handlers.domain.clock import utcnow
from handlers.domain.ids import upload_id_for
from handlers.domain.statuses import (
    DELIVERY_DELIVERED,
    DELIVERY_EXPIRED,
    DELIVERY_FAILED,
    PENDING,
    RETRYABLE,
    SUCCESS,
    SUPERSEDED,
    UPLOAD_DONE,
)
from handlers.services.callbacks import apply_job_view
from handlers.services.completion import deliver
from handlers.services.reconcile import reconcile
from handlers.services.submit import process_upload_event
from handlers.services.sweep import sweep
from handlers.testing.memory_bos import MemoryBos
from localcloud.serve import serve_in_thread
from tests.unit.handlers.conftest import bos_event, config_dict, make_deps
from tests.unit.handlers.receiver import Receiver


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


def recovery_deps(bos=None, clock=None, **config):
    clock = clock or Clock()
    deps = make_deps(config_dict(**config), bos=bos or MemoryBos(), now=clock)
    return deps, clock


def jobs_by_key(deps):
    return sorted(j["target"].get("targetKey") or j["target"].get("keyPrefix") for j in deps.mct.jobs.values())


def finish(deps, job_ids=None, status="SUCCESS"):
    """MCT finishes these jobs; the store learns it as from a callback."""
    for job_id in job_ids or list(deps.mct.jobs):
        job = deps.store.get_job(job_id)
        if job is None or job.final:
            continue
        deps.mct.set_status(job_id, status)
        view = deps.mct.get_thumbnail_job(job_id) if job.kind == "thumbnail" else deps.mct.get_job(job_id)
        apply_job_view(deps, job, view)


# --- the sweep ----------------------------------------------------------------------------------------------------


def test_sweep_submits_old_enough_unrecorded_uploads_once():
    bos = MemoryBos()
    deps, clock = recovery_deps(bos, sweep={"grace_minutes": 10, "max_age_days": 1})
    old = clock.now - timedelta(minutes=30)
    bos.put("uploads", "incoming/lost.mp4", "e-lost", old)
    bos.put("uploads", "incoming/known.mp4", "e-known", old)
    bos.put("uploads", "incoming/fresh.mp4", "e-fresh", clock.now - timedelta(minutes=1))
    bos.put("uploads", "incoming/ancient.mp4", "e-anc", clock.now - timedelta(days=3))
    bos.put("uploads", "incoming/notes.txt", "e-txt", old)  # the rule takes .mp4/.mov only
    bos.put("uploads", "elsewhere/x.mp4", "e-x", old)  # not under a watched prefix
    process_upload_event(deps, bos_event("incoming/known.mp4", etag="e-known"))
    before = len(deps.mct.jobs)

    first = sweep(deps)
    assert (first["submitted"], first["recorded"], first["too_new"], first["too_old"]) == (1, 1, 1, 1)
    assert len(deps.mct.jobs) == before + 3  # 2 renditions + 1 thumbnail of the lost upload
    assert deps.store.get_upload(upload_id_for("uploads", "incoming/lost.mp4", "e-lost")) is not None
    # Again, and with the upload's event arriving late: nothing new.
    again = sweep(deps)
    process_upload_event(deps, bos_event("incoming/lost.mp4", etag="e-lost"))
    assert again["submitted"] == 0 and again["recorded"] == 2 and len(deps.mct.jobs) == before + 3
    # Once out of the grace period, the fresh one is swept too.
    clock.advance(minutes=10)
    assert sweep(deps)["submitted"] == 1


def test_sweep_is_bounded_per_run_and_goes_on_where_it_stopped():
    bos = MemoryBos()
    deps, clock = recovery_deps(bos, sweep={"grace_minutes": 0, "max_objects_per_run": 1000,
                                            "max_submissions_per_run": 3})  # fmt: skip
    for i in range(8):
        bos.put("uploads", f"incoming/v{i}.mp4", f"e{i}", clock.now - timedelta(minutes=5))
    clock.advance(seconds=1)
    runs = [sweep(deps)["submitted"] for _ in range(4)]
    assert runs == [3, 3, 2, 0]
    assert len(deps.store.uploads) == 8 and len(deps.mct.jobs) == 8 * 3


def test_sweep_listing_failure_is_an_error_not_a_crash():
    bos = MemoryBos()
    deps, clock = recovery_deps(bos, sweep={"grace_minutes": 0})
    bos.put("uploads", "incoming/a.mp4", "ea", clock.now - timedelta(minutes=5))
    bos.fail_next(1)
    summary = reconcile(deps)
    assert summary["sweep"]["errors"] == 1 and summary["swept"] == 0 and summary["errors"] == 0
    assert reconcile(deps)["swept"] == 1


def test_sweep_off_by_config():
    deps, _ = recovery_deps(sweep={"enabled": False})
    assert sweep(deps)["off"] == "sweep.enabled is false"


# --- scheduled redelivery -------------------------------------------------------------------------------------------


def test_failed_event_is_retried_on_schedule_with_backoff_until_delivered():
    receiver = Receiver(statuses=[503] * 6)
    server = serve_in_thread(receiver)
    try:
        deps, clock = recovery_deps(
            downstream={"url": server.url, "max_attempts": 2, "backoff_seconds": 0},
            reconcile={"redeliver_after_minutes": 1, "redeliver_max_interval_minutes": 3},
            sweep={"enabled": False},
        )
        deps.bos.put("uploads", "incoming/x.mp4", "etag-1")
        process_upload_event(deps, bos_event("incoming/x.mp4"))
        finish(deps)
        uid = upload_id_for("uploads", "incoming/x.mp4", "etag-1")
        d = deps.store.get_delivery(uid)
        assert (d.status, d.attempts, d.next_attempt_at) == (DELIVERY_FAILED, 2, clock.now + timedelta(minutes=1))
        # Not due yet: the run says so instead of a bare 0.
        early = reconcile(deps)
        assert early["redelivered"] == 0 and early["deliveries_retrying"] == 1
        assert early["next_delivery_attempt"] == (clock.now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        clock.advance(minutes=1)
        reconcile(deps)  # round 2 fails: the pause doubles
        assert deps.store.get_delivery(uid).next_attempt_at == clock.now + timedelta(minutes=2)
        clock.advance(minutes=2)
        reconcile(deps)  # round 3 fails: capped at 3 minutes
        assert deps.store.get_delivery(uid).next_attempt_at == clock.now + timedelta(minutes=3)
        clock.advance(minutes=3)
        assert reconcile(deps)["redelivered"] == 1
        assert deps.store.get_delivery(uid).status == DELIVERY_DELIVERED
        assert len(receiver.requests) == 7
    finally:
        server.stop()


def test_event_expires_after_the_maximum_age_and_can_be_retried_by_hand():
    receiver = Receiver(statuses=[500] * 3)
    server = serve_in_thread(receiver)
    try:
        deps, clock = recovery_deps(
            downstream={"url": server.url, "max_attempts": 1},
            reconcile={"redeliver_after_minutes": 30, "redeliver_max_age_hours": 1},
            sweep={"enabled": False},
        )
        deps.bos.put("uploads", "incoming/x.mp4", "etag-1")
        process_upload_event(deps, bos_event("incoming/x.mp4"))
        finish(deps)
        uid = upload_id_for("uploads", "incoming/x.mp4", "etag-1")
        clock.advance(minutes=30)
        reconcile(deps)
        clock.advance(minutes=31)
        summary = reconcile(deps)
        assert deps.store.get_delivery(uid).status == DELIVERY_EXPIRED
        assert summary["deliveries_expired"] == 1 and "deliveries retry" in summary["hint"]
        clock.advance(hours=5)
        assert reconcile(deps)["redelivered"] == 0 and len(receiver.requests) == 3
        assert deliver(deps, uid).status == DELIVERY_DELIVERED  # `autotranscode deliveries retry`
    finally:
        server.stop()


# --- versions -------------------------------------------------------------------------------------------------------


def events_of(receiver):
    return [json.loads(r["body"]) for r in receiver.requests]


def test_newer_version_waits_for_the_older_jobs_on_the_same_outputs_and_wins():
    receiver = Receiver()
    server = serve_in_thread(receiver)
    try:
        bos = MemoryBos()
        deps, clock = recovery_deps(bos, downstream={"url": server.url}, sweep={"enabled": False})
        key = "incoming/clip.mp4"
        bos.put("uploads", key, "v1")
        process_upload_event(deps, bos_event(key, etag="v1"))
        v1_jobs = list(deps.mct.jobs)
        # Overwritten while v1's jobs run: v2's jobs must not be created yet (they would race v1's for the keys).
        bos.put("uploads", key, "v2")
        summary = process_upload_event(deps, bos_event(key, etag="v2"))
        assert summary["waiting"] == 3 and summary["retryable"] == 0 and len(deps.mct.jobs) == 3
        v2 = upload_id_for("uploads", key, "v2")
        assert {j.status for j in deps.store.jobs_for_upload(v2)} == {RETRYABLE}
        # v1 finishes: v2's jobs are created right away, then finish.
        finish(deps, v1_jobs)
        assert len(deps.mct.jobs) == 6
        assert {j.status for j in deps.store.jobs_for_upload(v2)} == {PENDING}
        finish(deps)
        first, second = events_of(receiver)
        assert (first["upload"]["etag"], first["status"], first["upload"]["superseded_by"]) == (
            "v1",
            "SUPERSEDED",
            "v2",
        )
        assert (second["upload"]["etag"], second["status"], second["upload"]["version"]) == ("v2", "SUCCESS", 2)
        assert deps.store.get_upload(v2).status == UPLOAD_DONE
    finally:
        server.stop()


def test_late_event_of_an_overwritten_version_creates_nothing():
    receiver = Receiver()
    server = serve_in_thread(receiver)
    try:
        bos = MemoryBos()
        deps, _ = recovery_deps(bos, downstream={"url": server.url}, sweep={"enabled": False})
        key = "incoming/clip.mp4"
        bos.put("uploads", key, "v2")  # v1 was overwritten before its event was handled
        summary = process_upload_event(deps, bos_event(key, etag="v1"))
        assert summary["superseded"] == 3 and deps.mct.jobs == {}
        v1 = upload_id_for("uploads", key, "v1")
        assert {j.status for j in deps.store.jobs_for_upload(v1)} == {SUPERSEDED}
        [event] = events_of(receiver)
        assert (event["status"], event["upload"]["etag"], event["upload"]["superseded_by"]) == (
            "SUPERSEDED",
            "v1",
            "v2",
        )
        assert event["errors"] == []
        process_upload_event(deps, bos_event(key, etag="v2"))
        finish(deps)
        assert [e["status"] for e in events_of(receiver)] == ["SUPERSEDED", "SUCCESS"]
        assert {j.status for j in deps.store.jobs_for_upload(upload_id_for("uploads", key, "v2"))} == {SUCCESS}
    finally:
        server.stop()


def test_etag_placeholder_gives_each_version_its_own_outputs():
    bos = MemoryBos()
    rules = config_dict()["rules"]
    rules[0]["targets"] = [{"name": "720p", "preset": "bce.video_mp4_1280x720_2048kbps",
                            "key": "out/{dir}/{stem}/{etag}/{target}.{ext}"}]  # fmt: skip
    rules[0]["thumbnails"] = []
    deps, _ = recovery_deps(bos, rules=rules, sweep={"enabled": False})
    key = "incoming/clip.mp4"
    bos.put("uploads", key, "v1")
    process_upload_event(deps, bos_event(key, etag="v1"))
    bos.put("uploads", key, "v2")
    summary = process_upload_event(deps, bos_event(key, etag="v2"))
    assert summary["submitted"] == 1 and summary["waiting"] == 0  # other outputs: nothing to wait for
    assert jobs_by_key(deps) == ["out/incoming/clip/v1/720p.mp4", "out/incoming/clip/v2/720p.mp4"]


def test_reconciler_submits_a_waiting_claim_once_the_older_job_is_final():
    bos = MemoryBos()
    deps, clock = recovery_deps(bos, sweep={"enabled": False})
    key = "incoming/clip.mp4"
    bos.put("uploads", key, "v1")
    process_upload_event(deps, bos_event(key, etag="v1"))
    bos.put("uploads", key, "v2")
    process_upload_event(deps, bos_event(key, etag="v2"))
    for job_id in list(deps.mct.jobs):  # MCT finishes v1, but the callbacks are lost
        deps.mct.set_status(job_id, "SUCCESS")
    assert reconcile(deps, stale_after=timedelta(0))["waiting"] == 3  # not final in the store yet: still waiting
    clock.advance(seconds=1)
    reconcile(deps, stale_after=timedelta(0))  # records v1 final, which releases v2
    v2 = upload_id_for("uploads", key, "v2")
    assert {j.status for j in deps.store.jobs_for_upload(v2)} == {PENDING} and len(deps.mct.jobs) == 6


def test_etag_spelled_differently_by_bos_is_the_same_version():
    bos = MemoryBos()
    deps, _ = recovery_deps(bos, sweep={"enabled": False})
    bos.put("uploads", "incoming/clip.mp4", '"0CD0545962D6F4C9"')  # quoted, upper case
    summary = process_upload_event(deps, bos_event("incoming/clip.mp4", etag="0cd0545962d6f4c9"))
    assert summary["submitted"] == 3 and summary["superseded"] == 0
