"""The tables and their column lists (rows come back as tuples in these orders)."""

from __future__ import annotations

TABLES = ("at_uploads", "at_jobs", "at_callback_messages", "at_deliveries", "at_callback_hints", "at_delivery_attempts",
          "at_sweep_cursors", "at_delivery_schedule", "at_object_keys", "at_object_versions")  # fmt: skip

# Explicit column lists: rows come back as tuples in this order.
UPLOAD_COLS = "upload_id, bucket, object_key, etag, rule, expected_jobs, skipped, status, created_at, done_at, redrives"
JOB_COLS = (
    "claim_id, upload_id, target, kind, request, status, job_id, attempts, result, last_error, lease_until, "
    "created_at, updated_at"
)
CLAIM_INSERT_COLS = (
    "claim_id, upload_id, target, kind, request, status, status_rank, job_id, attempts, result, last_error, "
    "lease_until, created_at, updated_at"
)
DELIVERY_COLS = "upload_id, status, attempts, last_status_code, last_error, updated_at"
# A delivery with its next attempt (at_delivery_schedule); FROM at_deliveries d LEFT JOIN at_delivery_schedule s.
DELIVERY_SELECT = (
    "SELECT d.upload_id, d.status, d.attempts, d.last_status_code, d.last_error, d.updated_at, s.next_attempt_at "
    "FROM at_deliveries d LEFT JOIN at_delivery_schedule s ON s.upload_id = d.upload_id"
)
HINT_COLS = "job_id, seq, received_at, attempts, not_before"
ATTEMPT_COLS = "upload_id, attempt, sent_at, status_code, error, event"

# Ids per IN (...) list: below every database's bound-parameter limit (old SQLite builds: 999).
IN_CHUNK = 500
