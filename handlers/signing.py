"""Signatures: the MCT SIGN notification formula and the downstream "upload done" signature.

Both compare in constant time. `verify_downstream_signature` is what users import in their own app.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

# MCT SIGN notification headers (reference mct-api §5).
HEADER_EXPIRE = "Notification-Auth-Expire"
HEADER_USER = "Notification-Auth-User"
HEADER_TOKEN = "Notification-Auth-Token"

# Downstream event headers.
HEADER_TIMESTAMP = "X-Autotranscode-Timestamp"
HEADER_SIGNATURE = "X-Autotranscode-Signature"
SIGNATURE_VERSION = "v1"


def mct_notification_signature(token: str, endpoint: str, body: str, expire: str, user: str) -> str:
    """[INFERRED] MCT SIGN: HMAC-SHA256 hex keyed by the notification token over
    "POST;{endpoint};{body};{expire};{user}". The doc only says "SHA256-HEX with your token" (reference mct-api §5);
    this is the ONE place to change if the real formula differs (localcloud's notifier uses the same function)."""
    message = f"POST;{endpoint};{body};{expire};{user}"
    return hmac.new(token.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup (proxy events keep the sender's casing)."""
    if not headers:
        return None
    lowered = name.lower()
    for k, v in headers.items():
        if k.lower() == lowered:
            return v
    return None


def verify_mct_notification(
    token: str, endpoint: str, body: str, headers: Mapping[str, str] | None, now: float, max_age: int
) -> str | None:
    """None when the SIGN headers are valid, else the reason (never echoing secrets)."""
    expire, user, given = (header(headers, h) for h in (HEADER_EXPIRE, HEADER_USER, HEADER_TOKEN))
    if not (expire and user and given):
        return f"missing {HEADER_EXPIRE}/{HEADER_USER}/{HEADER_TOKEN} headers"
    expected = mct_notification_signature(token, endpoint, body, expire, user)
    if not hmac.compare_digest(expected.lower(), given.strip().lower()):
        return f"{HEADER_TOKEN} does not match"
    # [INFERRED] Expire is a unix timestamp (seconds) after which the request is no longer valid.
    if max_age and expire.strip().isdigit():
        expire_at = int(expire.strip())
        if expire_at > 10**11:  # milliseconds
            expire_at //= 1000
        if expire_at < now - max_age:
            return f"{HEADER_EXPIRE} {expire!r} is in the past"
    return None


def constant_time_equal(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def sign_downstream(secret: str, body: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def downstream_headers(secret: str | None, body: str, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": "application/json", HEADER_TIMESTAMP: str(ts)}
    if secret:
        headers[HEADER_SIGNATURE] = sign_downstream(secret, body, ts)
    return headers


def verify_downstream_signature(
    secret: str, headers: Mapping[str, str], body: str | bytes, now: float | None = None, window: int = 300
) -> bool:
    """For the receiving app: True when the "upload done" event is authentic and recent.

    `headers` may use any casing; `body` is the raw request body; `window` bounds clock skew / replay (seconds).
    """
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    ts_text, sig = header(headers, HEADER_TIMESTAMP), header(headers, HEADER_SIGNATURE)
    if not ts_text or not sig or not ts_text.strip().lstrip("-").isdigit():
        return False
    ts = int(ts_text.strip())
    now = time.time() if now is None else now
    if abs(now - ts) > window:
        return False
    expected = sign_downstream(secret, body, ts)
    # A receiver may get several comma-separated signatures during secret rotation.
    return any(hmac.compare_digest(expected, part.strip()) for part in sig.split(","))
