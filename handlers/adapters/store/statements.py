"""The SQL of every store method, per dialect, built once."""

from __future__ import annotations

from handlers.adapters.store.columns import (
    ATTEMPT_COLS,
    CLAIM_INSERT_COLS,
    DELIVERY_SELECT,
    HINT_COLS,
    JOB_COLS,
    UPLOAD_COLS,
)
from handlers.adapters.store.dialect import Dialect
from handlers.domain.statuses import FINAL_STATUSES


class Statements:
    """The SQL of every store method for one dialect, built once."""

    def __init__(self, d: Dialect) -> None:
        q = d.sql
        self.insert_upload = d.insert_if_absent("at_uploads", UPLOAD_COLS, "upload_id")
        self.select_upload = q(f"SELECT {UPLOAD_COLS} FROM at_uploads WHERE upload_id = ?")
        self.insert_claim = d.insert_if_absent("at_jobs", CLAIM_INSERT_COLS, "claim_id")
        self.take_over_claim = q(
            "UPDATE at_jobs SET status = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? "
            "WHERE claim_id = ? AND job_id IS NULL AND (status = ? OR (status = ? AND lease_until < ?))"
        )
        self.record_submitted = q(
            "UPDATE at_jobs SET status = ?, status_rank = ?, job_id = ?, last_error = NULL, updated_at = ? "
            "WHERE claim_id = ?"
        )
        self.record_submit_failed = q(
            "UPDATE at_jobs SET status = ?, status_rank = ?, last_error = ?, updated_at = ? WHERE claim_id = ?"
        )
        self.select_job = q(f"SELECT {JOB_COLS} FROM at_jobs WHERE job_id = ?")
        self.select_claim = q(f"SELECT {JOB_COLS} FROM at_jobs WHERE claim_id = ?")
        self.select_upload_jobs = q(f"SELECT {JOB_COLS} FROM at_jobs WHERE upload_id = ? ORDER BY target")
        final = ", ".join(f"'{status}'" for status in sorted(FINAL_STATUSES))
        self.count_upload_jobs = q(
            f"SELECT COUNT(*), SUM(CASE WHEN status IN ({final}) THEN 1 ELSE 0 END) FROM at_jobs WHERE upload_id = ?"
        )
        self.update_job_status = q(
            "UPDATE at_jobs SET status = ?, status_rank = ?, result = ?, updated_at = ? "
            "WHERE job_id = ? AND status_rank < ?"
        )
        self.reset_for_redrive = q(
            "UPDATE at_jobs SET status = ?, status_rank = 0, job_id = NULL, result = '{}', updated_at = ? "
            "WHERE claim_id = ? AND status IN (?, ?)"
        )
        self.mark_upload_done = q("UPDATE at_uploads SET status = ?, done_at = ? WHERE upload_id = ? AND status = ?")
        self.select_claim_upload = q("SELECT upload_id FROM at_jobs WHERE claim_id = ?")
        self.reset_delivery = q("UPDATE at_deliveries SET status = ?, updated_at = ? WHERE upload_id = ?")
        self.clear_schedule = q("DELETE FROM at_delivery_schedule WHERE upload_id = ?")
        self.reopen_upload = q(
            "UPDATE at_uploads SET status = ?, done_at = NULL, redrives = redrives + 1 "
            "WHERE upload_id = ? AND status = ?"
        )
        self.insert_message = d.insert_if_absent("at_callback_messages", "message_id, seen_at", "message_id")
        self.select_message = q("SELECT 1 FROM at_callback_messages WHERE message_id = ?")
        self.stale_jobs = q(
            f"SELECT {JOB_COLS} FROM at_jobs WHERE status IN (?, ?) AND updated_at < ? ORDER BY updated_at LIMIT ?"
        )
        self.unsubmitted_claims = q(
            f"SELECT {JOB_COLS} FROM at_jobs "
            "WHERE job_id IS NULL AND (status = ? OR (status = ? AND lease_until < ?)) ORDER BY updated_at LIMIT ?"
        )
        self.list_jobs = "SELECT {} FROM at_jobs j JOIN at_uploads u ON u.upload_id = j.upload_id".format(
            ", ".join([f"j.{c}" for c in JOB_COLS.split(", ")] + [f"u.{c}" for c in UPLOAD_COLS.split(", ")])
        )
        self.insert_delivery = d.insert_if_absent("at_deliveries", "upload_id, status, attempts, updated_at",
                                                  "upload_id")  # fmt: skip
        self.update_delivery = q(
            "UPDATE at_deliveries SET status = ?, attempts = ?, last_status_code = ?, last_error = ?, updated_at = ? "
            "WHERE upload_id = ?"
        )
        self.insert_schedule = d.insert_if_absent("at_delivery_schedule", "upload_id, next_attempt_at", "upload_id")
        self.update_schedule = q("UPDATE at_delivery_schedule SET next_attempt_at = ? WHERE upload_id = ?")
        self.claim_delivery = q(
            "UPDATE at_deliveries SET status = ?, updated_at = ? WHERE upload_id = ? AND status = ? AND attempts = ?"
        )
        self.select_delivery = q(f"{DELIVERY_SELECT} WHERE d.upload_id = ?")
        self.undelivered = q(
            f"{DELIVERY_SELECT} WHERE d.status <> ? AND d.updated_at < ? ORDER BY d.updated_at LIMIT ?"
        )
        # Due: FAILED with its next attempt reached (none recorded: at once), or PENDING for a while (a crash between
        # marking the upload done and the first attempt).
        self.due_deliveries = q(
            f"{DELIVERY_SELECT} WHERE (d.status = ? AND COALESCE(s.next_attempt_at, d.updated_at) <= ?) "
            "OR (d.status = ? AND d.updated_at < ?) OR (d.status = ? AND d.updated_at < ?) "
            "ORDER BY d.updated_at LIMIT ?"
        )
        self.select_uploads_in = q("SELECT upload_id FROM at_uploads WHERE upload_id IN ({})")
        self.select_sweep_marker = q("SELECT marker FROM at_sweep_cursors WHERE cursor_id = ?")
        self.insert_sweep_cursor = d.insert_if_absent("at_sweep_cursors", "cursor_id, marker, updated_at", "cursor_id")
        self.update_sweep_cursor = q("UPDATE at_sweep_cursors SET marker = ?, updated_at = ? WHERE cursor_id = ?")
        self.insert_object_key = d.insert_if_absent("at_object_keys", "key_id, last_seq", "key_id")
        self.bump_object_key = q("UPDATE at_object_keys SET last_seq = last_seq + 1 WHERE key_id = ?")
        self.select_object_key = q("SELECT last_seq FROM at_object_keys WHERE key_id = ?")
        self.insert_version = d.insert_if_absent("at_object_versions", "upload_id, key_id, seq, superseded_by",
                                                 "upload_id")  # fmt: skip
        self.select_version = q("SELECT upload_id, seq, superseded_by FROM at_object_versions WHERE upload_id = ?")
        self.select_versions = q(
            "SELECT upload_id, seq, superseded_by FROM at_object_versions WHERE key_id = ? ORDER BY seq"
        )
        self.mark_superseded = q(
            "UPDATE at_object_versions SET superseded_by = ? WHERE upload_id = ? AND superseded_by IS NULL"
        )
        self.upsert_hint = d.upsert_hint()
        self.due_hints = q(
            f"SELECT {HINT_COLS} FROM at_callback_hints WHERE not_before <= ? ORDER BY received_at, job_id LIMIT ?"
        )
        self.finish_hint = q("DELETE FROM at_callback_hints WHERE job_id = ? AND seq = ?")
        self.defer_hint = q(
            "UPDATE at_callback_hints SET attempts = attempts + 1, not_before = ? WHERE job_id = ? AND seq = ?"
        )
        self.select_jobs_in = q(f"SELECT {JOB_COLS} FROM at_jobs WHERE job_id IN ({{}})")
        self.insert_attempt = q(f"INSERT INTO at_delivery_attempts ({ATTEMPT_COLS}) VALUES (?, ?, ?, ?, ?, ?)")
        self.select_attempts = q(
            f"SELECT {ATTEMPT_COLS} FROM at_delivery_attempts WHERE upload_id = ? ORDER BY sent_at, attempt"
        )
        self.list_uploads = f"SELECT {UPLOAD_COLS} FROM at_uploads"


_BY_DIALECT: dict[str, Statements] = {}


def statements_for(dialect: str) -> Statements:
    if dialect not in _BY_DIALECT:
        _BY_DIALECT[dialect] = Statements(Dialect(dialect))
    return _BY_DIALECT[dialect]
