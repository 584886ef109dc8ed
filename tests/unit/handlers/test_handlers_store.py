"""Store contract on the in-memory twin and on SQLite (file and in-memory URL)."""

import pytest

from handlers.store import MemoryStore, SqlStore, open_store, redact_url
from tests.unit.handlers.store_contract import StoreContract


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


def test_schema_is_created_on_first_use_and_reused(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    a = SqlStore(url)
    a.remember_message("m", __import__("handlers.store").store.utcnow())
    b = SqlStore(url)
    assert b.message_seen("m")


def test_open_store_and_redaction():
    assert isinstance(open_store("memory://"), MemoryStore)
    assert isinstance(open_store("sqlite://"), SqlStore)
    assert "s3cret" not in redact_url("mysql+pymysql://root:s3cret@db:3306/x")


def test_sqlite_file_store_reads_while_another_process_writes(tmp_path):
    # WAL: a reader is never blocked by an open write transaction of another connection (process).
    import sqlite3

    url = f"sqlite:///{tmp_path}/s.db"
    store = SqlStore(url)
    now = __import__("handlers.store").store.utcnow()
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
