"""The Store contract against real MySQL / PostgreSQL (skips when AUTOTRANSCODE_TEST_*_URL is unset)."""

import pytest

import handlers.adapters.store.pool as store_mod
from handlers.adapters.store import SqlStore
from handlers.domain.clock import utcnow
from tests.db.support import open_at_once
from tests.unit.handlers.store_contract import StoreContract


class TestServerStore(StoreContract):
    @pytest.fixture
    def store(self, server_db_url):
        s = SqlStore(server_db_url)
        s.drop_all()  # each test starts from an empty schema
        s = SqlStore(server_db_url)
        yield s
        s.drop_all()
        s.dispose()


@pytest.fixture
def empty_db(server_db_url):
    SqlStore(server_db_url).drop_all()
    yield server_db_url
    SqlStore(server_db_url).drop_all()


def test_cold_starts_creating_the_schema_at_once_all_succeed(empty_db):
    stores, errors = open_at_once(empty_db)
    assert errors == []
    assert stores[0].remember_message("m", utcnow()) and all(s.message_seen("m") for s in stores)
    for s in stores:
        s.dispose()


def _server_session_id(store: SqlStore) -> int:
    sql = "SELECT CONNECTION_ID()" if store.dialect == "mysql" else "SELECT pg_backend_pid()"
    return store.query(sql)[0][0]


def _kill(url: str, session_id: int) -> None:
    """What a server does to a connection idle too long (wait_timeout, a restart, a proxy)."""
    killer = SqlStore(url)
    if killer.dialect == "mysql":
        killer.execute(f"KILL {int(session_id)}")
    else:
        killer.query("SELECT pg_terminate_backend(?)", (session_id,))
    killer.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced(empty_db, monkeypatch):
    store = SqlStore(empty_db)
    store.remember_message("m", utcnow())
    first = _server_session_id(store)  # the one pooled connection
    _kill(empty_db, first)
    monkeypatch.setattr(store_mod, "PING_AFTER_IDLE_SECONDS", 0.0)  # as after a long idle period
    assert store.message_seen("m")
    assert _server_session_id(store) != first
    store.dispose()


def test_a_connection_that_failed_is_not_reused(empty_db, monkeypatch):
    store = SqlStore(empty_db)
    first = _server_session_id(store)
    _kill(empty_db, first)
    monkeypatch.setattr(store_mod, "PING_AFTER_IDLE_SECONDS", 1e9)  # no ping: the next call meets the dead socket
    with pytest.raises(Exception):  # noqa: B017 - the driver's own "connection lost" error
        store.message_seen("m")
    assert not store.message_seen("m")  # a new connection
    assert store.remember_message("m", utcnow()) and store.message_seen("m")
    store.dispose()
