"""The in-memory twin of the store (tests only; `autotranscode build` leaves handlers/testing out of the zip)."""

from __future__ import annotations

import copy
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from handlers.domain.ids import object_key_id
from handlers.domain.lifecycle import can_take_over, is_advance
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
    SUBMIT_FAILED,
    SUPERSEDED,
    UPLOAD_DONE,
    UPLOAD_OPEN,
)


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.uploads: dict[str, Upload] = {}
        self.jobs: dict[str, Job] = {}
        self.messages: dict[str, datetime] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.hints: dict[str, Hint] = {}
        self.attempts: list[DeliveryAttempt] = []
        self.sweep_markers: dict[str, str | None] = {}
        self.key_seqs: dict[str, int] = {}
        self.versions: dict[str, tuple[str, ObjectVersion]] = {}  # upload id -> (key id, version)

    def ensure_upload(self, upload: Upload) -> Upload:
        with self._lock:
            return self.uploads.setdefault(upload.upload_id, upload)

    def get_upload(self, upload_id: str) -> Upload | None:
        return self.uploads.get(upload_id)

    def claim(self, job: Job, now: datetime, lease: timedelta) -> tuple[Job, bool]:
        with self._lock:
            current = self.jobs.get(job.claim_id)
            if current is None:
                new = replace(job, status=CLAIMED, lease_until=now + lease, created_at=now, updated_at=now)
                self.jobs[job.claim_id] = new
                return new, True
            if can_take_over(current, now):
                new = replace(
                    current, status=CLAIMED, lease_until=now + lease, attempts=current.attempts + 1, updated_at=now
                )
                self.jobs[job.claim_id] = new
                return new, True
            return current, False

    def record_submitted(self, claim_id: str, job_id: str, now: datetime) -> None:
        with self._lock:
            cur = self.jobs[claim_id]
            self.jobs[claim_id] = replace(cur, status=PENDING, job_id=job_id, last_error=None, updated_at=now)

    def record_submit_failed(self, claim_id: str, error: str, retryable: bool, now: datetime) -> None:
        with self._lock:
            cur = self.jobs[claim_id]
            status = RETRYABLE if retryable else SUBMIT_FAILED
            self.jobs[claim_id] = replace(cur, status=status, last_error=error, updated_at=now)

    def record_superseded(self, claim_id: str, reason: str, now: datetime) -> None:
        with self._lock:
            cur = self.jobs[claim_id]
            self.jobs[claim_id] = replace(cur, status=SUPERSEDED, last_error=reason, updated_at=now)

    def get_job(self, job_id: str) -> Job | None:
        return next((j for j in self.jobs.values() if j.job_id == job_id), None)

    def get_claim(self, claim_id: str) -> Job | None:
        return self.jobs.get(claim_id)

    def jobs_for_upload(self, upload_id: str) -> list[Job]:
        return sorted((j for j in self.jobs.values() if j.upload_id == upload_id), key=lambda j: j.target)

    def final_job_count(self, upload_id: str) -> tuple[int, int]:
        jobs = self.jobs_for_upload(upload_id)
        return len(jobs), sum(1 for j in jobs if j.final)

    def update_job_status(self, job_id: str, status: str, result: dict[str, Any], now: datetime) -> bool:
        with self._lock:
            cur = self.get_job(job_id)
            if cur is None or not is_advance(cur.status, status):
                return False
            self.jobs[cur.claim_id] = replace(cur, status=status, result=copy.deepcopy(result), updated_at=now)
            return True

    def reset_for_redrive(self, claim_id: str, now: datetime) -> bool:
        with self._lock:
            cur = self.jobs.get(claim_id)
            if cur is None or cur.status not in (FAILED, SUBMIT_FAILED):
                return False
            self.jobs[claim_id] = replace(cur, status=RETRYABLE, job_id=None, result={}, updated_at=now)
            self.reopen_upload(cur.upload_id)
            delivery = self.deliveries.get(cur.upload_id)
            if delivery is not None:
                self.deliveries[cur.upload_id] = replace(
                    delivery, status=DELIVERY_PENDING, updated_at=now, next_attempt_at=None
                )
            return True

    def mark_upload_done(self, upload_id: str, now: datetime) -> bool:
        with self._lock:
            cur = self.uploads.get(upload_id)
            if cur is None or cur.status == UPLOAD_DONE:
                return False
            self.uploads[upload_id] = replace(cur, status=UPLOAD_DONE, done_at=now)
            return True

    def reopen_upload(self, upload_id: str) -> None:
        with self._lock:
            cur = self.uploads.get(upload_id)
            if cur is not None and cur.status == UPLOAD_DONE:
                self.uploads[upload_id] = replace(cur, status=UPLOAD_OPEN, done_at=None, redrives=cur.redrives + 1)

    def remember_message(self, message_id: str, now: datetime) -> bool:
        with self._lock:
            if message_id in self.messages:
                return False
            self.messages[message_id] = now
            return True

    def message_seen(self, message_id: str) -> bool:
        return message_id in self.messages

    def stale_jobs(self, older_than: datetime, limit: int) -> list[Job]:
        jobs = [j for j in self.jobs.values() if j.status in (PENDING, RUNNING) and j.updated_at < older_than]
        return sorted(jobs, key=lambda j: j.updated_at)[:limit]

    def unsubmitted_claims(self, now: datetime, limit: int) -> list[Job]:
        jobs = [j for j in self.jobs.values() if can_take_over(j, now)]
        return sorted(jobs, key=lambda j: j.updated_at)[:limit]

    def list_jobs(self, status=None, since=None, bucket=None, key_prefix=None, limit=100):
        rows = []
        for j in sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True):
            up = self.uploads.get(j.upload_id)
            if up is None or not list_filter(j, up, status, since, bucket, key_prefix):
                continue
            rows.append((j, up))
        return rows[:limit]

    def ensure_delivery(self, upload_id: str, now: datetime) -> Delivery:
        with self._lock:
            return self.deliveries.setdefault(upload_id, Delivery(upload_id, DELIVERY_PENDING, updated_at=now))

    def record_delivery(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries[delivery.upload_id] = delivery

    def get_delivery(self, upload_id: str) -> Delivery | None:
        return self.deliveries.get(upload_id)

    def undelivered(self, older_than: datetime, limit: int) -> list[Delivery]:
        ds = [d for d in self.deliveries.values() if d.status != DELIVERY_DELIVERED and d.updated_at < older_than]
        return sorted(ds, key=lambda d: d.updated_at)[:limit]

    def add_delivery_attempt(self, attempt: DeliveryAttempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def delivery_attempts(self, upload_id: str) -> list[DeliveryAttempt]:
        with self._lock:
            found = [a for a in self.attempts if a.upload_id == upload_id]
        return sorted(found, key=lambda a: (a.sent_at, a.attempt))

    def list_uploads(self, status=None, since=None, bucket=None, key_prefix=None, limit=100):
        with self._lock:
            uploads = sorted(self.uploads.values(), key=lambda u: u.created_at, reverse=True)
        return [u for u in uploads if upload_filter(u, status, since, bucket, key_prefix)][:limit]

    def due_deliveries(self, now, pending_before, limit, sending_before=None) -> list[Delivery]:
        with self._lock:
            ds = [
                d
                for d in self.deliveries.values()
                if (d.status == DELIVERY_FAILED and (d.next_attempt_at or d.updated_at) <= now)
                or (d.status == DELIVERY_PENDING and d.updated_at < pending_before)
                or (d.status == DELIVERY_SENDING and sending_before is not None and d.updated_at < sending_before)
            ]
        return sorted(ds, key=lambda d: d.updated_at)[:limit]

    def claim_delivery(self, seen: Delivery, now: datetime) -> bool:
        with self._lock:
            current = self.deliveries.get(seen.upload_id)
            if current is None or (current.status, current.attempts) != (seen.status, seen.attempts):
                return False
            self.deliveries[seen.upload_id] = replace(current, status=DELIVERY_SENDING, updated_at=now)
            return True

    def existing_uploads(self, upload_ids: list[str]) -> set[str]:
        return {u for u in upload_ids if u in self.uploads}

    def sweep_marker(self, cursor_id: str) -> str | None:
        return self.sweep_markers.get(cursor_id)

    def set_sweep_marker(self, cursor_id: str, marker: str | None, now: datetime) -> None:
        with self._lock:
            self.sweep_markers[cursor_id] = marker

    def record_version(self, upload_id: str, bucket: str, key: str) -> ObjectVersion:
        with self._lock:
            if upload_id not in self.versions:
                key_id = object_key_id(bucket, key)
                self.key_seqs[key_id] = self.key_seqs.get(key_id, 0) + 1
                self.versions[upload_id] = (key_id, ObjectVersion(upload_id, self.key_seqs[key_id]))
            return self.versions[upload_id][1]

    def get_version(self, upload_id: str) -> ObjectVersion | None:
        found = self.versions.get(upload_id)
        return found[1] if found else None

    def object_versions(self, bucket: str, key: str) -> list[ObjectVersion]:
        key_id = object_key_id(bucket, key)
        with self._lock:
            return sorted((v for k, v in self.versions.values() if k == key_id), key=lambda v: v.seq)

    def mark_superseded(self, upload_id: str, by_etag: str) -> bool:
        with self._lock:
            found = self.versions.get(upload_id)
            if found is None or found[1].superseded_by is not None:
                return False
            self.versions[upload_id] = (found[0], replace(found[1], superseded_by=by_etag))
            return True

    def accept_hints(self, hints: list[tuple[str, str | None]], now: datetime) -> list[bool]:
        with self._lock:
            accepted = []
            for job_id, message_id in hints:
                if message_id is not None:
                    if message_id[:255] in self.messages:
                        accepted.append(False)
                        continue
                    self.messages[message_id[:255]] = now
                cur = self.hints.get(job_id)
                if cur is None:
                    self.hints[job_id] = Hint(job_id, 1, now, 0, now)
                else:
                    self.hints[job_id] = replace(cur, seq=cur.seq + 1, not_before=now)
                accepted.append(True)
            return accepted

    def due_hints(self, now: datetime, limit: int) -> list[Hint]:
        with self._lock:
            due = [h for h in self.hints.values() if h.not_before <= now]
        return sorted(due, key=lambda h: (h.received_at, h.job_id))[:limit]

    def finish_hints(self, done: list[tuple[str, int]]) -> None:
        with self._lock:
            for job_id, seq in done:
                cur = self.hints.get(job_id)
                if cur is not None and cur.seq == seq:
                    del self.hints[job_id]

    def defer_hint(self, job_id: str, seq: int, not_before: datetime) -> bool:
        with self._lock:
            cur = self.hints.get(job_id)
            if cur is None or cur.seq != seq:
                return False
            self.hints[job_id] = replace(cur, attempts=cur.attempts + 1, not_before=not_before)
            return True

    def get_jobs(self, job_ids: list[str]) -> dict[str, Job]:
        wanted = set(job_ids)
        with self._lock:
            return {j.job_id: j for j in self.jobs.values() if j.job_id in wanted}


def upload_filter(up: Upload, status, since, bucket, key_prefix) -> bool:
    if status and up.status != status:
        return False
    if since and up.created_at < since:
        return False
    if bucket and up.bucket != bucket:
        return False
    return not (key_prefix and not up.key.startswith(key_prefix))


def list_filter(j: Job, up: Upload, status, since, bucket, key_prefix) -> bool:
    if status and j.status != status:
        return False
    if since and j.created_at < since:
        return False
    if bucket and up.bucket != bucket:
        return False
    return not (key_prefix and not up.key.startswith(key_prefix))
