"""The Store contract: every implementation (memory, SQLite, MySQL, PostgreSQL) passes these.

Subclass `StoreContract` and provide a `store` fixture.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from handlers.domain.clock import utcnow
from handlers.domain.ids import claim_id_for, upload_id_for
from handlers.domain.lifecycle import is_advance
from handlers.domain.records import Delivery, DeliveryAttempt, Hint, Job, Upload
from handlers.domain.statuses import (
    CLAIMED,
    DELIVERY_DELIVERED,
    DELIVERY_EXPIRED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENDING,
    FAILED,
    MCT_STATUSES,
    PENDING,
    RETRYABLE,
    RUNNING,
    SUBMIT_FAILED,
    SUCCESS,
    SUPERSEDED,
    UPLOAD_DONE,
    UPLOAD_OPEN,
)

LEASE = timedelta(minutes=5)


def make_upload(key="in/a b/视频.mp4", etag="e1", expected=2) -> Upload:
    return Upload(upload_id_for("b", key, etag), "b", key, etag, "rule", expected, [{"target": "1080p", "reason": "x"}])


def make_job(upload: Upload, target="720p") -> Job:
    return Job(
        claim_id_for(upload.bucket, upload.key, upload.etag, target),
        upload.upload_id,
        target,
        "transcode",
        {"pipeline": "p", "target": {"targetKey": "out/x.mp4"}},
    )


class StoreContract:
    def test_upload_is_inserted_once(self, store):
        up = make_upload()
        first = store.ensure_upload(up)
        second = store.ensure_upload(Upload(up.upload_id, "b", up.key, "e1", "other", 9))
        assert first.key == up.key and second.rule == "rule" and second.expected_jobs == 2
        assert store.get_upload(up.upload_id).skipped == [{"target": "1080p", "reason": "x"}]
        assert store.get_upload("nope") is None

    def test_claim_once_then_submitted(self, store):
        up = store.ensure_upload(make_upload())
        now = utcnow()
        job, won = store.claim(make_job(up), now, LEASE)
        assert won and job.status == CLAIMED and job.attempts == 1
        again, won2 = store.claim(make_job(up), now, LEASE)
        assert not won2 and again.claim_id == job.claim_id
        store.record_submitted(job.claim_id, "job-1", now)
        assert store.get_job("job-1").status == PENDING
        # A submitted claim is never taken over, even after its lease.
        _, won3 = store.claim(make_job(up), now + LEASE * 3, LEASE)
        assert not won3

    def test_retryable_claim_can_be_taken_over_once(self, store):
        up = store.ensure_upload(make_upload())
        now = utcnow()
        job, _ = store.claim(make_job(up), now, LEASE)
        store.record_submit_failed(job.claim_id, "503", retryable=True, now=now)
        assert store.get_claim(job.claim_id).status == RETRYABLE
        taken, won = store.claim(make_job(up), now, LEASE)
        assert won and taken.attempts == 2 and taken.status == CLAIMED
        _, won_again = store.claim(make_job(up), now, LEASE)
        assert not won_again

    def test_permanent_failure_is_final(self, store):
        up = store.ensure_upload(make_upload())
        now = utcnow()
        job, _ = store.claim(make_job(up), now, LEASE)
        store.record_submit_failed(job.claim_id, "no preset", retryable=False, now=now)
        got = store.get_claim(job.claim_id)
        assert got.status == SUBMIT_FAILED and got.final and got.last_error == "no preset"
        assert not store.claim(make_job(up), now + LEASE * 2, LEASE)[1]

    def test_abandoned_claim_after_lease(self, store):
        up = store.ensure_upload(make_upload())
        now = utcnow()
        store.claim(make_job(up), now, LEASE)
        assert not store.claim(make_job(up), now + LEASE / 2, LEASE)[1]
        assert store.claim(make_job(up), now + LEASE * 2, LEASE)[1]

    def test_concurrent_claims_have_one_winner(self, store):
        up = store.ensure_upload(make_upload())
        now = utcnow()
        wins = []
        barrier = threading.Barrier(8)

        def claim():
            barrier.wait()
            wins.append(store.claim(make_job(up), now, LEASE)[1])

        threads = [threading.Thread(target=claim) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(wins) == [False] * 7 + [True]

    def test_monotonic_status(self, store):
        up = store.ensure_upload(make_upload())
        now = utcnow()
        job, _ = store.claim(make_job(up), now, LEASE)
        store.record_submitted(job.claim_id, "job-m", now)
        assert store.update_job_status("job-m", RUNNING, {"status": RUNNING}, now)
        assert not store.update_job_status("job-m", RUNNING, {}, now)
        assert store.update_job_status("job-m", SUCCESS, {"output": {"video": {"w": 1}}}, now)
        assert not store.update_job_status("job-m", RUNNING, {}, now)
        assert not store.update_job_status("job-m", PENDING, {}, now)
        assert not store.update_job_status("job-m", FAILED, {}, now)
        got = store.get_job("job-m")
        assert got.status == SUCCESS and got.result == {"output": {"video": {"w": 1}}}
        assert not store.update_job_status("job-unknown", SUCCESS, {}, now)

    def test_status_updates_follow_the_domain_rule_for_every_pair(self, store):
        # handlers.domain.lifecycle.is_advance is the rule; each store (SQL included) must decide the same way.
        now = utcnow()
        for n, (current, new) in enumerate((c, w) for c in MCT_STATUSES for w in MCT_STATUSES):
            up = store.ensure_upload(make_upload(key=f"pairs/{n}.mp4"))
            job, _ = store.claim(make_job(up), now, LEASE)
            store.record_submitted(job.claim_id, f"job-pair-{n}", now)  # PENDING
            if current != PENDING:
                assert store.update_job_status(f"job-pair-{n}", current, {}, now)
            changed = store.update_job_status(f"job-pair-{n}", new, {}, now)
            assert changed == is_advance(current, new), (current, new)
            assert store.get_job(f"job-pair-{n}").status == (new if changed else current)

    def test_jobs_for_upload_and_done_once(self, store):
        up = store.ensure_upload(make_upload())
        other = store.ensure_upload(make_upload(key="other.mp4"))
        now = utcnow()
        for target in ("720p", "360p"):
            store.claim(make_job(up, target), now, LEASE)
        store.claim(make_job(other), now, LEASE)
        assert [j.target for j in store.jobs_for_upload(up.upload_id)] == ["360p", "720p"]
        assert store.final_job_count(up.upload_id) == (2, 0)
        assert store.final_job_count("no-such-upload") == (0, 0)
        [first, _] = store.jobs_for_upload(up.upload_id)
        store.record_submitted(first.claim_id, "job-count-1", now)
        store.update_job_status("job-count-1", FAILED, {}, now)
        assert store.final_job_count(up.upload_id) == (2, 1)
        results = []
        barrier = threading.Barrier(6)

        def done():
            barrier.wait()
            results.append(store.mark_upload_done(up.upload_id, now))

        threads = [threading.Thread(target=done) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(True) == 1
        assert store.get_upload(up.upload_id).status == UPLOAD_DONE
        store.reopen_upload(up.upload_id)
        store.reopen_upload(up.upload_id)  # already open: nothing more
        assert store.get_upload(up.upload_id).redrives == 1
        assert store.mark_upload_done(up.upload_id, now)

    def test_messages_remembered_once(self, store):
        now = utcnow()
        assert not store.message_seen("m-1")
        assert store.remember_message("m-1", now)
        assert not store.remember_message("m-1", now)
        assert store.message_seen("m-1")

    def test_stale_jobs(self, store):
        up = store.ensure_upload(make_upload())
        t0 = utcnow()
        a, _ = store.claim(make_job(up, "a"), t0, LEASE)
        b, _ = store.claim(make_job(up, "b"), t0, LEASE)
        store.record_submitted(a.claim_id, "job-a", t0)
        store.record_submitted(b.claim_id, "job-b", t0)
        store.update_job_status("job-b", SUCCESS, {}, t0)
        assert [j.job_id for j in store.stale_jobs(t0 + timedelta(minutes=1), 10)] == ["job-a"]
        assert store.stale_jobs(t0 - timedelta(minutes=1), 10) == []

    def test_unsubmitted_claims(self, store):
        up = store.ensure_upload(make_upload())
        now = utcnow()
        a, _ = store.claim(make_job(up, "a"), now, LEASE)
        b, _ = store.claim(make_job(up, "b"), now, LEASE)
        c, _ = store.claim(make_job(up, "c"), now, LEASE)
        store.record_submit_failed(a.claim_id, "503", retryable=True, now=now)
        store.record_submitted(c.claim_id, "job-c", now)
        assert [j.target for j in store.unsubmitted_claims(now, 10)] == ["a"]
        later = now + LEASE * 2  # b's invocation died: its lease ran out
        assert sorted(j.target for j in store.unsubmitted_claims(later, 10)) == ["a", "b"]

    def test_redrive_reset(self, store):
        up = store.ensure_upload(make_upload())
        now = utcnow()
        job, _ = store.claim(make_job(up), now, LEASE)
        store.record_submitted(job.claim_id, "job-r", now)
        assert not store.reset_for_redrive(job.claim_id, now)
        store.update_job_status("job-r", FAILED, {"error": {"code": "X"}}, now)
        assert store.mark_upload_done(up.upload_id, now)
        store.ensure_delivery(up.upload_id, now)
        store.record_delivery(replace(store.get_delivery(up.upload_id), status=DELIVERY_DELIVERED, attempts=1))
        assert store.reset_for_redrive(job.claim_id, now)
        got = store.get_claim(job.claim_id)
        assert got.status == RETRYABLE and got.job_id is None
        # The same transaction reopened the upload and made its delivery pending again.
        reopened = store.get_upload(up.upload_id)
        assert reopened.status == UPLOAD_OPEN and reopened.done_at is None and reopened.redrives == 1
        assert store.get_delivery(up.upload_id).status == DELIVERY_PENDING
        assert not store.reset_for_redrive(job.claim_id, now)  # already reset: nothing changes twice
        assert store.claim(make_job(up), now, LEASE)[1]

    def test_list_jobs_filters(self, store):
        up = store.ensure_upload(make_upload(key="in/x.mp4"))
        other = Upload(upload_id_for("c", "z/y.mp4", "e"), "c", "z/y.mp4", "e", "r", 1)
        store.ensure_upload(other)
        now = utcnow()
        j, _ = store.claim(make_job(up), now, LEASE)
        store.claim(make_job(other), now, LEASE)
        store.record_submitted(j.claim_id, "job-l", now)
        assert len(store.list_jobs()) == 2
        assert [r[0].job_id for r in store.list_jobs(status=PENDING)] == ["job-l"]
        assert [r[1].key for r in store.list_jobs(bucket="c")] == ["z/y.mp4"]
        assert [r[1].key for r in store.list_jobs(key_prefix="in/")] == ["in/x.mp4"]
        assert store.list_jobs(since=now + timedelta(minutes=1)) == []
        assert len(store.list_jobs(limit=1)) == 1

    def test_deliveries(self, store):
        now = utcnow()
        d = store.ensure_delivery("u1", now)
        assert d.status == DELIVERY_PENDING and d.attempts == 0
        assert store.ensure_delivery("u1", now).status == DELIVERY_PENDING
        store.record_delivery(Delivery("u1", DELIVERY_FAILED, 3, 503, "HTTP 503", now))
        got = store.get_delivery("u1")
        assert (got.status, got.attempts, got.last_status_code, got.last_error) == (DELIVERY_FAILED, 3, 503, "HTTP 503")
        assert [x.upload_id for x in store.undelivered(now + timedelta(seconds=1), 10)] == ["u1"]
        store.record_delivery(Delivery("u1", DELIVERY_DELIVERED, 4, 200, None, now))
        assert store.undelivered(now + timedelta(seconds=1), 10) == []
        assert store.get_delivery("u2") is None

    # issue 12: delivery schedule, the sweep's records and cursors, object versions
    def test_due_deliveries_follow_the_schedule(self, store):
        now = utcnow().replace(microsecond=0)  # MySQL's DATETIME keeps whole seconds
        for upload_id in ("u-failed", "u-later", "u-pending", "u-fresh", "u-expired", "u-done"):
            store.ensure_delivery(upload_id, now - timedelta(minutes=10))
        store.ensure_delivery("u-fresh", now)
        store.record_delivery(
            Delivery("u-failed", DELIVERY_FAILED, 3, 503, "HTTP 503", now, now - timedelta(seconds=1))
        )
        store.record_delivery(Delivery("u-later", DELIVERY_FAILED, 3, 503, "HTTP 503", now, now + timedelta(minutes=1)))
        store.record_delivery(Delivery("u-expired", DELIVERY_EXPIRED, 9, 503, "HTTP 503", now - timedelta(days=2)))
        store.record_delivery(Delivery("u-done", DELIVERY_DELIVERED, 1, 200, None, now - timedelta(days=2)))
        store.record_delivery(replace(store.get_delivery("u-fresh"), updated_at=now))
        due = store.due_deliveries(now, now - timedelta(minutes=5), 10)
        assert sorted(d.upload_id for d in due) == ["u-failed", "u-pending"]
        assert store.get_delivery("u-later").next_attempt_at == now + timedelta(minutes=1)
        later = store.due_deliveries(now + timedelta(minutes=2), now - timedelta(minutes=5), 10)
        assert sorted(d.upload_id for d in later) == ["u-failed", "u-later", "u-pending"]
        assert len(store.due_deliveries(now + timedelta(minutes=2), now, 2)) == 2

    def test_one_sender_claims_a_delivery_and_a_dead_sender_is_taken_over(self, store):
        now = utcnow().replace(microsecond=0)
        seen = store.ensure_delivery("u-claim", now - timedelta(minutes=10))
        assert store.claim_delivery(seen, now)  # the first reader wins ...
        assert not store.claim_delivery(seen, now)  # ... a second one that read the same row does not
        got = store.get_delivery("u-claim")
        assert got.status == DELIVERY_SENDING and got.updated_at == now
        # SENDING is due only once its sender's lease ran out (the sender died mid-round).
        assert store.due_deliveries(now, now, 10, sending_before=now) == []
        later = now + timedelta(minutes=5)
        [due] = store.due_deliveries(later, later, 10, sending_before=later)
        assert due.upload_id == "u-claim" and store.claim_delivery(due, later)
        store.record_delivery(replace(store.get_delivery("u-claim"), status=DELIVERY_FAILED, attempts=1))
        assert not store.claim_delivery(due, later)  # it changed since: stale
        assert store.claim_delivery(store.get_delivery("u-claim"), later)

    def test_redrive_clears_the_delivery_schedule(self, store):
        up = store.ensure_upload(make_upload())
        now = utcnow()
        job, _ = store.claim(make_job(up), now, LEASE)
        store.record_submit_failed(job.claim_id, "bad preset", retryable=False, now=now)
        store.ensure_delivery(up.upload_id, now)
        store.record_delivery(Delivery(up.upload_id, DELIVERY_FAILED, 3, 503, "x", now, now + timedelta(hours=1)))
        assert store.reset_for_redrive(job.claim_id, now)
        d = store.get_delivery(up.upload_id)
        assert d.status == DELIVERY_PENDING and d.next_attempt_at is None

    def test_existing_uploads_and_sweep_markers(self, store):
        up = store.ensure_upload(make_upload())
        ids = [up.upload_id] + [f"missing-{i}" for i in range(700)]  # more than one IN (...) chunk
        assert store.existing_uploads(ids) == {up.upload_id}
        assert store.existing_uploads([]) == set()
        assert store.sweep_marker("c1") is None
        store.set_sweep_marker("c1", "incoming/b.mp4", utcnow())
        store.set_sweep_marker("c2", "x", utcnow())
        assert store.sweep_marker("c1") == "incoming/b.mp4"
        store.set_sweep_marker("c1", None, utcnow())
        assert store.sweep_marker("c1") is None and store.sweep_marker("c2") == "x"

    def test_versions_are_numbered_once_per_key(self, store):
        a = store.record_version("up-a", "b", "in/k.mp4")
        b = store.record_version("up-b", "b", "in/k.mp4")
        other = store.record_version("up-c", "b", "in/other.mp4")
        assert (a.seq, b.seq, other.seq) == (1, 2, 1)
        assert store.record_version("up-a", "b", "in/k.mp4").seq == 1  # recorded again: same number
        assert [v.upload_id for v in store.object_versions("b", "in/k.mp4")] == ["up-a", "up-b"]
        assert store.get_version("nope") is None
        assert store.mark_superseded("up-a", "etag-b")
        assert not store.mark_superseded("up-a", "etag-z")  # set once
        assert store.get_version("up-a").superseded_by == "etag-b" and store.get_version("up-b").superseded_by is None

    def test_concurrent_versions_get_distinct_numbers(self, store):
        seqs, errors = [], []

        def record(i):
            try:
                seqs.append(store.record_version(f"up-{i}", "b", "in/race.mp4").seq)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=record, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and sorted(seqs) == list(range(1, 9))

    def test_superseded_claim_is_final(self, store):
        up = store.ensure_upload(make_upload())
        now = utcnow()
        job, _ = store.claim(make_job(up), now, LEASE)
        store.record_superseded(job.claim_id, "superseded: newer etag", now)
        got = store.get_claim(job.claim_id)
        assert got.status == SUPERSEDED and got.final and got.last_error == "superseded: newer etag"
        assert store.final_job_count(up.upload_id) == (1, 1)
        assert not store.claim(make_job(up), now + LEASE * 3, LEASE)[1]
        assert not store.reset_for_redrive(job.claim_id, now)

    # callback hints (asynchronous webhook)
    def test_delivery_attempts_history(self, store):
        now = utcnow()
        store.add_delivery_attempt(DeliveryAttempt("u1", 1, now, None, "ConnectionError: refused", '{"a":1}'))
        store.add_delivery_attempt(DeliveryAttempt("u2", 1, now, 200, None, "{}"))
        store.add_delivery_attempt(DeliveryAttempt("u1", 2, now + timedelta(seconds=1), 200, None, '{"a":1}'))
        got = store.delivery_attempts("u1")
        assert [(a.attempt, a.status_code, a.error, a.event) for a in got] == [
            (1, None, "ConnectionError: refused", '{"a":1}'),
            (2, 200, None, '{"a":1}'),
        ]
        assert abs(got[1].sent_at - (now + timedelta(seconds=1))) < timedelta(milliseconds=1)
        assert store.delivery_attempts("nope") == []

    def test_list_uploads_newest_first_with_filters(self, store):
        t0 = utcnow() - timedelta(hours=1)
        a = store.ensure_upload(replace(make_upload(key="in/a.mp4"), created_at=t0))
        b = store.ensure_upload(replace(make_upload(key="in/B.mp4"), created_at=t0 + timedelta(minutes=10)))
        c = store.ensure_upload(
            replace(make_upload(key="x/c.mp4"), bucket="other", created_at=t0 + timedelta(minutes=20))
        )
        store.mark_upload_done(b.upload_id, utcnow())

        def ids(uploads):
            return [u.upload_id for u in uploads]

        assert ids(store.list_uploads()) == [c.upload_id, b.upload_id, a.upload_id]
        assert ids(store.list_uploads(limit=2)) == [c.upload_id, b.upload_id]
        assert ids(store.list_uploads(status=UPLOAD_DONE)) == [b.upload_id]
        assert ids(store.list_uploads(bucket="b")) == [b.upload_id, a.upload_id]
        assert ids(store.list_uploads(key_prefix="in/")) == [b.upload_id, a.upload_id]
        assert ids(store.list_uploads(key_prefix="in/b")) == []  # case-sensitive
        assert ids(store.list_uploads(since=t0 + timedelta(minutes=5), key_prefix="in/", limit=1)) == [b.upload_id]

    def test_accept_hints_duplicates_within_and_across_batches(self, store):
        now = utcnow()
        assert store.accept_hints([], now) == []
        store.remember_message("m-old", now)
        got = store.accept_hints([("j1", "m-1"), ("j1", "m-1"), ("j2", "m-old"), ("j2", None), ("j3", "m-3")], now)
        assert got == [True, False, False, True, True]
        assert store.message_seen("m-1") and store.message_seen("m-3")
        assert not store.remember_message("m-3", now)
        assert store.accept_hints([("j9", "m-3"), ("j1", "m-4"), ("j1", None)], now) == [False, True, True]
        hints = {h.job_id: h for h in store.due_hints(now, 10)}
        assert sorted(hints) == ["j1", "j2", "j3"]  # j9's only callback was a duplicate
        assert (hints["j1"].seq, hints["j1"].attempts, hints["j2"].seq, hints["j3"].seq) == (3, 0, 1, 1)
        assert hints["j1"].received_at == hints["j1"].not_before == now

    def test_seq_bump_keeps_the_hint_after_a_stale_finish(self, store):
        t0 = utcnow()
        store.accept_hints([("j1", "m-1"), ("j2", "m-2")], t0)
        [first, second] = store.due_hints(t0, 10)
        t1 = t0 + timedelta(seconds=1)
        assert store.accept_hints([("j1", "m-3")], t1) == [True]  # arrives while j1 is being verified
        store.finish_hints([(first.job_id, first.seq), (second.job_id, second.seq), ("unknown", 1)])
        [left] = store.due_hints(t1, 10)
        assert (left.job_id, left.seq, left.received_at, left.not_before) == ("j1", 2, t0, t1)
        store.finish_hints([("j1", 2)])
        assert store.due_hints(t1 + timedelta(days=1), 10) == []
        assert store.accept_hints([("j1", None)], t1)[0] and store.due_hints(t1, 10)[0].seq == 1  # a fresh hint

    def test_defer_then_due_order(self, store):
        t0 = utcnow()
        store.accept_hints([("a", "m-a")], t0)
        store.accept_hints([("b", "m-b")], t0 + timedelta(seconds=1))
        store.accept_hints([("c", None)], t0 + timedelta(seconds=2))
        now = t0 + timedelta(seconds=3)
        assert [h.job_id for h in store.due_hints(now, 10)] == ["a", "b", "c"]
        assert [h.job_id for h in store.due_hints(now, 2)] == ["a", "b"]
        assert store.defer_hint("a", 1, now + timedelta(seconds=10))
        assert not store.defer_hint("b", 7, now + timedelta(seconds=10))  # stale seq: untouched
        assert not store.defer_hint("nope", 1, now)
        assert [h.job_id for h in store.due_hints(now, 10)] == ["b", "c"]
        later = store.due_hints(now + timedelta(seconds=10), 10)
        assert [(h.job_id, h.attempts) for h in later] == [("a", 1), ("b", 0), ("c", 0)]  # oldest received first
        assert later[0] == Hint("a", 1, t0, 1, now + timedelta(seconds=10))
        assert store.defer_hint("a", 1, now + timedelta(seconds=20)) and store.due_hints(now, 10)[0].job_id == "b"
        assert store.due_hints(now + timedelta(seconds=20), 10)[0].attempts == 2

    def test_concurrent_accepts_of_one_message_have_one_winner(self, store):
        now = utcnow()

        def accept_together(message_id):
            results = []
            barrier = threading.Barrier(2)

            def accept(job_id):
                barrier.wait()
                results.append(store.accept_hints([(job_id, message_id), ("shared", None)], now))

            threads = [threading.Thread(target=accept, args=(f"j{n}",)) for n in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return results

        for round_ in range(5):
            results = accept_together(f"m-{round_}")
            assert sorted(r[0] for r in results) == [False, True] and all(r[1] for r in results)
        assert {h.job_id: h.seq for h in store.due_hints(now, 100)}["shared"] == 10  # every accepted callback counted

    def test_get_jobs(self, store):
        up = store.ensure_upload(make_upload())
        now = utcnow()
        job, _ = store.claim(make_job(up, "a"), now, LEASE)
        store.claim(make_job(up, "b"), now, LEASE)  # no job id yet
        store.record_submitted(job.claim_id, "job-a", now)
        assert store.get_jobs([]) == {}
        got = store.get_jobs(["job-a", "job-unknown", "job-a"])
        assert list(got) == ["job-a"] and got["job-a"].claim_id == job.claim_id
        ids = [f"job-{n}" for n in range(1200)]
        for n in range(0, 1200, 97):  # a few stored ones spread over the whole list
            j, _ = store.claim(make_job(up, f"t{n}"), now, LEASE)
            store.record_submitted(j.claim_id, ids[n], now)
        got = store.get_jobs(ids)
        assert sorted(got) == sorted(ids[n] for n in range(0, 1200, 97))
        assert all(got[i].job_id == i for i in got)
