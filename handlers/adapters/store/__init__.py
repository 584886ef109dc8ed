"""The SQL store adapter: open_store(url); schema_status(url) for `autotranscode check`."""

from __future__ import annotations

import os

from handlers.adapters.store import schema
from handlers.adapters.store.dialect import Dialect
from handlers.adapters.store.drivers import connector
from handlers.adapters.store.sql import SqlStore
from handlers.adapters.store.url import ACCEPTED_URL_FORMS, StoreUrl, parse_store_url, redact_url
from handlers.services.ports import Store

__all__ = [
    "ACCEPTED_URL_FORMS", "SqlStore", "StoreUrl", "migrate_store", "open_store", "parse_store_url", "redact_url",
    "schema_status",
]  # fmt: skip


def open_store(url: str) -> Store:
    """`memory://` -> MemoryStore (tests, demos); anything else is a SQL store URL (see parse_store_url). A SQL store
    is created or migrated to the latest schema as it opens."""
    if url.startswith("memory:"):
        from handlers.testing.memory_store import MemoryStore  # test-only module, not in the CFC zip

        return MemoryStore()
    return SqlStore(url)


def schema_status(url: str) -> tuple[int, int]:
    """(the store's schema version, the version this code migrates it to), changing nothing. 0 = no store yet, or
    one made before versioning; current < latest = opening the store (or migrate_store) will migrate it."""
    latest = schema.latest()
    if url.startswith("memory:"):
        return latest, latest
    parsed = parse_store_url(url)
    if parsed.dialect == "sqlite" and (parsed.database is None or not os.path.exists(parsed.database)):
        return 0, latest  # a new file (or in-memory database) is created at open
    connect, _ = connector(parsed)
    conn = connect()
    try:
        current = schema.version_of(conn) if schema.has_version_table(conn, Dialect(parsed.dialect)) else 0
    finally:
        conn.close()
    return current, latest


def migrate_store(url: str) -> tuple[int, int]:
    """Create or migrate the store now; -> (version before, version after)."""
    before, _ = schema_status(url)
    store = open_store(url)
    after, _ = schema_status(url)
    dispose = getattr(store, "dispose", None)
    if dispose is not None:
        dispose()
    return before, after
