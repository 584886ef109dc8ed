"""The store on a SQL database through its plain DB-API driver. Every "only once" decision is a unique key or a
conditional UPDATE whose rowcount says who won, so concurrent callers are safe on all three databases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from handlers.adapters.store.columns import IN_CHUNK, JOB_COLS
from handlers.adapters.store.database import SqlDatabase
from handlers.domain.ids import object_key_id
from handlers.domain.records import Delivery, DeliveryAttempt, Hint, Job, ObjectVersion, Upload
from handlers.domain.statuses import (
    CLAIMED,
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENDING,
    FAILED,
    PENDING,
    RETRYABLE,
    RUNNING,
    STATUS_RANK,
    SUBMIT_FAILED,
    SUPERSEDED,
    UPLOAD_DONE,
    UPLOAD_OPEN,
)


class SqlStore(SqlDatabase):
    """The store on a SQL database: sqlite3, PyMySQL or psycopg 3. Opening it creates or migrates the schema
    (schema.py)."""

    # --- uploads ---
    def ensure_upload(self, upload: Upload) -> Upload:
        dt = self._d.to_db
        params = (upload.upload_id, upload.bucket, upload.key, upload.etag, upload.rule, upload.expected_jobs,
                  json.dumps(upload.skipped), upload.status, dt(upload.created_at), dt(upload.done_at),
                  upload.redrives)  # fmt: skip
        self._change(self._sql.insert_upload, params)
        found = self.get_upload(upload.upload_id)
        assert found is not None
        return found

    def get_upload(self, upload_id: str) -> Upload | None:
        rows = self._read(self._sql.select_upload, (upload_id,))
        return self._upload(rows[0]) if rows else None

    # --- jobs / claims ---
    def claim(self, job: Job, now: datetime, lease: timedelta) -> tuple[Job, bool]:
        s, dt = self._sql, self._d.to_db
        insert = (job.claim_id, job.upload_id, job.target, job.kind, json.dumps(job.request), CLAIMED,
                  STATUS_RANK[CLAIMED], None, 1, "{}", None, dt(now + lease), dt(now), dt(now))  # fmt: skip
        take_over = (CLAIMED, dt(now + lease), dt(now), job.claim_id, RETRYABLE, CLAIMED, dt(now))

        def claim(cur: Any) -> tuple[Job, bool]:
            cur.execute(s.insert_claim, insert)
            won = cur.rowcount == 1
            if not won:  # already claimed: take it over if its last attempt failed transiently or its lease ran out
                cur.execute(s.take_over_claim, take_over)
                won = cur.rowcount == 1
            cur.execute(s.select_claim, (job.claim_id,))
            return self._job(cur.fetchone()), won

        return self._write(claim)

    def record_submitted(self, claim_id: str, job_id: str, now: datetime) -> None:
        params = (PENDING, STATUS_RANK[PENDING], job_id, self._d.to_db(now), claim_id)
        self._change(self._sql.record_submitted, params)

    def record_submit_failed(self, claim_id: str, error: str, retryable: bool, now: datetime) -> None:
        status = RETRYABLE if retryable else SUBMIT_FAILED
        params = (status, STATUS_RANK[status], error, self._d.to_db(now), claim_id)
        self._change(self._sql.record_submit_failed, params)

    def record_superseded(self, claim_id: str, reason: str, now: datetime) -> None:
        params = (SUPERSEDED, STATUS_RANK[SUPERSEDED], reason, self._d.to_db(now), claim_id)
        self._change(self._sql.record_submit_failed, params)

    def get_job(self, job_id: str) -> Job | None:
        rows = self._read(self._sql.select_job, (job_id,))
        return self._job(rows[0]) if rows else None

    def get_claim(self, claim_id: str) -> Job | None:
        rows = self._read(self._sql.select_claim, (claim_id,))
        return self._job(rows[0]) if rows else None

    def get_jobs(self, job_ids: list[str]) -> dict[str, Job]:
        ids = sorted(set(job_ids))
        found: dict[str, Job] = {}
        for i in range(0, len(ids), IN_CHUNK):
            chunk = ids[i : i + IN_CHUNK]
            sql = self._sql.select_jobs_in.format(", ".join([self._d.sql("?")] * len(chunk)))
            found.update((j.job_id, j) for j in map(self._job, self._read(sql, chunk)))
        return found

    def jobs_for_upload(self, upload_id: str) -> list[Job]:
        return [self._job(r) for r in self._read(self._sql.select_upload_jobs, (upload_id,))]

    def final_job_count(self, upload_id: str) -> tuple[int, int]:
        # Counted by the database: every final callback asks, most often for an upload still in progress.
        [(total, final)] = self._read(self._sql.count_upload_jobs, (upload_id,))
        return int(total), int(final or 0)

    def update_job_status(self, job_id: str, status: str, result: dict[str, Any], now: datetime) -> bool:
        rank = STATUS_RANK[status]
        params = (status, rank, json.dumps(result), self._d.to_db(now), job_id, rank)
        return self._change(self._sql.update_job_status, params) == 1

    def reset_for_redrive(self, claim_id: str, now: datetime) -> bool:
        s, when = self._sql, self._d.to_db(now)

        def work(cur: Any) -> bool:
            cur.execute(s.reset_for_redrive, (RETRYABLE, when, claim_id, FAILED, SUBMIT_FAILED))
            if cur.rowcount != 1:
                return False
            cur.execute(s.select_claim_upload, (claim_id,))
            upload_id = cur.fetchone()[0]
            cur.execute(s.reopen_upload, (UPLOAD_OPEN, upload_id, UPLOAD_DONE))
            cur.execute(s.reset_delivery, (DELIVERY_PENDING, when, upload_id))
            cur.execute(s.clear_schedule, (upload_id,))
            return True

        return self._write(work)

    def mark_upload_done(self, upload_id: str, now: datetime) -> bool:
        params = (UPLOAD_DONE, self._d.to_db(now), upload_id, UPLOAD_OPEN)
        return self._change(self._sql.mark_upload_done, params) == 1

    def reopen_upload(self, upload_id: str) -> None:
        self._change(self._sql.reopen_upload, (UPLOAD_OPEN, upload_id, UPLOAD_DONE))

    # --- callbacks ---
    def remember_message(self, message_id: str, now: datetime) -> bool:
        params = (message_id[:255], self._d.to_db(now))
        return self._change(self._sql.insert_message, params) == 1

    def message_seen(self, message_id: str) -> bool:
        return bool(self._read(self._sql.select_message, (message_id[:255],)))

    def stale_jobs(self, older_than: datetime, limit: int) -> list[Job]:
        rows = self._read(self._sql.stale_jobs, (PENDING, RUNNING, self._d.to_db(older_than), limit))
        return [self._job(r) for r in rows]

    def unsubmitted_claims(self, now: datetime, limit: int) -> list[Job]:
        rows = self._read(self._sql.unsubmitted_claims, (RETRYABLE, CLAIMED, self._d.to_db(now), limit))
        return [self._job(r) for r in rows]

    def list_jobs(self, status=None, since=None, bucket=None, key_prefix=None, limit=100):
        where, params = [], []
        for condition, value in (("j.status = ?", status), ("j.created_at >= ?", self._d.to_db(since)),
                                 ("u.bucket = ?", bucket)):  # fmt: skip
            if value:
                where.append(condition)
                params.append(value)
        sql = self._sql.list_jobs + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY j.created_at DESC"
        if not key_prefix:  # the prefix is matched in Python: exact (case-sensitive) on every database
            sql += f" LIMIT {int(limit)}"
        rows: list[tuple[Job, Upload]] = []
        n = len(JOB_COLS.split(","))
        for r in self._read(self._d.sql(sql), params):
            up = self._upload(r[n:])
            if key_prefix and not up.key.startswith(key_prefix):
                continue
            rows.append((self._job(r[:n]), up))
            if len(rows) >= limit:
                break
        return rows

    # --- deliveries ---
    def ensure_delivery(self, upload_id: str, now: datetime) -> Delivery:
        params = (upload_id, DELIVERY_PENDING, 0, self._d.to_db(now))
        self._change(self._sql.insert_delivery, params)
        found = self.get_delivery(upload_id)
        assert found is not None
        return found

    def record_delivery(self, delivery: Delivery) -> None:
        d, s, dt = delivery, self._sql, self._d.to_db
        params = (d.status, d.attempts, d.last_status_code, d.last_error, dt(d.updated_at), d.upload_id)

        def record(cur: Any) -> None:
            cur.execute(s.update_delivery, params)
            if d.next_attempt_at is None:
                cur.execute(s.clear_schedule, (d.upload_id,))
            else:
                cur.execute(s.insert_schedule, (d.upload_id, dt(d.next_attempt_at)))
                cur.execute(s.update_schedule, (dt(d.next_attempt_at), d.upload_id))

        self._write(record)

    def get_delivery(self, upload_id: str) -> Delivery | None:
        rows = self._read(self._sql.select_delivery, (upload_id,))
        return self._delivery(rows[0]) if rows else None

    def undelivered(self, older_than: datetime, limit: int) -> list[Delivery]:
        rows = self._read(self._sql.undelivered, (DELIVERY_DELIVERED, self._d.to_db(older_than), limit))
        return [self._delivery(r) for r in rows]

    def due_deliveries(self, now, pending_before, limit, sending_before=None) -> list[Delivery]:
        dt = self._d.to_db
        # No takeover of SENDING rows without a cutoff: a time before any row ever written.
        sending = dt(sending_before) if sending_before is not None else dt(datetime(1970, 1, 1))
        params = (DELIVERY_FAILED, dt(now), DELIVERY_PENDING, dt(pending_before), DELIVERY_SENDING, sending, limit)
        return [self._delivery(r) for r in self._read(self._sql.due_deliveries, params)]

    def claim_delivery(self, seen: Delivery, now: datetime) -> bool:
        params = (DELIVERY_SENDING, self._d.to_db(now), seen.upload_id, seen.status, seen.attempts)
        return self._change(self._sql.claim_delivery, params) == 1

    # --- the sweep ---
    def existing_uploads(self, upload_ids: list[str]) -> set[str]:
        ids = sorted(set(upload_ids))
        found: set[str] = set()
        for i in range(0, len(ids), IN_CHUNK):
            chunk = ids[i : i + IN_CHUNK]
            sql = self._sql.select_uploads_in.format(", ".join([self._d.sql("?")] * len(chunk)))
            found.update(r[0] for r in self._read(sql, chunk))
        return found

    def sweep_marker(self, cursor_id: str) -> str | None:
        rows = self._read(self._sql.select_sweep_marker, (cursor_id,))
        return rows[0][0] if rows else None

    def set_sweep_marker(self, cursor_id: str, marker: str | None, now: datetime) -> None:
        s, when = self._sql, self._d.to_db(now)

        def save(cur: Any) -> None:
            cur.execute(s.insert_sweep_cursor, (cursor_id, marker, when))
            cur.execute(s.update_sweep_cursor, (marker, when, cursor_id))

        self._write(save)

    # --- object versions ---
    def record_version(self, upload_id: str, bucket: str, key: str) -> ObjectVersion:
        s, key_id = self._sql, object_key_id(bucket, key)

        def record(cur: Any) -> ObjectVersion:
            cur.execute(s.select_version, (upload_id,))
            row = cur.fetchone()
            if row is None:
                cur.execute(s.insert_object_key, (key_id, 0))
                cur.execute(s.bump_object_key, (key_id,))  # locks the key's row: one number per version
                cur.execute(s.select_object_key, (key_id,))
                seq = cur.fetchone()[0]
                cur.execute(s.insert_version, (upload_id, key_id, seq, None))
                cur.execute(s.select_version, (upload_id,))
                row = cur.fetchone()
            return ObjectVersion(row[0], int(row[1]), row[2])

        return self._write(record)

    def get_version(self, upload_id: str) -> ObjectVersion | None:
        rows = self._read(self._sql.select_version, (upload_id,))
        return ObjectVersion(rows[0][0], int(rows[0][1]), rows[0][2]) if rows else None

    def object_versions(self, bucket: str, key: str) -> list[ObjectVersion]:
        rows = self._read(self._sql.select_versions, (object_key_id(bucket, key),))
        return [ObjectVersion(r[0], int(r[1]), r[2]) for r in rows]

    def mark_superseded(self, upload_id: str, by_etag: str) -> bool:
        return self._change(self._sql.mark_superseded, (by_etag[:128], upload_id)) == 1

    # --- callback hints ---
    def add_delivery_attempt(self, attempt: DeliveryAttempt) -> None:
        a = attempt
        self._change(self._sql.insert_attempt, (a.upload_id, a.attempt, self._d.to_db(a.sent_at), a.status_code,
                                                a.error, a.event))  # fmt: skip

    def delivery_attempts(self, upload_id: str) -> list[DeliveryAttempt]:
        f = self._d.from_db
        rows = self._read(self._sql.select_attempts, (upload_id,))
        return [DeliveryAttempt(r[0], r[1], f(r[2]), r[3], r[4], r[5]) for r in rows]

    def list_uploads(self, status=None, since=None, bucket=None, key_prefix=None, limit=100):
        where, params = [], []
        for condition, value in (("status = ?", status), ("created_at >= ?", self._d.to_db(since)),
                                 ("bucket = ?", bucket)):  # fmt: skip
            if value:
                where.append(condition)
                params.append(value)
        sql = self._sql.list_uploads + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created_at DESC"
        if not key_prefix:  # the prefix is matched in Python: exact (case-sensitive) on every database
            sql += f" LIMIT {int(limit)}"
        uploads = []
        for r in self._read(self._d.sql(sql), params):
            up = self._upload(r)
            if key_prefix and not up.key.startswith(key_prefix):
                continue
            uploads.append(up)
            if len(uploads) >= limit:
                break
        return uploads

    def accept_hints(self, hints: list[tuple[str, str | None]], now: datetime) -> list[bool]:
        if not hints:
            return []
        s, when = self._sql, self._d.to_db(now)

        def accept(cur: Any) -> list[bool]:
            # Rows are locked in key order (message ids, then job ids) so concurrent batches do not deadlock.
            new_ids = set()
            for message_id in sorted({m[:255] for _, m in hints if m is not None}):
                cur.execute(s.insert_message, (message_id, when))
                if cur.rowcount == 1:
                    new_ids.add(message_id)
            accepted, per_job = _accepted(hints, new_ids)
            for job_id in sorted(per_job):
                n = per_job[job_id]
                cur.execute(s.upsert_hint, (job_id, n, when, when, n, when))
            return accepted

        return self._write(accept)

    def due_hints(self, now: datetime, limit: int) -> list[Hint]:
        f = self._d.from_db
        rows = self._read(self._sql.due_hints, (self._d.to_db(now), limit))
        return [Hint(job_id, seq, f(received), attempts, f(not_before)) for job_id, seq, received, attempts, not_before
                in rows]  # fmt: skip

    def finish_hints(self, done: list[tuple[str, int]]) -> None:
        if done:
            self._write(lambda cur: cur.executemany(self._sql.finish_hint, sorted(done)))

    def defer_hint(self, job_id: str, seq: int, not_before: datetime) -> bool:
        params = (self._d.to_db(not_before), job_id, seq)
        return self._change(self._sql.defer_hint, params) == 1

    # --- rows -> records ---
    def _upload(self, r: Sequence[Any]) -> Upload:
        f = self._d.from_db
        return Upload(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6] or "[]"), r[7], f(r[8]), f(r[9]), r[10])

    def _job(self, r: Sequence[Any]) -> Job:
        f = self._d.from_db
        return Job(r[0], r[1], r[2], r[3], json.loads(r[4] or "{}"), r[5], r[6], r[7], json.loads(r[8] or "{}"), r[9],
                   f(r[10]), f(r[11]), f(r[12]))  # fmt: skip

    def _delivery(self, r: Sequence[Any]) -> Delivery:
        return Delivery(r[0], r[1], r[2], r[3], r[4], self._d.from_db(r[5]), self._d.from_db(r[6]))


def _accepted(hints: list[tuple[str, str | None]], new_ids: set[str]) -> tuple[list[bool], dict[str, int]]:
    """Which inputs were accepted (no message id, or the first use of a newly remembered one), in order, and how
    many accepted callbacks each job got."""
    accepted: list[bool] = []
    per_job: dict[str, int] = {}
    unused = set(new_ids)
    for job_id, message_id in hints:
        ok = message_id is None or message_id[:255] in unused
        if ok and message_id is not None:
            unused.discard(message_id[:255])
        if ok:
            per_job[job_id] = per_job.get(job_id, 0) + 1
        accepted.append(ok)
    return accepted, per_job
