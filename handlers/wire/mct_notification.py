"""The MCT notification body: `{"messageId", "messageBody": "<JSON string>", ...}` -> (messageBody, messageId)."""

from __future__ import annotations

import json
from typing import Any


class MalformedNotification(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def parse_notification(body: str) -> tuple[dict[str, Any], str | None]:
    """-> (messageBody as a dict, messageId); MalformedNotification naming the field otherwise."""
    try:
        outer = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedNotification(f"body is not JSON: {exc.msg} at position {exc.pos}", "body") from None
    if not isinstance(outer, dict):
        raise MalformedNotification("body must be a JSON object", "body")
    inner = outer.get("messageBody")
    if inner is None:
        raise MalformedNotification("messageBody is missing", "messageBody")
    if isinstance(inner, str):  # the documented shape: a JSON *string*
        try:
            inner = json.loads(inner)
        except json.JSONDecodeError as exc:
            raise MalformedNotification(f"messageBody is not a JSON string: {exc.msg}", "messageBody") from None
    if not isinstance(inner, dict):
        raise MalformedNotification("messageBody must encode a JSON object", "messageBody")
    job_id = inner.get("jobId")
    if not isinstance(job_id, str) or not job_id:
        message = f"messageBody.jobId must be a non-empty string, got {job_id!r}"
        raise MalformedNotification(message, "messageBody.jobId")
    message_id = outer.get("messageId")
    return inner, (str(message_id) if message_id else None)
