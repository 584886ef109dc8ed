"""The store: uploads, job claims, callbacks seen, downstream deliveries.

A small repository interface (`Store`) with two implementations that pass the same contract tests:
  SqlStore     SQLAlchemy 2 Core; SQLite (default), MySQL (mysql+pymysql://), PostgreSQL (postgresql+psycopg://).
               Schema is created on first use. Every "only once" decision is a unique key or a conditional
               UPDATE whose rowcount says who won, so concurrent callers are safe on all three databases.
  MemoryStore  dicts behind a lock, for unit tests.
Times are naive UTC datetimes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

# Job claim/status lifecycle. CLAIMED -> PENDING (create_job ok) | RETRYABLE | SUBMIT_FAILED;
# PENDING -> RUNNING -> SUCCESS | FAILED. Ranks make updates monotonic.
CLAIMED, RETRYABLE, SUBMIT_FAILED = "CLAIMED", "RETRYABLE", "SUBMIT_FAILED"
PENDING, RUNNING, SUCCESS, FAILED = "PENDING", "RUNNING", "SUCCESS", "FAILED"
STATUS_RANK = {CLAIMED: 0, RETRYABLE: 0, PENDING: 1, RUNNING: 2, SUCCESS: 3, FAILED: 3, SUBMIT_FAILED: 3}
FINAL_STATUSES = frozenset({SUCCESS, FAILED, SUBMIT_FAILED})
MCT_STATUSES = frozenset({PENDING, RUNNING, SUCCESS, FAILED})

UPLOAD_OPEN, UPLOAD_DONE = "OPEN", "DONE"
DELIVERY_PENDING, DELIVERY_DELIVERED, DELIVERY_FAILED = "PENDING", "DELIVERED", "FAILED"

KIND_TRANSCODE, KIND_THUMBNAIL = "transcode", "thumbnail"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def upload_id_for(bucket: str, key: str, etag: str) -> str:
    return _digest("upload", bucket, key, etag)


def claim_id_for(bucket: str, key: str, etag: str, target: str) -> str:
    return _digest("claim", bucket, key, etag, target)


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    etag: str
    rule: str
    expected_jobs: int
    skipped: list[dict[str, Any]] = field(default_factory=list)
    status: str = UPLOAD_OPEN
    created_at: datetime = field(default_factory=utcnow)
    done_at: datetime | None = None


@dataclass(frozen=True)
class Job:
    claim_id: str
    upload_id: str
    target: str
    kind: str
    request: dict[str, Any]
    status: str = CLAIMED
    job_id: str | None = None
    attempts: int = 1
    result: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None
    lease_until: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class Delivery:
    upload_id: str
    status: str
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Hint:
    """A pending callback hint: "job_id was reported changed; verify it with get_job" (asynchronous webhook)."""

    job_id: str
    seq: int  # bumped by every accepted callback for this job while the hint is pending
    received_at: datetime  # first accepted callback of this pending hint
    attempts: int = 0  # how many times the verifier deferred it
    not_before: datetime | None = None  # earliest next check; None -> received_at

    def __post_init__(self) -> None:
        if self.not_before is None:
            object.__setattr__(self, "not_before", self.received_at)


class Store(Protocol):
    def ensure_upload(self, upload: Upload) -> Upload: ...
    def get_upload(self, upload_id: str) -> Upload | None: ...
    def claim(self, job: Job, now: datetime, lease: timedelta) -> tuple[Job, bool]: ...
    def record_submitted(self, claim_id: str, job_id: str, now: datetime) -> None: ...
    def record_submit_failed(self, claim_id: str, error: str, retryable: bool, now: datetime) -> None: ...
    def get_job(self, job_id: str) -> Job | None: ...
    def get_claim(self, claim_id: str) -> Job | None: ...
    def jobs_for_upload(self, upload_id: str) -> list[Job]: ...
    def update_job_status(self, job_id: str, status: str, result: dict[str, Any], now: datetime) -> bool: ...
    def reset_for_redrive(self, claim_id: str, now: datetime) -> bool: ...
    def mark_upload_done(self, upload_id: str, now: datetime) -> bool: ...
    def reopen_upload(self, upload_id: str) -> None: ...
    def remember_message(self, message_id: str, now: datetime) -> bool: ...
    def message_seen(self, message_id: str) -> bool: ...
    def stale_jobs(self, older_than: datetime, limit: int) -> list[Job]: ...
    def unsubmitted_claims(self, now: datetime, limit: int) -> list[Job]: ...
    def list_jobs(
        self, status: str | None = None, since: datetime | None = None, bucket: str | None = None,
        key_prefix: str | None = None, limit: int = 100,
    ) -> list[tuple[Job, Upload]]: ...  # fmt: skip
    def ensure_delivery(self, upload_id: str, now: datetime) -> Delivery: ...
    def record_delivery(self, delivery: Delivery) -> None: ...
    def get_delivery(self, upload_id: str) -> Delivery | None: ...
    def undelivered(self, older_than: datetime, limit: int) -> list[Delivery]: ...
    # callback hints (asynchronous webhook)
    def accept_hints(self, hints: list[tuple[str, str | None]], now: datetime) -> list[bool]:
        """Record (job_id, message_id or None) hints in ONE transaction; one bool per input, in order.
        False: a duplicate message id (remembered before, or earlier in this batch); nothing recorded for it.
        True: the message id is remembered and job_id has a pending hint (new: seq=1, attempts=0,
        received_at=not_before=now; already pending: seq+1, not_before=now)."""
        ...

    def due_hints(self, now: datetime, limit: int) -> list[Hint]:
        """Pending hints with not_before <= now, oldest received_at first."""
        ...

    def finish_hints(self, done: list[tuple[str, int]]) -> None:
        """Delete each (job_id, seq) hint only if its seq is still that seq (one transaction)."""
        ...

    def defer_hint(self, job_id: str, seq: int, not_before: datetime) -> bool:
        """attempts+1 and a new not_before, only if seq still matches; True if updated."""
        ...

    def get_jobs(self, job_ids: list[str]) -> dict[str, Job]:
        """Stored jobs by MCT job id; unknown ids are absent."""
        ...


# --- in-memory twin ---------------------------------------------------------------------------------------------------


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.uploads: dict[str, Upload] = {}
        self.jobs: dict[str, Job] = {}
        self.messages: dict[str, datetime] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.hints: dict[str, Hint] = {}

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
            if _can_take_over(current, now):
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

    def get_job(self, job_id: str) -> Job | None:
        return next((j for j in self.jobs.values() if j.job_id == job_id), None)

    def get_claim(self, claim_id: str) -> Job | None:
        return self.jobs.get(claim_id)

    def jobs_for_upload(self, upload_id: str) -> list[Job]:
        return sorted((j for j in self.jobs.values() if j.upload_id == upload_id), key=lambda j: j.target)

    def update_job_status(self, job_id: str, status: str, result: dict[str, Any], now: datetime) -> bool:
        with self._lock:
            cur = self.get_job(job_id)
            if cur is None or STATUS_RANK[status] <= STATUS_RANK[cur.status]:
                return False
            self.jobs[cur.claim_id] = replace(cur, status=status, result=copy.deepcopy(result), updated_at=now)
            return True

    def reset_for_redrive(self, claim_id: str, now: datetime) -> bool:
        with self._lock:
            cur = self.jobs.get(claim_id)
            if cur is None or cur.status not in (FAILED, SUBMIT_FAILED):
                return False
            self.jobs[claim_id] = replace(cur, status=RETRYABLE, job_id=None, result={}, updated_at=now)
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
            if cur is not None:
                self.uploads[upload_id] = replace(cur, status=UPLOAD_OPEN, done_at=None)

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
        jobs = [j for j in self.jobs.values() if _can_take_over(j, now)]
        return sorted(jobs, key=lambda j: j.updated_at)[:limit]

    def list_jobs(self, status=None, since=None, bucket=None, key_prefix=None, limit=100):
        rows = []
        for j in sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True):
            up = self.uploads.get(j.upload_id)
            if up is None or not _list_filter(j, up, status, since, bucket, key_prefix):
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


def _can_take_over(job: Job, now: datetime) -> bool:
    """A claim without a job id may be retried when its last create_job failed transiently or its lease ran out."""
    if job.job_id is not None:
        return False
    if job.status == RETRYABLE:
        return True
    return job.status == CLAIMED and job.lease_until is not None and job.lease_until < now


def _list_filter(j: Job, up: Upload, status, since, bucket, key_prefix) -> bool:
    if status and j.status != status:
        return False
    if since and j.created_at < since:
        return False
    if bucket and up.bucket != bucket:
        return False
    return not (key_prefix and not up.key.startswith(key_prefix))


# --- SQL adapter ------------------------------------------------------------------------------------------------------

try:  # SQLAlchemy is a deployed dependency; the import guard only keeps MemoryStore usable without it.
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql as sa_mysql
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
except ImportError:  # pragma: no cover
    sa = None

if sa is not None:
    metadata = sa.MetaData()
    uploads_t = sa.Table(
        "at_uploads",
        metadata,
        sa.Column("upload_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.String(255), nullable=False),
        sa.Column("object_key", sa.String(1024), nullable=False),
        sa.Column("etag", sa.String(128), nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("expected_jobs", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("done_at", sa.DateTime, nullable=True),
    )
    jobs_t = sa.Table(
        "at_jobs",
        metadata,
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("upload_id", sa.String(64), nullable=False, index=True),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_rank", sa.Integer, nullable=False),
        sa.Column("job_id", sa.String(128), nullable=True, unique=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("lease_until", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False, index=True),
    )
    messages_t = sa.Table(
        "at_callback_messages",
        metadata,
        sa.Column("message_id", sa.String(255), primary_key=True),
        sa.Column("seen_at", sa.DateTime, nullable=False),
    )
    deliveries_t = sa.Table(
        "at_deliveries",
        metadata,
        sa.Column("upload_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    # Microseconds on MySQL too: not_before = now must be <= now when read back (DATETIME rounds to seconds).
    _precise_dt = sa.DateTime().with_variant(sa_mysql.DATETIME(fsp=6), "mysql", "mariadb")
    hints_t = sa.Table(
        "at_callback_hints",
        metadata,
        sa.Column("job_id", sa.String(128), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("received_at", _precise_dt, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", _precise_dt, nullable=False, index=True),
    )


if sa is not None:
    # The statements every callback runs, built once: building and coercing a statement each time cost about as
    # much as running it on SQLite. (Update/insert parameters need names other than the columns'.)
    _b = sa.bindparam
    _SELECT_UPLOAD = uploads_t.select().where(uploads_t.c.upload_id == _b("upload_id"))
    _SELECT_JOB_BY_JOB_ID = jobs_t.select().where(jobs_t.c.job_id == _b("job_id"))
    _SELECT_JOB_BY_CLAIM_ID = jobs_t.select().where(jobs_t.c.claim_id == _b("claim_id"))
    _SELECT_UPLOAD_JOBS = jobs_t.select().where(jobs_t.c.upload_id == _b("upload_id")).order_by(jobs_t.c.target)
    _UPDATE_JOB_STATUS = (
        jobs_t.update()
        .where(jobs_t.c.job_id == _b("b_job_id"), jobs_t.c.status_rank < _b("b_rank"))
        .values(status=_b("b_status"), status_rank=_b("b_rank"), result=_b("b_result"), updated_at=_b("b_now"))
    )
    _INSERT_MESSAGE = messages_t.insert().values(message_id=_b("b_message_id"), seen_at=_b("b_now"))
    _SELECT_MESSAGE = sa.select(messages_t.c.message_id).where(messages_t.c.message_id == _b("message_id"))


def redact_url(url: str) -> str:
    """The store URL without its password, for logs and errors."""
    if sa is None:
        return url
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable store URL>"


class SqlStore:
    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        if sa is None:  # pragma: no cover
            raise RuntimeError("SQLAlchemy is not installed (it is in requirements.txt)")
        self.url = url
        parsed = sa.engine.make_url(url)
        # SQLite has one writer at a time and its busy handler waits by sleeping (up to 100 ms per try): threads of
        # this process take turns on a lock instead. Other processes still wait on the busy timeout.
        self._write_lock = threading.Lock() if parsed.get_backend_name() == "sqlite" else None
        if parsed.get_backend_name() == "sqlite":
            db = parsed.database
            if db and db != ":memory:":
                Path(db).parent.mkdir(parents=True, exist_ok=True)
                engine_kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
            else:
                engine_kwargs.setdefault("poolclass", sa.pool.StaticPool)
                engine_kwargs.setdefault("connect_args", {"check_same_thread": False})
        else:
            engine_kwargs.setdefault("pool_pre_ping", True)
            engine_kwargs.setdefault("pool_recycle", 300)
        self.engine = sa.create_engine(url, **engine_kwargs)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        self._create_schema()

    @contextmanager
    def _write(self):
        """One write transaction (serialized per process for SQLite)."""
        if self._write_lock is None:
            with self.engine.begin() as c:
                yield c
            return
        with self._write_lock, self.engine.begin() as c:
            yield c

    def _create_schema(self) -> None:
        for attempt in range(3):
            try:
                metadata.create_all(self.engine, checkfirst=True)
                return
            except (OperationalError, ProgrammingError, IntegrityError):
                # Two cold starts creating the schema at once: the loser retries and finds the tables.
                if attempt == 2:
                    raise

    def dispose(self) -> None:
        self.engine.dispose()

    def drop_all(self) -> None:
        """Tests only."""
        metadata.drop_all(self.engine)

    # uploads
    def ensure_upload(self, upload: Upload) -> Upload:
        try:
            with self._write() as c:
                c.execute(
                    uploads_t.insert().values(
                        upload_id=upload.upload_id,
                        bucket=upload.bucket,
                        object_key=upload.key,
                        etag=upload.etag,
                        rule=upload.rule,
                        expected_jobs=upload.expected_jobs,
                        skipped=json.dumps(upload.skipped),
                        status=upload.status,
                        created_at=upload.created_at,
                        done_at=upload.done_at,
                    )
                )
        except IntegrityError:
            pass
        found = self.get_upload(upload.upload_id)
        assert found is not None
        return found

    def get_upload(self, upload_id: str) -> Upload | None:
        with self.engine.connect() as c:
            row = c.execute(_SELECT_UPLOAD, {"upload_id": upload_id}).mappings().first()
        return _upload(row) if row else None

    # jobs / claims
    def claim(self, job: Job, now: datetime, lease: timedelta) -> tuple[Job, bool]:
        try:
            with self._write() as c:
                c.execute(
                    jobs_t.insert().values(
                        claim_id=job.claim_id,
                        upload_id=job.upload_id,
                        target=job.target,
                        kind=job.kind,
                        request=json.dumps(job.request),
                        status=CLAIMED,
                        status_rank=STATUS_RANK[CLAIMED],
                        job_id=None,
                        attempts=1,
                        result="{}",
                        last_error=None,
                        lease_until=now + lease,
                        created_at=now,
                        updated_at=now,
                    )
                )
            return self._claim_row(job.claim_id), True
        except IntegrityError:
            pass
        t = jobs_t.c
        with self._write() as c:
            res = c.execute(
                jobs_t.update()
                .where(
                    t.claim_id == job.claim_id,
                    t.job_id.is_(None),
                    sa.or_(t.status == RETRYABLE, sa.and_(t.status == CLAIMED, t.lease_until < now)),
                )
                .values(status=CLAIMED, lease_until=now + lease, attempts=t.attempts + 1, updated_at=now)
            )
            won = res.rowcount == 1
        return self._claim_row(job.claim_id), won

    def _claim_row(self, claim_id: str) -> Job:
        found = self.get_claim(claim_id)
        assert found is not None
        return found

    def record_submitted(self, claim_id: str, job_id: str, now: datetime) -> None:
        with self._write() as c:
            c.execute(
                jobs_t.update()
                .where(jobs_t.c.claim_id == claim_id)
                .values(
                    status=PENDING, status_rank=STATUS_RANK[PENDING], job_id=job_id, last_error=None, updated_at=now
                )
            )

    def record_submit_failed(self, claim_id: str, error: str, retryable: bool, now: datetime) -> None:
        status = RETRYABLE if retryable else SUBMIT_FAILED
        with self._write() as c:
            c.execute(
                jobs_t.update()
                .where(jobs_t.c.claim_id == claim_id)
                .values(status=status, status_rank=STATUS_RANK[status], last_error=error, updated_at=now)
            )

    def get_job(self, job_id: str) -> Job | None:
        return self._one_job(_SELECT_JOB_BY_JOB_ID, {"job_id": job_id})

    def get_claim(self, claim_id: str) -> Job | None:
        return self._one_job(_SELECT_JOB_BY_CLAIM_ID, {"claim_id": claim_id})

    def _one_job(self, query, params: dict[str, Any]) -> Job | None:
        with self.engine.connect() as c:
            row = c.execute(query, params).mappings().first()
        return _job(row) if row else None

    def jobs_for_upload(self, upload_id: str) -> list[Job]:
        with self.engine.connect() as c:
            return [_job(r) for r in c.execute(_SELECT_UPLOAD_JOBS, {"upload_id": upload_id}).mappings()]

    def update_job_status(self, job_id: str, status: str, result: dict[str, Any], now: datetime) -> bool:
        params = {"b_job_id": job_id, "b_rank": STATUS_RANK[status], "b_status": status,
                  "b_result": json.dumps(result), "b_now": now}  # fmt: skip
        with self._write() as c:
            return c.execute(_UPDATE_JOB_STATUS, params).rowcount == 1

    def reset_for_redrive(self, claim_id: str, now: datetime) -> bool:
        with self._write() as c:
            res = c.execute(
                jobs_t.update()
                .where(jobs_t.c.claim_id == claim_id, jobs_t.c.status.in_([FAILED, SUBMIT_FAILED]))
                .values(status=RETRYABLE, status_rank=0, job_id=None, result="{}", updated_at=now)
            )
            return res.rowcount == 1

    def mark_upload_done(self, upload_id: str, now: datetime) -> bool:
        with self._write() as c:
            res = c.execute(
                uploads_t.update()
                .where(uploads_t.c.upload_id == upload_id, uploads_t.c.status == UPLOAD_OPEN)
                .values(status=UPLOAD_DONE, done_at=now)
            )
            return res.rowcount == 1

    def reopen_upload(self, upload_id: str) -> None:
        with self._write() as c:
            c.execute(
                uploads_t.update().where(uploads_t.c.upload_id == upload_id).values(status=UPLOAD_OPEN, done_at=None)
            )

    # callbacks
    def remember_message(self, message_id: str, now: datetime) -> bool:
        try:
            with self._write() as c:
                c.execute(_INSERT_MESSAGE, {"b_message_id": message_id[:255], "b_now": now})
            return True
        except IntegrityError:
            return False

    def message_seen(self, message_id: str) -> bool:
        with self.engine.connect() as c:
            return c.execute(_SELECT_MESSAGE, {"message_id": message_id[:255]}).first() is not None

    def stale_jobs(self, older_than: datetime, limit: int) -> list[Job]:
        t = jobs_t.c
        q = (
            jobs_t.select()
            .where(t.status.in_([PENDING, RUNNING]), t.updated_at < older_than)
            .order_by(t.updated_at)
            .limit(limit)
        )
        with self.engine.connect() as c:
            return [_job(r) for r in c.execute(q).mappings()]

    def unsubmitted_claims(self, now: datetime, limit: int) -> list[Job]:
        t = jobs_t.c
        q = (
            jobs_t.select()
            .where(
                t.job_id.is_(None),
                sa.or_(t.status == RETRYABLE, sa.and_(t.status == CLAIMED, t.lease_until < now)),
            )
            .order_by(t.updated_at)
            .limit(limit)
        )
        with self.engine.connect() as c:
            return [_job(r) for r in c.execute(q).mappings()]

    def list_jobs(self, status=None, since=None, bucket=None, key_prefix=None, limit=100):
        t, u = jobs_t.c, uploads_t.c
        q = sa.select(jobs_t).join(uploads_t, t.upload_id == u.upload_id)
        if status:
            q = q.where(t.status == status)
        if since:
            q = q.where(t.created_at >= since)
        if bucket:
            q = q.where(u.bucket == bucket)
        rows: list[tuple[Job, Upload]] = []
        uploads: dict[str, Upload | None] = {}
        with self.engine.connect() as c:
            jobs = [_job(r) for r in c.execute(q.order_by(t.created_at.desc())).mappings()]
        for job in jobs:
            if job.upload_id not in uploads:
                uploads[job.upload_id] = self.get_upload(job.upload_id)
            up = uploads[job.upload_id]
            if up is None or (key_prefix and not up.key.startswith(key_prefix)):
                continue
            rows.append((job, up))
            if len(rows) >= limit:
                break
        return rows

    # deliveries
    def ensure_delivery(self, upload_id: str, now: datetime) -> Delivery:
        try:
            with self._write() as c:
                c.execute(
                    deliveries_t.insert().values(
                        upload_id=upload_id, status=DELIVERY_PENDING, attempts=0, updated_at=now
                    )
                )
        except IntegrityError:
            pass
        found = self.get_delivery(upload_id)
        assert found is not None
        return found

    def record_delivery(self, delivery: Delivery) -> None:
        with self._write() as c:
            c.execute(
                deliveries_t.update()
                .where(deliveries_t.c.upload_id == delivery.upload_id)
                .values(
                    status=delivery.status,
                    attempts=delivery.attempts,
                    last_status_code=delivery.last_status_code,
                    last_error=delivery.last_error,
                    updated_at=delivery.updated_at,
                )
            )

    def get_delivery(self, upload_id: str) -> Delivery | None:
        with self.engine.connect() as c:
            row = c.execute(deliveries_t.select().where(deliveries_t.c.upload_id == upload_id)).mappings().first()
        return _delivery(row) if row else None

    def undelivered(self, older_than: datetime, limit: int) -> list[Delivery]:
        d = deliveries_t.c
        q = (
            deliveries_t.select()
            .where(d.status != DELIVERY_DELIVERED, d.updated_at < older_than)
            .order_by(d.updated_at)
            .limit(limit)
        )
        with self.engine.connect() as c:
            return [_delivery(r) for r in c.execute(q).mappings()]

    # callback hints
    def accept_hints(self, hints: list[tuple[str, str | None]], now: datetime) -> list[bool]:
        if not hints:
            return []
        dialect = self.engine.dialect.name
        insert_message, upsert_hint = _HINT_SQL["mysql" if dialect in ("mysql", "mariadb") else dialect]
        when = _sqlite_time(now) if dialect == "sqlite" else now
        with self._write() as c:
            # Rows are locked in key order (message ids, then job ids) so concurrent batches cannot deadlock.
            new_ids = {m for m in sorted({m[:255] for _, m in hints if m is not None})
                       if c.exec_driver_sql(insert_message, (m, when)).rowcount == 1}  # fmt: skip
            accepted, per_job = _accepted(hints, new_ids)
            for job_id in sorted(per_job):
                n = per_job[job_id]
                c.exec_driver_sql(upsert_hint, (job_id, n, when, when, n, when))
        return accepted

    def due_hints(self, now: datetime, limit: int) -> list[Hint]:
        h = hints_t.c
        q = hints_t.select().where(h.not_before <= now).order_by(h.received_at, h.job_id).limit(limit)
        with self.engine.connect() as c:
            return [Hint(**r) for r in c.execute(q).mappings()]

    def finish_hints(self, done: list[tuple[str, int]]) -> None:
        if not done:
            return
        h = hints_t.c
        q = hints_t.delete().where(h.job_id == _b("b_job_id"), h.seq == _b("b_seq"))
        with self._write() as c:
            c.execute(q, [{"b_job_id": job_id, "b_seq": seq} for job_id, seq in sorted(done)])

    def defer_hint(self, job_id: str, seq: int, not_before: datetime) -> bool:
        h = hints_t.c
        q = (
            hints_t.update()
            .where(h.job_id == job_id, h.seq == seq)
            .values(attempts=h.attempts + 1, not_before=not_before)
        )
        with self._write() as c:
            return c.execute(q).rowcount == 1

    def get_jobs(self, job_ids: list[str]) -> dict[str, Job]:
        found: dict[str, Job] = {}
        ids = sorted(set(job_ids))
        with self.engine.connect() as c:
            for i in range(0, len(ids), _IN_CHUNK):
                q = jobs_t.select().where(jobs_t.c.job_id.in_(ids[i : i + _IN_CHUNK]))
                found.update((j.job_id, j) for j in map(_job, c.execute(q).mappings()))
        return found


# Ids per IN (...) list: below every database's bound-parameter limit (old SQLite builds: 999).
_IN_CHUNK = 500

# (insert a message id unless remembered, upsert a hint) per dialect; parameters in the driver's style.
# Upsert parameters: job_id, seq, received_at, not_before, seq increment, not_before.
_HINT_SQL = {
    "sqlite": (
        "INSERT INTO at_callback_messages (message_id, seen_at) VALUES (?, ?) ON CONFLICT (message_id) DO NOTHING",
        "INSERT INTO at_callback_hints (job_id, seq, received_at, attempts, not_before) VALUES (?, ?, ?, 0, ?) "
        "ON CONFLICT (job_id) DO UPDATE SET seq = at_callback_hints.seq + ?, not_before = ?",
    ),
    "postgresql": (
        "INSERT INTO at_callback_messages (message_id, seen_at) VALUES (%s, %s) ON CONFLICT (message_id) DO NOTHING",
        "INSERT INTO at_callback_hints (job_id, seq, received_at, attempts, not_before) VALUES (%s, %s, %s, 0, %s) "
        "ON CONFLICT (job_id) DO UPDATE SET seq = at_callback_hints.seq + %s, not_before = %s",
    ),
    "mysql": (
        "INSERT IGNORE INTO at_callback_messages (message_id, seen_at) VALUES (%s, %s)",
        "INSERT INTO at_callback_hints (job_id, seq, received_at, attempts, not_before) VALUES (%s, %s, %s, 0, %s) "
        "ON DUPLICATE KEY UPDATE seq = seq + %s, not_before = %s",
    ),
}


def _accepted(hints: list[tuple[str, str | None]], new_ids: set[str]) -> tuple[list[bool], dict[str, int]]:
    """Which inputs were accepted (the first use of a newly remembered message id, or no message id), in order,
    and how many accepted callbacks each job got."""
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


def _sqlite_time(dt: datetime) -> str:
    """The text SQLite stores for a DATETIME (SQLAlchemy's format: always six fraction digits)."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def _upload(row: Any) -> Upload:
    return Upload(
        upload_id=row["upload_id"],
        bucket=row["bucket"],
        key=row["object_key"],
        etag=row["etag"],
        rule=row["rule"],
        expected_jobs=row["expected_jobs"],
        skipped=json.loads(row["skipped"] or "[]"),
        status=row["status"],
        created_at=row["created_at"],
        done_at=row["done_at"],
    )


def _job(row: Any) -> Job:
    return Job(
        claim_id=row["claim_id"],
        upload_id=row["upload_id"],
        target=row["target"],
        kind=row["kind"],
        request=json.loads(row["request"] or "{}"),
        status=row["status"],
        job_id=row["job_id"],
        attempts=row["attempts"],
        result=json.loads(row["result"] or "{}"),
        last_error=row["last_error"],
        lease_until=row["lease_until"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        upload_id=row["upload_id"],
        status=row["status"],
        attempts=row["attempts"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        updated_at=row["updated_at"],
    )


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    """WAL: readers never block the writer and a commit is one append, not several fsyncs (a SQLite file store
    under concurrent deliveries was ~10 ms per write); NORMAL sync in WAL mode is still safe against corruption."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def open_store(url: str) -> Store:
    """`memory://` -> MemoryStore (tests, demos); anything else is a SQLAlchemy URL."""
    if url.startswith("memory:"):
        return MemoryStore()
    return SqlStore(url)


def all_final(jobs: Iterable[Job]) -> bool:
    return all(j.final for j in jobs)
