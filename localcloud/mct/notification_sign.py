"""localcloud MCT's server-side SIGN scheme for notification callbacks (the sending side).

localcloud stands in for MCT, so it keeps its own implementation and shares no code with the receiver
(``handlers/``, which has its own verifier). Both implementations are checked against the same fixed test
vectors, ``tests/fixtures/sign_vectors.json``; if the real formula turns out different, change it here, in the
receiver, and in the vectors.

What is known (reference mct-api.md §5 and "Corrections"): a notification of type SIGN makes MCT add the headers
``Notification-Auth-Expire``, ``Notification-Auth-User`` and ``Notification-Auth-Token``, where the token is
"SHA256-HEX" of the configured *token* and ``"POST;" + endpoint + ";" + content + ";" + expire + ";" + user``.
[UNVERIFIED for MCT; documented by Baidu's other media services (RTC, VideoWorks, VOD)]: HMAC-SHA256 hex keyed by
the token; ``content`` = the raw request body; ``endpoint`` = the notification's endpoint exactly as configured;
``user`` = the account id; ``expire`` = a Unix time in **milliseconds** that is "not a precise expiry, only used to
compute the token" — so a receiver should not refuse a callback on its expiry alone.
"""

from __future__ import annotations

import hashlib
import hmac
import time

EXPIRE_HEADER = "Notification-Auth-Expire"
USER_HEADER = "Notification-Auth-User"
TOKEN_HEADER = "Notification-Auth-Token"
# The account that owns localcloud's resources: the same fixed 32-hex id localcloud BOS puts in its events.
LOCAL_ACCOUNT_ID = "0" * 32
EXPIRE_AFTER_MS = 30 * 60 * 1000  # [INFERRED] how far ahead of the send time the Expire value lies


def sign_notification(token: str, endpoint: str, content: str, expire: str, user: str) -> str:
    message = f"POST;{endpoint};{content};{expire};{user}"
    return hmac.new(token.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_headers(
    token: str, endpoint: str, content: str, now: float | None = None, user: str = LOCAL_ACCOUNT_ID
) -> dict[str, str]:
    """The three headers to add to one delivery of ``content`` (a fresh Expire per attempt)."""
    now_ms = int((time.time() if now is None else now) * 1000)
    expire = str(now_ms + EXPIRE_AFTER_MS)
    return {
        EXPIRE_HEADER: expire,
        USER_HEADER: user,
        TOKEN_HEADER: sign_notification(token, endpoint, content, expire, user),
    }


def verify_notification(token: str, endpoint: str, content: str, expire: str, user: str, signature: str) -> bool:
    """True when ``signature`` (the Notification-Auth-Token header) is the token of these values. The Expire value
    is only an input of the token here (see the module docstring); a receiver judges freshness its own way."""
    expected = sign_notification(token, endpoint, content, expire, user)
    return hmac.compare_digest(expected, (signature or "").strip().lower())
