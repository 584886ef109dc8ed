"""The store: uploads, job claims, callbacks seen, downstream deliveries.

A small repository interface (`Store`) with two implementations that pass the same contract tests:
  SqlStore     plain DB-API drivers: SQLite (sqlite3, default), MySQL (PyMySQL), PostgreSQL (psycopg 3), imported only
               for the database in use (SQLAlchemy's import alone cost ~250 ms of every cold start). Schema is
               created on first use. Every "only once" decision is a unique key or a conditional UPDATE whose
               rowcount says who won, so concurrent callers are safe on all three databases.
  MemoryStore  dicts behind a lock, for unit tests.
Times are naive UTC datetimes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple, Protocol, TypeVar
from urllib.parse import unquote

T = TypeVar("T")

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
class DeliveryAttempt:
    """One POST of the "upload done" event: when, the HTTP status (None: no answer), the error, the body as sent."""

    upload_id: str
    attempt: int
    sent_at: datetime
    status_code: int | None
    error: str | None
    event: str


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
    def final_job_count(self, upload_id: str) -> tuple[int, int]: ...  # (jobs of the upload, how many are final)
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
    def add_delivery_attempt(self, attempt: DeliveryAttempt) -> None: ...
    def delivery_attempts(self, upload_id: str) -> list[DeliveryAttempt]: ...  # oldest first
    def list_uploads(
        self, status: str | None = None, since: datetime | None = None, bucket: str | None = None,
        key_prefix: str | None = None, limit: int = 100,
    ) -> list[Upload]: ...  # newest first  # fmt: skip
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
        self.attempts: list[DeliveryAttempt] = []

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

    def final_job_count(self, upload_id: str) -> tuple[int, int]:
        jobs = self.jobs_for_upload(upload_id)
        return len(jobs), sum(1 for j in jobs if j.final)

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
        return [u for u in uploads if _upload_filter(u, status, since, bucket, key_prefix)][:limit]

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


def _upload_filter(up: Upload, status, since, bucket, key_prefix) -> bool:
    if status and up.status != status:
        return False
    if since and up.created_at < since:
        return False
    if bucket and up.bucket != bucket:
        return False
    return not (key_prefix and not up.key.startswith(key_prefix))


def _list_filter(j: Job, up: Upload, status, since, bucket, key_prefix) -> bool:
    if status and j.status != status:
        return False
    if since and j.created_at < since:
        return False
    if bucket and up.bucket != bucket:
        return False
    return not (key_prefix and not up.key.startswith(key_prefix))


# --- store URLs -------------------------------------------------------------------------------------------------------

ACCEPTED_URL_FORMS = (
    "sqlite:////abs/path.db, sqlite:///relative.db, sqlite:// (in memory), "
    "mysql+pymysql://user:password@host:3306/db[?charset=utf8mb4], "
    "postgresql+psycopg://user:password@host:5432/db (also mysql://, postgresql://, postgres://)"
)
_SCHEMES = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "mysql": "mysql",
    "mysql+pymysql": "mysql",
    "postgresql": "postgresql",
    "postgresql+psycopg": "postgresql",
    "postgres": "postgresql",
}


class StoreUrl(NamedTuple):
    """A parsed store URL. ``database`` is the SQLite file path (None: in memory) or the server's database name.
    (A NamedTuple, not a dataclass: a tenth of the class-creation time, which every cold start pays.)"""

    dialect: str  # "sqlite" | "mysql" | "postgresql"
    database: str | None
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = None
    query: tuple[tuple[str, str], ...] = ()  # driver options, e.g. (("charset", "utf8mb4"),)

    def __repr__(self) -> str:  # never the password
        shown = self._replace(password="***" if self.password else None)
        return "StoreUrl(" + ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, shown, strict=True)) + ")"


def redact_url(url: str) -> str:
    """The store URL without its password, for logs and errors (works on unparseable URLs too)."""
    scheme, sep, rest = url.partition("://")
    base, q, query = rest.partition("?")
    userinfo, at, location = base.rpartition("@")  # a raw '@' in a password: the last '@' ends it
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{location}{q}{query}"


def parse_store_url(url: str) -> StoreUrl:
    """Parse a store URL (the forms in ACCEPTED_URL_FORMS); ValueError naming the URL (redacted) otherwise."""

    def bad(reason: str) -> ValueError:
        return ValueError(f"store URL {redact_url(url)!r}: {reason}; accepted forms: {ACCEPTED_URL_FORMS}")

    scheme, sep, rest = url.partition("://")
    dialect = _SCHEMES.get(scheme.lower()) if sep else None
    if dialect is None:
        raise bad(f"unknown scheme {scheme!r}" if sep else "no scheme")
    rest, _, query_text = rest.partition("?")
    query = []
    for pair in filter(None, query_text.split("&")):
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise bad(f"query parameter {pair!r} is not name=value")
        query.append((unquote(name), unquote(value)))
    if dialect == "sqlite":
        if query:
            raise bad(f"SQLite URLs take no query parameters (got {query_text!r})")
        if rest in ("", "/", "/:memory:"):
            return StoreUrl("sqlite", None)
        if not rest.startswith("/"):
            raise bad("a SQLite URL has no host: three slashes before a relative path, four before an absolute one")
        return StoreUrl("sqlite", unquote(rest[1:]))
    netloc, _, database = rest.partition("/")
    userinfo, _, hostport = netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    if hostport.startswith("["):  # IPv6 literal
        host, _, port_text = hostport[1:].partition("]")
        port_text = port_text.removeprefix(":")
    else:
        host, _, port_text = hostport.partition(":")
    if port_text and not port_text.isdigit():
        # A raw '/' in a password puts part of it here: show the value only if the redacted URL shows it too.
        raise bad(f"port {port_text if port_text in redact_url(url) else '(hidden)'!r} is not a number")
    if not database:
        raise bad("the database name is missing (.../dbname)")
    return StoreUrl(
        dialect,
        unquote(database),
        host or None,
        int(port_text) if port_text else None,
        unquote(username) if username else None,
        unquote(password) if password else None,
        tuple(query),
    )


# --- SQL adapter ------------------------------------------------------------------------------------------------------

TABLES = ("at_uploads", "at_jobs", "at_callback_messages", "at_deliveries", "at_callback_hints", "at_delivery_attempts")

# Explicit column lists: rows come back as tuples in this order.
_UPLOAD_COLS = "upload_id, bucket, object_key, etag, rule, expected_jobs, skipped, status, created_at, done_at"
_JOB_COLS = (
    "claim_id, upload_id, target, kind, request, status, job_id, attempts, result, last_error, lease_until, "
    "created_at, updated_at"
)
_CLAIM_INSERT_COLS = (
    "claim_id, upload_id, target, kind, request, status, status_rank, job_id, attempts, result, last_error, "
    "lease_until, created_at, updated_at"
)
_DELIVERY_COLS = "upload_id, status, attempts, last_status_code, last_error, updated_at"
_HINT_COLS = "job_id, seq, received_at, attempts, not_before"
_ATTEMPT_COLS = "upload_id, attempt, sent_at, status_code, error, event"

# Ids per IN (...) list: below every database's bound-parameter limit (old SQLite builds: 999).
_IN_CHUNK = 500


class _Dialect:
    """Everything that differs between SQLite, MySQL and PostgreSQL. Statements are written with `?` placeholders
    and contain no literal '%' (the MySQL and PostgreSQL drivers use %s)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sqlite = name == "sqlite"
        self.mysql = name == "mysql"
        # Column types as SQLAlchemy created them (existing databases keep working). The hint times carry
        # microseconds on MySQL too: a hint stored with not_before=now must be due at now.
        self.datetime = "TIMESTAMP WITHOUT TIME ZONE" if name == "postgresql" else "DATETIME"
        self.precise_datetime = "DATETIME(6)" if self.mysql else self.datetime
        # SQLite: take the write lock at BEGIN, so waiting is the busy timeout's job, never a failed upgrade.
        self.begin = "BEGIN IMMEDIATE" if self.sqlite else "BEGIN"

    def sql(self, text: str) -> str:
        return text if self.sqlite else text.replace("?", "%s")

    def insert_if_absent(self, table: str, columns: str, key: str) -> str:
        """INSERT that does nothing when the key exists: rowcount 1 = inserted, 0 = already there."""
        marks = ", ".join("?" for _ in columns.split(","))
        if self.mysql:  # not INSERT IGNORE: that would also turn real errors into warnings
            return self.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {key} = {key}")
        return self.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT ({key}) DO NOTHING")

    def upsert_hint(self) -> str:
        """Parameters: job_id, seq, received_at, not_before, seq increment, not_before."""
        insert = f"INSERT INTO at_callback_hints ({_HINT_COLS}) VALUES (?, ?, ?, 0, ?) "
        if self.mysql:
            return self.sql(insert + "ON DUPLICATE KEY UPDATE seq = seq + ?, not_before = ?")
        return self.sql(insert + "ON CONFLICT (job_id) DO UPDATE SET seq = at_callback_hints.seq + ?, not_before = ?")

    def schema(self) -> list[str]:
        dt, dt6 = self.datetime, self.precise_datetime
        tables = [
            ("at_uploads", "upload_id VARCHAR(64) NOT NULL, bucket VARCHAR(255) NOT NULL, "
             "object_key VARCHAR(1024) NOT NULL, etag VARCHAR(128) NOT NULL, rule VARCHAR(255) NOT NULL, "
             "expected_jobs INTEGER NOT NULL, skipped TEXT NOT NULL, status VARCHAR(16) NOT NULL, "
             f"created_at {dt} NOT NULL, done_at {dt}, PRIMARY KEY (upload_id)", []),
            ("at_jobs", "claim_id VARCHAR(64) NOT NULL, upload_id VARCHAR(64) NOT NULL, target VARCHAR(255) NOT NULL, "
             "kind VARCHAR(16) NOT NULL, request TEXT NOT NULL, status VARCHAR(16) NOT NULL, "
             "status_rank INTEGER NOT NULL, job_id VARCHAR(128), attempts INTEGER NOT NULL, result TEXT NOT NULL, "
             f"last_error TEXT, lease_until {dt}, created_at {dt} NOT NULL, updated_at {dt} NOT NULL, "
             "PRIMARY KEY (claim_id), UNIQUE (job_id)",
             [("ix_at_jobs_upload_id", "upload_id"), ("ix_at_jobs_updated_at", "updated_at")]),
            ("at_callback_messages", f"message_id VARCHAR(255) NOT NULL, seen_at {dt} NOT NULL, "
             "PRIMARY KEY (message_id)", []),
            ("at_deliveries", "upload_id VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, "
             "attempts INTEGER NOT NULL, last_status_code INTEGER, last_error TEXT, "
             f"updated_at {dt} NOT NULL, PRIMARY KEY (upload_id)", []),
            ("at_callback_hints", f"job_id VARCHAR(128) NOT NULL, seq INTEGER NOT NULL, received_at {dt6} NOT NULL, "
             f"attempts INTEGER NOT NULL, not_before {dt6} NOT NULL, PRIMARY KEY (job_id)",
             [("ix_at_callback_hints_not_before", "not_before")]),
            # History only (the console shows it); no key: two racing deliverers may both log an attempt N.
            ("at_delivery_attempts", "upload_id VARCHAR(64) NOT NULL, attempt INTEGER NOT NULL, "
             f"sent_at {dt6} NOT NULL, status_code INTEGER, error TEXT, event TEXT NOT NULL",
             [("ix_at_delivery_attempts_upload_id", "upload_id")]),
        ]  # fmt: skip
        statements = []
        for table, columns, indexes in tables:
            if self.mysql:  # MySQL has no CREATE INDEX IF NOT EXISTS: indexes go inside CREATE TABLE
                columns += "".join(f", INDEX {name} ({col})" for name, col in indexes)
                indexes = []
            statements.append(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
            statements += [f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({col})" for name, col in indexes]
        return statements

    def to_db(self, value: datetime | None) -> Any:
        """SQLite keeps datetimes as text, in SQLAlchemy's format (always six fraction digits, so text order is
        time order and files written by the SQLAlchemy version read back)."""
        if value is None or not self.sqlite:
            return value
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def from_db(self, value: Any) -> datetime | None:
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value

    def is_deadlock(self, exc: BaseException) -> bool:
        """A deadlock victim: the whole transaction may simply run again."""
        if self.mysql:
            return bool(exc.args) and exc.args[0] == 1213
        return getattr(exc, "sqlstate", None) == "40P01"


class _Statements:
    """The SQL of every store method for one dialect, built once."""

    def __init__(self, d: _Dialect) -> None:
        q = d.sql
        self.insert_upload = d.insert_if_absent("at_uploads", _UPLOAD_COLS, "upload_id")
        self.select_upload = q(f"SELECT {_UPLOAD_COLS} FROM at_uploads WHERE upload_id = ?")
        self.insert_claim = d.insert_if_absent("at_jobs", _CLAIM_INSERT_COLS, "claim_id")
        self.take_over_claim = q(
            "UPDATE at_jobs SET status = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? "
            "WHERE claim_id = ? AND job_id IS NULL AND (status = ? OR (status = ? AND lease_until < ?))"
        )
        self.record_submitted = q(
            "UPDATE at_jobs SET status = ?, status_rank = ?, job_id = ?, last_error = NULL, updated_at = ? "
            "WHERE claim_id = ?"
        )
        self.record_submit_failed = q(
            "UPDATE at_jobs SET status = ?, status_rank = ?, last_error = ?, updated_at = ? WHERE claim_id = ?"
        )
        self.select_job = q(f"SELECT {_JOB_COLS} FROM at_jobs WHERE job_id = ?")
        self.select_claim = q(f"SELECT {_JOB_COLS} FROM at_jobs WHERE claim_id = ?")
        self.select_upload_jobs = q(f"SELECT {_JOB_COLS} FROM at_jobs WHERE upload_id = ? ORDER BY target")
        final = ", ".join(f"'{status}'" for status in sorted(FINAL_STATUSES))
        self.count_upload_jobs = q(
            f"SELECT COUNT(*), SUM(CASE WHEN status IN ({final}) THEN 1 ELSE 0 END) FROM at_jobs WHERE upload_id = ?"
        )
        self.update_job_status = q(
            "UPDATE at_jobs SET status = ?, status_rank = ?, result = ?, updated_at = ? "
            "WHERE job_id = ? AND status_rank < ?"
        )
        self.reset_for_redrive = q(
            "UPDATE at_jobs SET status = ?, status_rank = 0, job_id = NULL, result = '{}', updated_at = ? "
            "WHERE claim_id = ? AND status IN (?, ?)"
        )
        self.mark_upload_done = q("UPDATE at_uploads SET status = ?, done_at = ? WHERE upload_id = ? AND status = ?")
        self.reopen_upload = q("UPDATE at_uploads SET status = ?, done_at = NULL WHERE upload_id = ?")
        self.insert_message = d.insert_if_absent("at_callback_messages", "message_id, seen_at", "message_id")
        self.select_message = q("SELECT 1 FROM at_callback_messages WHERE message_id = ?")
        self.stale_jobs = q(
            f"SELECT {_JOB_COLS} FROM at_jobs WHERE status IN (?, ?) AND updated_at < ? ORDER BY updated_at LIMIT ?"
        )
        self.unsubmitted_claims = q(
            f"SELECT {_JOB_COLS} FROM at_jobs "
            "WHERE job_id IS NULL AND (status = ? OR (status = ? AND lease_until < ?)) ORDER BY updated_at LIMIT ?"
        )
        self.list_jobs = "SELECT {} FROM at_jobs j JOIN at_uploads u ON u.upload_id = j.upload_id".format(
            ", ".join([f"j.{c}" for c in _JOB_COLS.split(", ")] + [f"u.{c}" for c in _UPLOAD_COLS.split(", ")])
        )
        self.insert_delivery = d.insert_if_absent("at_deliveries", "upload_id, status, attempts, updated_at",
                                                  "upload_id")  # fmt: skip
        self.update_delivery = q(
            "UPDATE at_deliveries SET status = ?, attempts = ?, last_status_code = ?, last_error = ?, updated_at = ? "
            "WHERE upload_id = ?"
        )
        self.select_delivery = q(f"SELECT {_DELIVERY_COLS} FROM at_deliveries WHERE upload_id = ?")
        self.undelivered = q(
            f"SELECT {_DELIVERY_COLS} FROM at_deliveries WHERE status <> ? AND updated_at < ? "
            "ORDER BY updated_at LIMIT ?"
        )
        self.upsert_hint = d.upsert_hint()
        self.due_hints = q(
            f"SELECT {_HINT_COLS} FROM at_callback_hints WHERE not_before <= ? ORDER BY received_at, job_id LIMIT ?"
        )
        self.finish_hint = q("DELETE FROM at_callback_hints WHERE job_id = ? AND seq = ?")
        self.defer_hint = q(
            "UPDATE at_callback_hints SET attempts = attempts + 1, not_before = ? WHERE job_id = ? AND seq = ?"
        )
        self.select_jobs_in = q(f"SELECT {_JOB_COLS} FROM at_jobs WHERE job_id IN ({{}})")
        self.insert_attempt = q(f"INSERT INTO at_delivery_attempts ({_ATTEMPT_COLS}) VALUES (?, ?, ?, ?, ?, ?)")
        self.select_attempts = q(
            f"SELECT {_ATTEMPT_COLS} FROM at_delivery_attempts WHERE upload_id = ? ORDER BY sent_at, attempt"
        )
        self.list_uploads = f"SELECT {_UPLOAD_COLS} FROM at_uploads"


class _Pool:
    """Idle connections, newest first, shared by all threads. A connection idle for a while is pinged before reuse
    (a CFC instance sits idle; the server may have closed it); a connection that failed is dropped."""

    def __init__(self, connect: Callable[[], Any], ping: Callable[[Any], None] | None, max_idle: int = 16) -> None:
        self._connect, self._ping, self._max_idle = connect, ping, max_idle
        self._idle: list[tuple[Any, float]] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        conn = self._get()
        try:
            yield conn
        except BaseException:
            _close_quietly(conn)
            raise
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append((conn, time.monotonic()))
                return
        _close_quietly(conn)

    def _get(self) -> Any:
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn, idle_since = self._idle.pop()
            if self._ping is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
                return conn
            try:
                self._ping(conn)
                return conn
            except Exception:
                _close_quietly(conn)
        return self._connect()

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            _close_quietly(conn)


# A pooled MySQL/PostgreSQL connection idle longer than this is pinged before use.
PING_AFTER_IDLE_SECONDS = 5.0


def _close_quietly(conn: Any) -> None:
    with suppress(Exception):
        conn.close()


class SqlStore:
    """The store on a SQL database through its plain DB-API driver: sqlite3, PyMySQL or psycopg 3 (imported only
    for the database in use). Schema is created on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = parse_store_url(url)
        self.dialect = parsed.dialect
        self._d = _Dialect(parsed.dialect)
        self._sql = _statements(parsed.dialect)
        # SQLite has one writer at a time and its busy handler waits by sleeping: threads of this process take turns
        # on a lock instead. Other processes still wait on the busy timeout.
        self._write_lock: threading.Lock | None = None
        self._memory_lock: threading.RLock | None = None
        if parsed.dialect == "sqlite" and parsed.database is None:
            # One in-memory database = one connection, used by one thread at a time.
            self._memory_lock = threading.RLock()
            self._memory = _sqlite_connect(":memory:")
        else:
            self._write_lock = threading.Lock() if parsed.dialect == "sqlite" else None
            self._pool = _Pool(*_connector(parsed))
        self._create_schema()

    # --- plumbing ---
    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._memory_lock is not None:
            with self._memory_lock:
                yield self._memory
            return
        with self._pool.connection() as conn:
            yield conn

    def _write(self, work: Callable[[Any], T]) -> T:
        """Run work(cursor) in one write transaction (serialized per process on SQLite); a deadlock victim
        (MySQL/PostgreSQL) runs again."""
        for attempt in range(3):
            with self._write_lock or nullcontext(), self._connection() as conn:
                cur = conn.cursor()
                try:
                    cur.execute(self._d.begin)
                    result = work(cur)
                    cur.execute("COMMIT")
                    return result
                except Exception as exc:
                    try:
                        cur.execute("ROLLBACK")
                    except Exception:
                        raise exc from None  # the connection is gone: the pool drops it
                    if attempt == 2 or not self._d.is_deadlock(exc):
                        raise
                finally:
                    cur.close()
        raise AssertionError("unreachable")

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        with self._connection() as conn:
            cur = conn.cursor()
            try:
                cur.execute(sql, params)
                return cur.fetchall()
            finally:
                cur.close()

    def _create_schema(self) -> None:
        def create(cur: Any) -> None:
            for statement in self._d.schema():
                cur.execute(statement)

        for attempt in range(5):
            try:
                self._write(create)
                return
            except Exception:
                # Cold starts creating the schema at once (PostgreSQL: a unique violation in its catalog): the
                # losers retry and find the tables.
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def dispose(self) -> None:
        """Close the connections (a later call opens new ones; an in-memory database is gone)."""
        if self._memory_lock is not None:
            with self._memory_lock:
                self._memory.close()
        else:
            self._pool.close_all()

    def drop_all(self) -> None:
        """Tests only."""

        def drop(cur: Any) -> None:
            for table in TABLES:
                cur.execute(f"DROP TABLE IF EXISTS {table}")

        self._write(drop)

    def _change(self, sql: str, params: Sequence[Any]) -> int:
        """One statement in its own write transaction; -> rowcount (for a conditional UPDATE: 1 = this call won)."""

        def run(cur: Any) -> int:
            cur.execute(sql, params)
            return cur.rowcount

        return self._write(run)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Tests and tools: rows of a plain SQL query (`?` placeholders on every database)."""
        return self._read(self._d.sql(sql), params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Tests and tools: one plain SQL statement (`?` placeholders) in its own transaction; -> rowcount."""
        return self._change(self._d.sql(sql), params)

    # --- uploads ---
    def ensure_upload(self, upload: Upload) -> Upload:
        dt = self._d.to_db
        params = (upload.upload_id, upload.bucket, upload.key, upload.etag, upload.rule, upload.expected_jobs,
                  json.dumps(upload.skipped), upload.status, dt(upload.created_at), dt(upload.done_at))  # fmt: skip
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

    def get_job(self, job_id: str) -> Job | None:
        rows = self._read(self._sql.select_job, (job_id,))
        return self._job(rows[0]) if rows else None

    def get_claim(self, claim_id: str) -> Job | None:
        rows = self._read(self._sql.select_claim, (claim_id,))
        return self._job(rows[0]) if rows else None

    def get_jobs(self, job_ids: list[str]) -> dict[str, Job]:
        ids = sorted(set(job_ids))
        found: dict[str, Job] = {}
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
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
        params = (RETRYABLE, self._d.to_db(now), claim_id, FAILED, SUBMIT_FAILED)
        return self._change(self._sql.reset_for_redrive, params) == 1

    def mark_upload_done(self, upload_id: str, now: datetime) -> bool:
        params = (UPLOAD_DONE, self._d.to_db(now), upload_id, UPLOAD_OPEN)
        return self._change(self._sql.mark_upload_done, params) == 1

    def reopen_upload(self, upload_id: str) -> None:
        self._change(self._sql.reopen_upload, (UPLOAD_OPEN, upload_id))

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
        n = len(_JOB_COLS.split(","))
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
        d = delivery
        params = (d.status, d.attempts, d.last_status_code, d.last_error, self._d.to_db(d.updated_at), d.upload_id)
        self._change(self._sql.update_delivery, params)

    def get_delivery(self, upload_id: str) -> Delivery | None:
        rows = self._read(self._sql.select_delivery, (upload_id,))
        return self._delivery(rows[0]) if rows else None

    def undelivered(self, older_than: datetime, limit: int) -> list[Delivery]:
        rows = self._read(self._sql.undelivered, (DELIVERY_DELIVERED, self._d.to_db(older_than), limit))
        return [self._delivery(r) for r in rows]

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

    # --- callback hints ---
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
        return Upload(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6] or "[]"), r[7], f(r[8]), f(r[9]))

    def _job(self, r: Sequence[Any]) -> Job:
        f = self._d.from_db
        return Job(r[0], r[1], r[2], r[3], json.loads(r[4] or "{}"), r[5], r[6], r[7], json.loads(r[8] or "{}"), r[9],
                   f(r[10]), f(r[11]), f(r[12]))  # fmt: skip

    def _delivery(self, r: Sequence[Any]) -> Delivery:
        return Delivery(r[0], r[1], r[2], r[3], r[4], self._d.from_db(r[5]))


_STATEMENTS: dict[str, _Statements] = {}


def _statements(dialect: str) -> _Statements:
    if dialect not in _STATEMENTS:
        _STATEMENTS[dialect] = _Statements(_Dialect(dialect))
    return _STATEMENTS[dialect]


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


def _sqlite_connect(path: str) -> Any:
    import sqlite3

    # Autocommit mode: transactions are the explicit BEGIN IMMEDIATE ... COMMIT of SqlStore._write.
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    if path != ":memory:":
        # WAL: readers never block the writer and a commit is one append, not several fsyncs; NORMAL sync in
        # WAL mode is still safe against corruption.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _connector(url: StoreUrl) -> tuple[Callable[[], Any], Callable[[Any], None] | None]:
    """(connect, ping) for a file or server database; the driver is imported here, only for the one in use."""
    if url.dialect == "sqlite":
        path = url.database or ""
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return (lambda: _sqlite_connect(path)), None
    options: dict[str, Any] = {k: int(v) if v.isdigit() else v for k, v in url.query}
    if url.dialect == "mysql":
        import pymysql

        options.setdefault("charset", "utf8mb4")
        kwargs = dict(host=url.host or "localhost", port=url.port or 3306, user=url.username or "",
                      password=url.password or "", database=url.database, autocommit=True, **options)  # fmt: skip
        return (lambda: pymysql.connect(**kwargs)), (lambda conn: conn.ping(reconnect=False))
    import psycopg

    kwargs = {k: v for k, v in (("host", url.host), ("port", url.port), ("user", url.username),
                                ("password", url.password), ("dbname", url.database)) if v is not None}  # fmt: skip
    kwargs.update(options)
    return (lambda: psycopg.connect(autocommit=True, **kwargs)), (lambda conn: conn.execute("SELECT 1"))


def open_store(url: str) -> Store:
    """`memory://` -> MemoryStore (tests, demos); anything else is a SQL store URL (see parse_store_url)."""
    if url.startswith("memory:"):
        return MemoryStore()
    return SqlStore(url)


def all_final(jobs: Iterable[Job]) -> bool:
    return all(j.final for j in jobs)
