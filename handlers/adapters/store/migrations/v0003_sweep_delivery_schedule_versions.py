"""Issue 12: where the sweep stopped per (bucket, prefix); when a failed "upload done" event is tried next; the
versions of an object key, numbered in the order recorded (a counter per key). New tables only, IF NOT EXISTS: safe
to re-run on MySQL, where DDL commits at once."""

from __future__ import annotations

from handlers.adapters.store.dialect import Dialect


def statements(d: Dialect) -> list[str]:
    dt = d.datetime
    tables = [
        ("at_sweep_cursors", f"cursor_id VARCHAR(64) NOT NULL, marker TEXT, updated_at {dt} NOT NULL, "
         "PRIMARY KEY (cursor_id)", []),
        # One row per delivery that failed: NULL = no automatic retry (delivered, or EXPIRED).
        ("at_delivery_schedule", f"upload_id VARCHAR(64) NOT NULL, next_attempt_at {dt}, PRIMARY KEY (upload_id)",
         [("ix_at_delivery_schedule_next", "next_attempt_at")]),
        ("at_object_keys", "key_id VARCHAR(64) NOT NULL, last_seq INTEGER NOT NULL, PRIMARY KEY (key_id)", []),
        ("at_object_versions", "upload_id VARCHAR(64) NOT NULL, key_id VARCHAR(64) NOT NULL, "
         "seq INTEGER NOT NULL, superseded_by VARCHAR(128), PRIMARY KEY (upload_id)",
         [("ix_at_object_versions_key_id", "key_id")]),
    ]  # fmt: skip
    out = []
    for table, columns, indexes in tables:
        if d.mysql:  # MySQL has no CREATE INDEX IF NOT EXISTS: indexes go inside CREATE TABLE
            columns += "".join(f", INDEX {name} ({col})" for name, col in indexes)
            indexes = []
        out.append(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        out += [f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({col})" for name, col in indexes]
    return out
