"""at_uploads.redrives: how many times a redrive reopened a done upload (the done event's `attempt` is this + 1;
its `id` changes with it)."""

from __future__ import annotations

from handlers.adapters.store.dialect import Dialect


def statements(d: Dialect) -> list[str]:
    return ["ALTER TABLE at_uploads ADD COLUMN redrives INTEGER NOT NULL DEFAULT 0"]
