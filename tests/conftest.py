"""Shared test setup: markers by folder, database URLs for the db tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent
DB_URL_VARS = {"mysql": "AUTOTRANSCODE_TEST_MYSQL_URL", "postgresql": "AUTOTRANSCODE_TEST_PG_URL"}


def pytest_collection_modifyitems(config, items):
    """Mark by folder (unit, integration, db, browser); `slow` tests only with -m slow."""
    run_slow = "slow" in (config.getoption("-m") or "")
    skip_slow = pytest.mark.skip(reason="long case: run with -m slow (make test-all)")
    for item in items:
        folder = Path(item.fspath).relative_to(TESTS_DIR).parts[0]
        if folder in ("unit", "integration", "db", "browser"):
            item.add_marker(getattr(pytest.mark, folder))
        if "slow" in item.keywords and not run_slow:
            item.add_marker(skip_slow)


def db_urls() -> list[tuple[str, str | None]]:
    """(dialect, URL or None) for every real SQL server the db tests can use."""
    return [(name, os.environ.get(var)) for name, var in DB_URL_VARS.items()]


@pytest.fixture(params=[name for name, _ in db_urls()])
def server_db_url(request) -> str:
    """URL of a real MySQL/PostgreSQL test database; skips when its env var is not set."""
    url = dict(db_urls())[request.param]
    if not url:
        pytest.skip(f"{DB_URL_VARS[request.param]} is not set (make/.ci/run sets it when the server runs)")
    return url
