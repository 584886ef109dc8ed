"""The one place a callback verdict becomes an HTTP answer (status + JSON body), for the CFC function and the
self-hosted webhook alike; also the transport-level refusals (size, method, path, encoding)."""

from __future__ import annotations

from typing import Any

from handlers.services import callbacks as cb

HEALTH = {"ok": True, "service": "autotranscode", "hint": "MCT notifications are POSTed here"}
Answer = tuple[int, dict[str, Any]]


def problem(status: int, error: str, message: str, field: str | None = None) -> Answer:
    body: dict[str, Any] = {"error": error, "message": message}
    if field:
        body["field"] = field
    return status, body


def too_large(limit: int) -> Answer:
    return problem(413, "too_large", f"body is larger than {limit} bytes", "body")


def method_not_allowed(method: str) -> Answer:
    message = f"{method} is not supported: POST MCT notifications (GET answers a health check)"
    return problem(405, "method_not_allowed", message, "method")


def wrong_path(expected: str, path: str) -> Answer:
    return problem(404, "not_found", f"POST MCT notifications to {expected}, not {path}", "path")


def not_text() -> Answer:
    return problem(400, "bad_request", "body must be UTF-8 JSON text (MCT notifications are JSON)", "body")


def unavailable() -> Answer:
    return problem(503, "unavailable", "the callback could not be recorded; retry later")


def internal_error() -> Answer:
    return problem(500, "internal", "the callback could not be recorded; retry later")


def answer(verdict: cb.Verdict) -> Answer:
    """A verdict of handlers.services.callbacks -> (HTTP status, JSON body)."""
    v = verdict
    if v.outcome == cb.UNAUTHORIZED:
        return problem(401, "unauthorized", v.reason or "unauthorized")
    if v.outcome == cb.MALFORMED:
        return problem(400, "bad_request", v.reason or "malformed notification", v.field)
    if v.outcome == cb.RETRY:
        return problem(503, "unavailable", f"{v.reason}; retry later")
    if v.outcome == cb.IGNORED:  # acknowledged so MCT stops retrying
        return 200, {"status": "ignored", "job_id": v.job_id, "reason": v.reason}
    if v.outcome == cb.RECORDED:
        return 200, {"status": "recorded", "job_id": v.job_id, "job_status": v.job_status}
    return 200, {"status": v.outcome, "job_id": v.job_id}  # DUPLICATE, ACCEPTED
