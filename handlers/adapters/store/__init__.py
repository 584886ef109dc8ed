"""The SQL store adapter: open_store(url)."""

from __future__ import annotations

from handlers.adapters.store.sql import SqlStore
from handlers.adapters.store.url import ACCEPTED_URL_FORMS, StoreUrl, parse_store_url, redact_url
from handlers.services.ports import Store

__all__ = ["ACCEPTED_URL_FORMS", "SqlStore", "StoreUrl", "open_store", "parse_store_url", "redact_url"]


def open_store(url: str) -> Store:
    """`memory://` -> MemoryStore (tests, demos); anything else is a SQL store URL (see parse_store_url)."""
    if url.startswith("memory:"):
        from handlers.testing.memory_store import MemoryStore  # test-only module, not in the CFC zip

        return MemoryStore()
    return SqlStore(url)
