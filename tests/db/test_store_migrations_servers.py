"""A store made before schema versioning (commit 1a622ca's DDL and rows, replayed from tests/fixtures/store_1a622ca/)
opens and is migrated on real MySQL and PostgreSQL. Runs in a database of its own (<test database>_migrations): these
tests drop every table."""

from datetime import datetime

import pytest

from handlers.adapters.store import SqlStore, schema, schema_status
from handlers.adapters.store.columns import TABLES
from handlers.adapters.store.drivers import connector
from handlers.adapters.store.url import parse_store_url
from tests.db.support import open_at_once
from tests.unit.handlers.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "store_1a622ca"


def _run(url: str, statements: list[str]) -> None:
    connect, _ = connector(parse_store_url(url))
    conn = connect()
    try:
        cur = conn.cursor()
        for statement in statements:
            cur.execute(statement)
        cur.close()
    finally:
        conn.close()


@pytest.fixture
def own_db(server_db_url):
    """An empty database of these tests' own, next to the test database."""
    name = parse_store_url(server_db_url).database
    url = server_db_url.replace(f"/{name}", f"/{name}_migrations")
    if url.startswith("mysql"):
        _run(server_db_url, [f"CREATE DATABASE IF NOT EXISTS {name}_migrations"])
    else:
        connect, _ = connector(parse_store_url(server_db_url))
        conn = connect()
        try:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (f"{name}_migrations",)).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {name}_migrations")
        finally:
            conn.close()
    drop = [f"DROP TABLE IF EXISTS {t}" for t in (*TABLES, schema.VERSION_TABLE)]
    _run(url, drop)
    yield url
    _run(url, drop)


@pytest.fixture
def old_store(own_db):
    dialect = "mysql" if own_db.startswith("mysql") else "postgresql"
    text = (FIXTURES / f"{dialect}.sql").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("--")]
    _run(own_db, [line.rstrip(";") for line in lines])
    return own_db


def test_a_store_made_before_versioning_opens_migrated_with_its_rows(old_store):
    latest = schema.latest()
    assert schema_status(old_store) == (0, latest)
    store = SqlStore(old_store)
    assert schema_status(old_store) == (latest, latest)
    assert store.get_upload("u-1").key == "incoming/old clip.mp4"
    assert {j.target: j.status for j in store.jobs_for_upload("u-1")} == {"720p": "SUCCESS", "360p": "PENDING"}
    assert store.get_delivery("u-1").last_error == "downstream said 503"
    assert store.message_seen("msg-2")
    assert [h.job_id for h in store.due_hints(datetime(2026, 12, 1), 10)] == ["job-360p"]
    rows = store.query(f"SELECT version, name FROM {schema.VERSION_TABLE} ORDER BY version")
    assert [tuple(r) for r in rows][0] == (1, "v0001_initial") and len(rows) == latest
    store.dispose()


def test_cold_starts_migrating_an_old_store_at_once_all_succeed_and_migrate_once(old_store):
    stores, errors = open_at_once(old_store)
    assert errors == []
    assert stores[0].query(f"SELECT COUNT(*) FROM {schema.VERSION_TABLE}")[0][0] == schema.latest()
    assert all(s.get_upload("u-1") is not None for s in stores)
    for s in stores:
        s.dispose()


def test_a_new_database_is_created_at_the_latest_version(own_db):
    assert schema_status(own_db) == (0, schema.latest())
    SqlStore(own_db).dispose()
    assert schema_status(own_db) == (schema.latest(), schema.latest())
