"""at_delivery_attempts: each POST of the "upload done" event (time, HTTP status, error, the body as sent), for the
console. History only, no key: two racing deliverers may both log an attempt N."""

from __future__ import annotations

from handlers.adapters.store.dialect import Dialect


def statements(d: Dialect) -> list[str]:
    columns = (
        "upload_id VARCHAR(64) NOT NULL, attempt INTEGER NOT NULL, "
        f"sent_at {d.precise_datetime} NOT NULL, status_code INTEGER, error TEXT, event TEXT NOT NULL"
    )
    if d.mysql:  # MySQL has no CREATE INDEX IF NOT EXISTS: the index goes inside CREATE TABLE
        return [f"CREATE TABLE IF NOT EXISTS at_delivery_attempts ({columns}, "
                "INDEX ix_at_delivery_attempts_upload_id (upload_id))"]  # fmt: skip
    return [
        f"CREATE TABLE IF NOT EXISTS at_delivery_attempts ({columns})",
        "CREATE INDEX IF NOT EXISTS ix_at_delivery_attempts_upload_id ON at_delivery_attempts (upload_id)",
    ]
