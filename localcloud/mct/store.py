"""SQLite persistence of the MCT service state (WAL; survives restarts).

Each resource is one row holding its JSON document plus the few columns we filter or order on. Jobs are never
deleted, so their plain INTEGER PRIMARY KEY (rowid) only grows: creation order without AUTOINCREMENT's extra write.
One connection shared by the event loop and the worker threads, serialized by a lock (SQLite calls are
microseconds).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS pipelines (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, state TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS presets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, state TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, kind TEXT NOT NULL, pipeline TEXT NOT NULL,
    status TEXT NOT NULL, create_time TEXT NOT NULL, doc TEXT NOT NULL, internal TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_by_pipeline ON jobs (pipeline, kind, status);
CREATE TABLE IF NOT EXISTS watermarks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS encryption_keys (job_id TEXT PRIMARY KEY, aes_key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, body BLOB NOT NULL, sign TEXT, attempts INTEGER NOT NULL,
    next_at REAL NOT NULL);
"""


@dataclass
class JobRow:
    seq: int
    id: str
    kind: str  # "transcoding" | "thumbnail"
    pipeline: str
    status: str
    doc: dict  # the wire object (GET answer)
    internal: dict  # what the scheduler needs and the wire never shows


class Store:
    def __init__(self, path: str | Path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        # Checkpoints (the only fsyncs in WAL + synchronous=NORMAL) run in a background thread on their own
        # connection, so request handlers never wait for the disk.
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._conn.executescript(SCHEMA)
        self._closed = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="mct-sqlite-checkpoint", daemon=True)
        self._checkpointer.start()

    def _checkpoint_loop(self, interval: float = 1.0) -> None:
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            while not self._closed.wait(interval):
                with suppress(sqlite3.Error):  # busy: next round
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._checkpointer.join(10)
        with self._lock:
            with suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def execute(self, sql: str, args: tuple = ()) -> int:
        """Run one statement (autocommit); returns the row count."""
        with self._lock:
            return self._conn.execute(sql, args).rowcount

    # ----- named documents (pipelines, presets, watermarks, notifications) --------------------------------------
    def get_doc(self, table: str, key_col: str, key: str) -> dict | None:
        rows = self.query(f"SELECT doc FROM {table} WHERE {key_col} = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def all_docs(self, table: str, where: str = "1=1", args: tuple = ()) -> list[dict]:
        return [json.loads(r[0]) for r in self.query(f"SELECT doc FROM {table} WHERE {where} ORDER BY seq", args)]

    # ----- jobs --------------------------------------------------------------------------------------------------
    def insert_job(self, job_id, kind, pipeline, doc, internal, aes_key: str | None = None) -> int:
        """Store a new job (and its AES key) atomically; returns its sequence number (creation order)."""
        row = (job_id, kind, pipeline, doc["jobStatus"], doc["createTime"], json.dumps(doc), json.dumps(internal))
        sql = "INSERT INTO jobs (id, kind, pipeline, status, create_time, doc, internal) VALUES (?,?,?,?,?,?,?)"
        if not aes_key:  # one autocommit statement: the hot path of create_job
            with self._lock:
                return self._conn.execute(sql, row).lastrowid
        with self.transaction() as conn:
            seq = conn.execute(sql, row).lastrowid
            conn.execute("INSERT INTO encryption_keys (job_id, aes_key) VALUES (?, ?)", (job_id, aes_key))
            return seq

    def get_job(self, job_id: str, kind: str | None = None) -> JobRow | None:
        sql = "SELECT seq, id, kind, pipeline, status, doc, internal FROM jobs WHERE id = ?"
        args: tuple = (job_id,)
        if kind:
            sql += " AND kind = ?"
            args += (kind,)
        rows = self.query(sql, args)
        return _job_row(rows[0]) if rows else None

    def list_jobs(
        self, kind: str, pipeline: str | None, status: str | None, begin: str | None, end: str | None
    ) -> list[dict]:
        sql, args = "SELECT doc FROM jobs WHERE kind = ?", [kind]
        for clause, value in (("pipeline = ?", pipeline), ("status = ?", status)):
            if value:
                sql += f" AND {clause}"
                args.append(value)
        if begin:
            sql += " AND create_time >= ?"
            args.append(begin)
        if end:
            sql += " AND create_time <= ?"
            args.append(end)
        return [json.loads(r[0]) for r in self.query(sql + " ORDER BY seq", tuple(args))]

    def jobs_with_status(self, *statuses: str) -> list[JobRow]:
        marks = ",".join("?" * len(statuses))
        rows = self.query(
            f"SELECT seq, id, kind, pipeline, status, doc, internal FROM jobs WHERE status IN ({marks}) ORDER BY seq",
            statuses,
        )
        return [_job_row(r) for r in rows]

    def save_job(self, job_id: str, doc: dict, internal: dict | None = None) -> None:
        if internal is not None:
            sql, args = "UPDATE jobs SET status = ?, doc = ?, internal = ? WHERE id = ?", (json.dumps(internal),)
        else:
            sql, args = "UPDATE jobs SET status = ?, doc = ? WHERE id = ?", ()
        self.execute(sql, (doc["jobStatus"], json.dumps(doc), *args, job_id))

    def job_counts(self, pipeline: str | None = None) -> dict[str, dict[str, int]]:
        """{pipeline: {status: count}} over transcoding and thumbnail jobs."""
        sql, args = "SELECT pipeline, status, COUNT(*) FROM jobs", ()
        if pipeline is not None:
            sql, args = sql + " WHERE pipeline = ?", (pipeline,)
        counts: dict[str, dict[str, int]] = {}
        for name, status, n in self.query(sql + " GROUP BY pipeline, status", args):
            counts.setdefault(name, {})[status] = n
        return counts

    def encryption_key(self, job_id: str) -> str | None:
        rows = self.query("SELECT aes_key FROM encryption_keys WHERE job_id = ?", (job_id,))
        return rows[0][0] if rows else None


def _job_row(row) -> JobRow:
    seq, job_id, kind, pipeline, status, doc, internal = row
    return JobRow(seq, job_id, kind, pipeline, status, json.loads(doc), json.loads(internal))
