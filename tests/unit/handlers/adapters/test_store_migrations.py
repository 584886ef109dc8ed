"""The store's schema version and ordered migrations on SQLite: a store made before versioning (the fixture, made by
commit 1a622ca's code) opens, is migrated and keeps its rows; migrations run in order, once."""

import shutil
import sqlite3
from datetime import datetime, timedelta

import pytest

from handlers.adapters.store import SqlStore, migrate_store, schema, schema_status
from handlers.domain.records import Job
from tests.unit.handlers.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "store_1a622ca"
MIGRATIONS = ROOT / "handlers" / "adapters" / "store" / "migrations"
NOW = datetime(2026, 12, 1, 12, 0, 0)


@pytest.fixture
def old_store(tmp_path):
    path = tmp_path / "old.sqlite3"
    shutil.copy(FIXTURES / "store.sqlite3", path)
    return f"sqlite:///{path}"


@pytest.fixture
def migrations_dir(tmp_path, monkeypatch):
    """A migrations folder of the test's own: the real files, plus whatever the test adds."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in MIGRATIONS.glob("v*.py"):
        shutil.copy(path, folder)
    monkeypatch.setattr(schema, "_DIR", str(folder))
    schema.available.cache_clear()
    yield folder
    schema.available.cache_clear()


def columns(url, table):
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def applied(url):
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute(f"SELECT version, name FROM {schema.VERSION_TABLE} ORDER BY version").fetchall()


def test_a_store_made_before_versioning_opens_migrated_with_its_rows(old_store):
    latest = schema.latest()
    assert latest >= 1
    assert schema_status(old_store) == (0, latest)
    store = SqlStore(old_store)
    assert schema_status(old_store) == (latest, latest)
    assert applied(old_store)[0] == (1, "v0001_initial")
    upload = store.get_upload("u-1")
    assert upload.key == "incoming/old clip.mp4" and upload.expected_jobs == 2
    assert {j.target: j.status for j in store.jobs_for_upload("u-1")} == {"720p": "SUCCESS", "360p": "PENDING"}
    assert store.get_job("job-720p").result == {"output": "out/720p.mp4"}
    assert store.get_delivery("u-1").last_status_code == 503
    assert store.message_seen("msg-1")
    assert [h.job_id for h in store.due_hints(NOW, 10)] == ["job-360p"]
    # and it takes new work
    _, won = store.claim(Job("c-new", "u-1", "1080p", "transcode", {}), NOW, timedelta(minutes=5))
    assert won and len(store.jobs_for_upload("u-1")) == 3
    store.dispose()


def test_a_new_store_is_created_at_the_latest_version(tmp_path):
    url = f"sqlite:///{tmp_path}/new/store.sqlite3"
    assert schema_status(url) == (0, schema.latest())
    assert not (tmp_path / "new").exists()  # asking changes nothing
    assert migrate_store(url) == (0, schema.latest())
    assert schema_status(url) == (schema.latest(), schema.latest())
    assert migrate_store(url) == (schema.latest(), schema.latest())
    assert [v for v, _ in applied(url)] == list(range(1, schema.latest() + 1))


def test_memory_store_is_always_current():
    assert schema_status("memory://") == (schema.latest(), schema.latest())


def test_migrations_run_in_order_once(old_store, migrations_dir):
    first = schema.latest()
    (migrations_dir / f"v{first + 2:04d}_index_note.py").write_text(
        "def statements(d):\n    return ['CREATE INDEX IF NOT EXISTS ix_at_jobs_note ON at_jobs (note)']\n"
    )
    (migrations_dir / f"v{first + 1:04d}_add_note.py").write_text(
        "def statements(d):\n    return ['ALTER TABLE at_jobs ADD COLUMN note TEXT']\n"
    )
    schema.available.cache_clear()
    assert schema_status(old_store) == (0, first + 2)
    SqlStore(old_store).dispose()
    assert "note" in columns(old_store, "at_jobs")
    assert [v for v, _ in applied(old_store)] == list(range(1, first + 3))
    SqlStore(old_store).dispose()  # already current: nothing runs twice (ADD COLUMN would fail)
    assert len(applied(old_store)) == first + 2


def test_a_store_one_version_behind_gets_only_the_new_migration(old_store, migrations_dir):
    SqlStore(old_store).dispose()
    (migrations_dir / f"v{schema.latest() + 1:04d}_add_note.py").write_text(
        "def statements(d):\n    return ['ALTER TABLE at_uploads ADD COLUMN note TEXT']\n"
    )
    schema.available.cache_clear()
    assert schema_status(old_store) == (schema.latest() - 1, schema.latest())
    store = SqlStore(old_store)
    assert "note" in columns(old_store, "at_uploads") and store.get_upload("u-1").bucket == "uploads"
    store.dispose()


def test_a_failed_migration_leaves_the_store_as_it_was(old_store, migrations_dir):
    SqlStore(old_store).dispose()
    before = schema.latest()
    (migrations_dir / f"v{before + 1:04d}_broken.py").write_text(
        "def statements(d):\n    return ['ALTER TABLE at_uploads ADD COLUMN note TEXT', 'THIS IS NOT SQL']\n"
    )
    schema.available.cache_clear()
    with pytest.raises(sqlite3.OperationalError):
        SqlStore(old_store)
    assert schema_status(old_store) == (before, before + 1)
    assert "note" not in columns(old_store, "at_uploads")  # SQLite DDL is transactional: all or nothing


def test_an_up_to_date_store_opens_without_migrating(old_store, monkeypatch):
    SqlStore(old_store).dispose()

    def refuse(*args):
        raise AssertionError("migrate ran for an up-to-date store")

    monkeypatch.setattr(schema, "migrate", refuse)
    SqlStore(old_store).dispose()


@pytest.mark.parametrize("names", [["v0001_a.py", "v0003_c.py"], ["v0001_a.py", "v0002_b.py", "v0002_c.py"]])
def test_a_gap_or_a_repeated_number_is_refused(migrations_dir, names):
    for path in migrations_dir.glob("v*.py"):
        path.unlink()
    for name in names:
        (migrations_dir / name).write_text("def statements(d):\n    return []\n")
    schema.available.cache_clear()
    with pytest.raises(RuntimeError, match="no gap or repeat"):
        schema.latest()


def test_the_shipped_migrations_are_numbered_in_order():
    assert [v for v, _ in schema.available()] == list(range(1, schema.latest() + 1))
    assert schema.available()[0] == (1, "v0001_initial")
