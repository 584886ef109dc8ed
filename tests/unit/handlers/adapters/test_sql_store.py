"""Store contract on the in-memory twin and on SQLite (file and in-memory URL); store URLs; the SQLite file format."""

import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from handlers.adapters.store import SqlStore, StoreUrl, open_store, parse_store_url, redact_url
from handlers.domain.clock import utcnow
from handlers.testing.memory_store import MemoryStore
from tests.unit.handlers.store_contract import LEASE, StoreContract, make_job, make_upload

REPO = Path(__file__).resolve().parents[4]


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self):
        return MemoryStore()


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        s = SqlStore(f"sqlite:///{tmp_path}/sub/dir/store.sqlite3")
        yield s
        s.dispose()


class TestSqliteInMemoryStore(StoreContract):
    @pytest.fixture
    def store(self):
        s = SqlStore("sqlite://")
        yield s
        s.dispose()


def test_schema_is_created_on_first_use_and_reused(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    a = SqlStore(url)
    a.remember_message("m", utcnow())
    b = SqlStore(url)
    assert b.message_seen("m")


def test_open_store_and_redaction():
    assert isinstance(open_store("memory://"), MemoryStore)
    assert isinstance(open_store("sqlite://"), SqlStore)
    assert isinstance(open_store("sqlite:///:memory:"), SqlStore)
    assert redact_url("mysql+pymysql://root:s3cret@db:3306/x") == "mysql+pymysql://root:***@db:3306/x"
    assert redact_url("postgresql://u:p@ss/w:rd@db/x?sslmode=require") == "postgresql://u:***@db/x?sslmode=require"
    assert redact_url("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"
    assert redact_url("mysql://root@db/x") == "mysql://root@db/x"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite://", StoreUrl("sqlite", None)),
        ("sqlite:///:memory:", StoreUrl("sqlite", None)),
        ("sqlite:///rel/dir/a.db", StoreUrl("sqlite", "rel/dir/a.db")),
        ("sqlite:////abs/a%20b.db", StoreUrl("sqlite", "/abs/a b.db")),
        (
            "mysql+pymysql://user:p%40ss@db.example:3307/app?charset=utf8mb4",
            StoreUrl("mysql", "app", "db.example", 3307, "user", "p@ss", (("charset", "utf8mb4"),)),
        ),
        ("mysql://root@127.0.0.1/app", StoreUrl("mysql", "app", "127.0.0.1", None, "root")),
        ("postgresql+psycopg://u:pw@[::1]:5432/app", StoreUrl("postgresql", "app", "::1", 5432, "u", "pw")),
        (
            "postgres://u@pg/app?sslmode=require",
            StoreUrl("postgresql", "app", "pg", None, "u", None, (("sslmode", "require"),)),
        ),
        ("postgresql://pg/app", StoreUrl("postgresql", "app", "pg")),
    ],
)
def test_parse_store_url(url, expected):
    assert parse_store_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("oracle://scott:tiger99@db/x", "unknown scheme 'oracle'"),
        ("/tmp/store.db", "no scheme"),
        ("mysql+pymysql://root:tiger99@db:33o6/x", "port '33o6' is not a number"),
        ("mysql+pymysql://root:tig/er99@db/x", "port '(hidden)' is not a number"),  # a raw '/' in the password
        ("postgresql+psycopg://root:tiger99@db:5432", "the database name is missing"),
        ("sqlite://host/x.db", "a SQLite URL has no host"),
        ("sqlite:///x.db?mode=ro", "SQLite URLs take no query parameters"),
        ("mysql://root:tiger99@db/x?charset", "query parameter 'charset' is not name=value"),
    ],
)
def test_bad_store_url_is_named_redacted_with_the_accepted_forms(url, reason):
    with pytest.raises(ValueError) as err:
        SqlStore(url)
    message = str(err.value)
    assert repr(redact_url(url)) in message and reason in message
    assert "tiger99" not in message and "er99" not in message
    assert "sqlite:////abs/path.db" in message and "mysql+pymysql://" in message and "postgresql+psycopg://" in message


def test_importing_the_store_and_opening_sqlite_loads_no_sqlalchemy_and_no_server_driver(tmp_path):
    code = (
        "import sys, handlers.adapters.store as s, handlers.domain.clock as c; st = s.open_store(sys.argv[1]); "
        "st.remember_message('m', c.utcnow()); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'pymysql', 'psycopg'}))"
    )
    out = subprocess.run([sys.executable, "-c", code, f"sqlite:///{tmp_path}/s.db"], cwd=REPO, capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_processes_creating_the_schema_at_once_all_succeed(tmp_path):
    url = f"sqlite:///{tmp_path}/fresh/s.db"
    code = (
        "import sys, handlers.adapters.store as s, handlers.domain.clock as c; "
        "s.SqlStore(sys.argv[1]).remember_message(sys.argv[2], c.utcnow())"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, url, f"m{n}"], cwd=REPO, stderr=subprocess.PIPE, text=True)
             for n in range(4)]  # fmt: skip
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    store = SqlStore(url)
    assert all(store.message_seen(f"m{n}") for n in range(4))


# The schema and the datetime text exactly as the SQLAlchemy-based store wrote them (before issue #6).
SQLALCHEMY_ERA_SCHEMA = """
CREATE TABLE at_uploads (upload_id VARCHAR(64) NOT NULL, bucket VARCHAR(255) NOT NULL,
  object_key VARCHAR(1024) NOT NULL, etag VARCHAR(128) NOT NULL, rule VARCHAR(255) NOT NULL,
  expected_jobs INTEGER NOT NULL, skipped TEXT NOT NULL, status VARCHAR(16) NOT NULL, created_at DATETIME NOT NULL,
  done_at DATETIME, PRIMARY KEY (upload_id));
CREATE TABLE at_jobs (claim_id VARCHAR(64) NOT NULL, upload_id VARCHAR(64) NOT NULL, target VARCHAR(255) NOT NULL,
  kind VARCHAR(16) NOT NULL, request TEXT NOT NULL, status VARCHAR(16) NOT NULL, status_rank INTEGER NOT NULL,
  job_id VARCHAR(128), attempts INTEGER NOT NULL, result TEXT NOT NULL, last_error TEXT, lease_until DATETIME,
  created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, PRIMARY KEY (claim_id), UNIQUE (job_id));
CREATE INDEX ix_at_jobs_upload_id ON at_jobs (upload_id);
CREATE INDEX ix_at_jobs_updated_at ON at_jobs (updated_at);
CREATE TABLE at_callback_messages (message_id VARCHAR(255) NOT NULL, seen_at DATETIME NOT NULL,
  PRIMARY KEY (message_id));
CREATE TABLE at_deliveries (upload_id VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL,
  last_status_code INTEGER, last_error TEXT, updated_at DATETIME NOT NULL, PRIMARY KEY (upload_id));
"""


def test_a_sqlite_file_written_by_the_sqlalchemy_store_opens_and_works(tmp_path):
    path = tmp_path / "old.sqlite3"
    up = make_upload()
    job = make_job(up)
    with sqlite3.connect(path) as c:
        c.executescript(SQLALCHEMY_ERA_SCHEMA)
        c.execute("INSERT INTO at_uploads VALUES (?, 'b', ?, 'e1', 'rule', 2, '[]', 'OPEN', "
                  "'2026-01-02 03:04:05.123456', NULL)", (up.upload_id, up.key))  # fmt: skip
        c.execute("INSERT INTO at_jobs VALUES (?, ?, '720p', 'transcode', '{}', 'PENDING', 1, 'job-old', 1, '{}', "
                  "NULL, '2026-01-02 03:09:05.000000', '2026-01-02 03:04:05.000000', '2026-01-02 03:04:05.000000')",
                  (job.claim_id, up.upload_id))  # fmt: skip
        c.execute("INSERT INTO at_callback_messages VALUES ('m-old', '2026-01-02 03:04:05.000000')")
    c.close()
    store = SqlStore(f"sqlite:///{path}")
    t0 = datetime(2026, 1, 2, 3, 4, 5)
    got = store.get_job("job-old")
    assert (got.status, got.created_at, got.lease_until) == ("PENDING", t0, t0 + timedelta(minutes=5))
    assert store.get_upload(up.upload_id).created_at == t0.replace(microsecond=123456)
    assert [j.job_id for j in store.stale_jobs(t0 + timedelta(microseconds=1), 10)] == ["job-old"]
    assert store.stale_jobs(t0, 10) == []  # same instant: not older (text order is time order)
    assert store.message_seen("m-old") and not store.remember_message("m-old", t0)
    assert not store.claim(job, t0 + LEASE * 2, LEASE)[1]  # submitted: never taken over
    assert store.update_job_status("job-old", "SUCCESS", {"ok": 1}, t0 + timedelta(seconds=1))
    assert store.accept_hints([("job-old", "m-new")], t0) == [True]  # the hints table was added
    # ... and what the new store writes is what the old one wrote.
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT updated_at FROM at_jobs").fetchone() == ("2026-01-02 03:04:06.000000",)
    c.close()
    store.dispose()


def test_sqlite_file_store_reads_while_another_process_writes(tmp_path):
    # WAL: a reader is never blocked by an open write transaction of another connection (process).
    url = f"sqlite:///{tmp_path}/s.db"
    store = SqlStore(url)
    now = utcnow()
    store.remember_message("before", now)
    other = sqlite3.connect(f"{tmp_path}/s.db", timeout=0.1)
    other.execute("BEGIN EXCLUSIVE")  # in WAL mode the same as IMMEDIATE: readers go on
    other.execute("INSERT INTO at_callback_messages (message_id, seen_at) VALUES ('other', '2026-01-01 00:00:00')")
    try:
        assert store.message_seen("before")  # would raise "database is locked" in rollback-journal mode
        assert not store.message_seen("other")  # not committed yet
    finally:
        other.rollback()
        other.close()
        store.dispose()


def test_store_usable_after_dispose_and_query_helpers(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path}/s.db")
    store.remember_message("m", utcnow())
    store.dispose()
    assert store.message_seen("m")  # new connections
    assert store.dialect == "sqlite"
    assert store.execute("DELETE FROM at_callback_messages WHERE message_id = ?", ("m",)) == 1
    assert store.query("SELECT COUNT(*) FROM at_callback_messages") == [(0,)]
