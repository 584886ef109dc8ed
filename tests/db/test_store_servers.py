"""The Store contract against real MySQL / PostgreSQL (skips when AUTOTRANSCODE_TEST_*_URL is unset)."""

import pytest

from handlers.store import SqlStore
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
