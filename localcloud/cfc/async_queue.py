"""Durable asynchronous invocations: CFC's internal queue for Event invocations (BOS triggers, Event API calls).

CFC writes an asynchronous invocation into an internal queue before it answers, invokes the function from there,
retries a failed invocation per the function's asynchronous policy, and hands what exhausts it to a target
(reference: CFC "异步调用", https://cloud.baidu.com/doc/CFC/s/rkv7z3snb). Here the queue is one SQLite file,
``<data_dir>/cfc/async.sqlite3`` (WAL), shared by ``autotranscode up`` and the ``autotranscode events`` command:

- ``invocations``: queued or running. A row is committed before ``enqueue`` returns, so a BOS upload's event is
  recorded before the PUT is answered and survives a SIGKILL. Rows a killed process had running are queued again
  by ``recover`` at the next start: delivery is at least once (the functions are idempotent).
- ``dead_letters``: what exhausted ``RetryPolicy``; listed and replayed (moved back to ``invocations``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

QUEUE_FILE = ("cfc", "async.sqlite3")
LEGACY_DEAD_LETTER_DIR = ("cfc", "dead-letter")  # JSON files written before the queue was durable


@dataclass(frozen=True)
class RetryPolicy:
    """CFC's asynchronous retry policy: the one place to change it.

    The CFC doc says the retry count is set per function between 0 and 3 and an event is kept at most 0-24 hours
    (https://cloud.baidu.com/doc/CFC/s/rkv7z3snb, "使用限制"); neither the defaults nor the delays between attempts
    are documented, and the shared reference (events-and-templates.md §1.3) has nothing on them. [UNVERIFIED] our
    guess: 2 retries (AWS Lambda's default), 0.5 s then 1 s apart, events kept 24 h (the documented maximum)."""

    retry_delays: tuple[float, ...] = (0.5, 1.0)
    max_age_seconds: float = 24 * 3600

    @property
    def max_attempts(self) -> int:
        return 1 + len(self.retry_delays)


@dataclass(frozen=True)
class Invocation:
    id: str
    function: str
    event: object
    attempts: int  # failed attempts so far (an attempt cut short by a crash or a stop does not count)
    enqueued_at: float


@dataclass(frozen=True)
class DeadLetter:
    id: str
    function: str
    event: object
    attempts: int
    first_attempt_at: str
    failed_at: str
    error: dict

    def as_dict(self) -> dict:
        return asdict(self)


SCHEMA = """
CREATE TABLE IF NOT EXISTS invocations (
    id TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    event TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',      -- queued | running
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL,
    enqueued_at REAL NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS invocations_due ON invocations (state, not_before);
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    event TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    enqueued_at REAL NOT NULL,
    failed_at REAL NOT NULL,
    error TEXT NOT NULL
);
"""


def queue_path(data_dir: str | Path) -> Path:
    return Path(data_dir).resolve().joinpath(*QUEUE_FILE)


class AsyncQueue:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # One connection for every thread of this process (short statements, behind the lock); another process
        # (the `autotranscode events` command) may write the same file: wait for its lock instead of failing.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a process crash loses nothing in WAL mode
        with self._lock:
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self, fn):
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    # ----- producer ---------------------------------------------------------------------------------------------
    def enqueue(self, function: str, event, invocation_id: str | None = None, now: float | None = None) -> str:
        """Record one invocation durably (committed when this returns); returns its id."""
        invocation_id = invocation_id or str(uuid.uuid4())
        now = time.time() if now is None else now
        body = json.dumps(event, ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT INTO invocations (id, function, event, not_before, enqueued_at) VALUES (?, ?, ?, ?, ?)",
                (invocation_id, function, body, now, now),
            )
        return invocation_id

    # ----- consumer ---------------------------------------------------------------------------------------------
    def recover(self) -> int:
        """At start: invocations a killed process had running are queued again. Returns how many are queued."""
        with self._lock:
            self._db.execute("UPDATE invocations SET state = 'queued' WHERE state = 'running'")
            return self._db.execute("SELECT COUNT(*) FROM invocations").fetchone()[0]

    def claim(self, now: float | None = None) -> Invocation | None:
        """The oldest due queued invocation, marked running; None when nothing is due."""
        now = time.time() if now is None else now

        def take(db):
            row = db.execute(
                "SELECT id, function, event, attempts, enqueued_at FROM invocations "
                "WHERE state = 'queued' AND not_before <= ? ORDER BY not_before, enqueued_at LIMIT 1",
                (now,),
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE invocations SET state = 'running' WHERE id = ?", (row[0],))
            return Invocation(row[0], row[1], json.loads(row[2]), row[3], row[4])

        return self._tx(take)

    def next_due_in(self, now: float | None = None) -> float | None:
        """Seconds until the next queued invocation is due (0 if one is due now); None when none is queued."""
        now = time.time() if now is None else now
        with self._lock:
            row = self._db.execute("SELECT MIN(not_before) FROM invocations WHERE state = 'queued'").fetchone()
        return None if row[0] is None else max(0.0, row[0] - now)

    def succeeded(self, invocation_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM invocations WHERE id = ?", (invocation_id,))

    def release(self, invocation_id: str) -> None:
        """An attempt cut short (the runtime is stopping): queued again, not counted as a failure."""
        with self._lock:
            self._db.execute("UPDATE invocations SET state = 'queued' WHERE id = ?", (invocation_id,))

    def failed(self, inv: Invocation, error: dict, policy: RetryPolicy, now: float | None = None) -> bool:
        """Count a failed attempt: queue the next one after the policy's delay, or move the invocation to the
        dead letters once it has had every attempt or is older than the policy keeps events. True: dead."""
        now = time.time() if now is None else now
        attempts = inv.attempts + 1
        expired = now - inv.enqueued_at > policy.max_age_seconds
        if attempts < policy.max_attempts and not expired:
            delay = policy.retry_delays[attempts - 1]
            with self._lock:
                self._db.execute(
                    "UPDATE invocations SET state = 'queued', attempts = ?, not_before = ?, last_error = ? "
                    "WHERE id = ?",
                    (attempts, now + delay, json.dumps(error), inv.id),
                )
            return False
        self.dead_letter(inv, error, attempts, now)
        return True

    def dead_letter(self, inv: Invocation, error: dict, attempts: int, now: float | None = None) -> None:
        now = time.time() if now is None else now

        def move(db):
            db.execute(
                "INSERT OR REPLACE INTO dead_letters (id, function, event, attempts, enqueued_at, failed_at, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (inv.id, inv.function, json.dumps(inv.event, ensure_ascii=False), attempts, inv.enqueued_at, now,
                 json.dumps(error, ensure_ascii=False)),
            )  # fmt: skip
            db.execute("DELETE FROM invocations WHERE id = ?", (inv.id,))

        self._tx(move)

    # ----- inspection -------------------------------------------------------------------------------------------
    def pending(self) -> int:
        """Invocations queued, running or waiting for a retry."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM invocations").fetchone()[0]

    def dead_letters(self, function: str | None = None) -> list[DeadLetter]:
        sql = "SELECT id, function, event, attempts, enqueued_at, failed_at, error FROM dead_letters"
        args: tuple = ()
        if function:
            sql, args = sql + " WHERE function = ?", (function,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY failed_at, id", args).fetchall()
        return [
            DeadLetter(r[0], r[1], json.loads(r[2]), r[3], iso_time(r[4]), iso_time(r[5]), json.loads(r[6]))
            for r in rows
        ]

    def replay(self, ids: Iterable[str] | None = None, function: str | None = None) -> list[str]:
        """Move dead letters back into the queue (every one when ``ids`` is None), with fresh attempts; one
        transaction. Returns the ids moved; an unknown id raises ``KeyError`` and moves nothing."""
        now = time.time()

        def move(db):
            if ids is None:
                sql, args = "SELECT id FROM dead_letters", ()
                if function:
                    sql, args = sql + " WHERE function = ?", (function,)
                chosen = [r[0] for r in db.execute(sql, args)]
            else:
                chosen = list(dict.fromkeys(ids))
                known = {r[0] for r in db.execute("SELECT id FROM dead_letters")}
                unknown = [i for i in chosen if i not in known]
                if unknown:
                    raise KeyError(f"no dead letter with id {', '.join(unknown)}")
            for dead_id in chosen:
                db.execute(
                    "INSERT OR REPLACE INTO invocations (id, function, event, not_before, enqueued_at) "
                    "SELECT id, function, event, ?, ? FROM dead_letters WHERE id = ?",
                    (now, now, dead_id),
                )
                db.execute("DELETE FROM dead_letters WHERE id = ?", (dead_id,))
            return chosen

        return self._tx(move)

    def import_legacy_dead_letters(self, data_dir: str | Path) -> int:
        """Dead letters an older localcloud wrote as JSON files move into the table (the files are removed)."""
        root = Path(data_dir).resolve().joinpath(*LEGACY_DEAD_LETTER_DIR)
        moved = 0
        for path in sorted(root.rglob("*.json")) if root.is_dir() else []:
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                inv = Invocation(record["invocationId"], record["function"], record["event"], 0, _epoch(record))
            except (OSError, ValueError, KeyError) as exc:
                log.warning("cannot read old dead letter %s (%s); left in place", path, exc)
                continue
            self.dead_letter(inv, record.get("error") or {}, int(record.get("attempts", 0)))
            path.unlink()
            moved += 1
        return moved


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _epoch(record: dict) -> float:
    try:
        when = datetime.strptime(record["firstAttemptAt"], "%Y-%m-%dT%H:%M:%S.%fZ")
        return when.replace(tzinfo=timezone.utc).timestamp()
    except (KeyError, ValueError):
        return time.time()
