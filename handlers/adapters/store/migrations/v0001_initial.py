"""The five tables as the store had them before schema versioning (commit 1a622ca and earlier, SQLAlchemy included):
IF NOT EXISTS, so a store created then is adopted as it is."""

from __future__ import annotations

from handlers.adapters.store.dialect import Dialect


def statements(d: Dialect) -> list[str]:
    dt, dt6 = d.datetime, d.precise_datetime
    tables = [
        ("at_uploads", "upload_id VARCHAR(64) NOT NULL, bucket VARCHAR(255) NOT NULL, "
         "object_key VARCHAR(1024) NOT NULL, etag VARCHAR(128) NOT NULL, rule VARCHAR(255) NOT NULL, "
         "expected_jobs INTEGER NOT NULL, skipped TEXT NOT NULL, status VARCHAR(16) NOT NULL, "
         f"created_at {dt} NOT NULL, done_at {dt}, PRIMARY KEY (upload_id)", []),
        ("at_jobs", "claim_id VARCHAR(64) NOT NULL, upload_id VARCHAR(64) NOT NULL, target VARCHAR(255) NOT NULL, "
         "kind VARCHAR(16) NOT NULL, request TEXT NOT NULL, status VARCHAR(16) NOT NULL, "
         "status_rank INTEGER NOT NULL, job_id VARCHAR(128), attempts INTEGER NOT NULL, result TEXT NOT NULL, "
         f"last_error TEXT, lease_until {dt}, created_at {dt} NOT NULL, updated_at {dt} NOT NULL, "
         "PRIMARY KEY (claim_id), UNIQUE (job_id)",
         [("ix_at_jobs_upload_id", "upload_id"), ("ix_at_jobs_updated_at", "updated_at")]),
        ("at_callback_messages", f"message_id VARCHAR(255) NOT NULL, seen_at {dt} NOT NULL, "
         "PRIMARY KEY (message_id)", []),
        ("at_deliveries", "upload_id VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, "
         "attempts INTEGER NOT NULL, last_status_code INTEGER, last_error TEXT, "
         f"updated_at {dt} NOT NULL, PRIMARY KEY (upload_id)", []),
        ("at_callback_hints", f"job_id VARCHAR(128) NOT NULL, seq INTEGER NOT NULL, received_at {dt6} NOT NULL, "
         f"attempts INTEGER NOT NULL, not_before {dt6} NOT NULL, PRIMARY KEY (job_id)",
         [("ix_at_callback_hints_not_before", "not_before")]),
    ]  # fmt: skip
    out = []
    for table, columns, indexes in tables:
        if d.mysql:  # MySQL has no CREATE INDEX IF NOT EXISTS: indexes go inside CREATE TABLE
            columns += "".join(f", INDEX {name} ({col})" for name, col in indexes)
            indexes = []
        out.append(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        out += [f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({col})" for name, col in indexes]
    return out
