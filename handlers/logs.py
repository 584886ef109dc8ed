"""One Powertools Logger (JSON lines, correlation id) with secret redaction.

Secrets (SK, session token, callback tokens, downstream secret, DB password) are registered at cold start with
`register_secret`; any log record containing one gets it replaced by "***". Keys named like secrets are masked too.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any

from aws_lambda_powertools import Logger

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "autotranscode")
MASK = "***"
_SECRET_KEY_RE = re.compile(r"(secret|token|password|signature|authorization|credential)", re.IGNORECASE)
# Values in URLs and headers that look like credentials, even if not registered.
_INLINE_RE = re.compile(r"(?i)((?:token|secret|password|signature)=)[^&\s\"']+")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return _INLINE_RE.sub(r"\1" + MASK, text)


def redact_value(value: Any, key: str = "") -> Any:
    if key and _SECRET_KEY_RE.search(key) and value not in (None, "", False):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


_STD_ATTRS = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except Exception:
                record.msg = str(record.msg)
            record.args = None
        record.msg = redact_value(record.msg)
        for name, value in list(vars(record).items()):
            if name not in _STD_ATTRS and not name.startswith("_"):
                setattr(record, name, redact_value(value, name))
        return True


logger = Logger(service=SERVICE)
logger.addFilter(RedactingFilter())
