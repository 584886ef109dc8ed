"""The SIGN scheme of MCT notification callbacks — the one place that holds our guess of it.

Reference mct-api.md §5: a notification of type SIGN makes MCT add the headers ``Notification-Auth-Expire``,
``Notification-Auth-User`` and ``Notification-Auth-Token``, where the token is "SHA256-HEX" of the configured
*token* and ``"POST;" + endpoint + ";" + content + ";" + expireTime + ";" + user``.

[INFERRED]: HMAC-SHA256 keyed by the token (hex digest); ``content`` = the raw request body (UTF-8 text);
``endpoint`` = the notification's configured endpoint URL, exactly as configured; ``expire`` = the
``Notification-Auth-Expire`` header value, a Unix time in seconds after which the callback must be refused;
``user`` = the ``Notification-Auth-User`` header value. The webhook side mirrors ``verify_notification``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

EXPIRE_HEADER = "Notification-Auth-Expire"
USER_HEADER = "Notification-Auth-User"
TOKEN_HEADER = "Notification-Auth-Token"
DEFAULT_USER = "mct"  # [INFERRED] the real value is probably the account id; receivers just echo it into the check
DEFAULT_TTL_SECONDS = 1800  # [INFERRED]


def sign_notification(token: str, endpoint: str, content: str, expire: str, user: str) -> str:
    message = f"POST;{endpoint};{content};{expire};{user}"
    return hmac.new(token.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_headers(
    token: str, endpoint: str, content: str, now: float | None = None, user: str = DEFAULT_USER,
    ttl: int = DEFAULT_TTL_SECONDS,
) -> dict[str, str]:  # fmt: skip
    """The three headers to add to one delivery of ``content`` (a fresh expiry per attempt)."""
    expire = str(int((time.time() if now is None else now) + ttl))
    return {
        EXPIRE_HEADER: expire,
        USER_HEADER: user,
        TOKEN_HEADER: sign_notification(token, endpoint, content, expire, user),
    }


def verify_notification(
    token: str, endpoint: str, content: str, expire: str, user: str, signature: str, now: float | None = None
) -> bool:
    """True when ``signature`` (the Notification-Auth-Token header) matches and ``expire`` has not passed."""
    try:
        if int(expire) < (time.time() if now is None else now):
            return False
    except (TypeError, ValueError):
        return False
    expected = sign_notification(token, endpoint, content, expire, user)
    return hmac.compare_digest(expected, (signature or "").strip().lower())
