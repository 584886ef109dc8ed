"""MCT SIGN notifications: the client side of the formula (verification). localcloud/mct/notification_sign.py is the
server side, written separately on purpose; both are checked against tests/fixtures/sign_vectors.json."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

# MCT SIGN notification headers (reference mct-api §5).
HEADER_EXPIRE = "Notification-Auth-Expire"
HEADER_USER = "Notification-Auth-User"
HEADER_TOKEN = "Notification-Auth-Token"


def mct_notification_signature(token: str, endpoint: str, body: str, expire: str, user: str) -> str:
    """[INFERRED] MCT SIGN: HMAC-SHA256 hex keyed by the notification token over
    "POST;{endpoint};{body};{expire};{user}". MCT's doc only says "SHA256-HEX with your token" (reference mct-api §5,
    Corrections: Baidu's other media services document this formula). The client side's one place; localcloud's
    notifier signs with its own code, and both are held to tests/fixtures/sign_vectors.json."""
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
    # [UNVERIFIED] Expire is a unix timestamp in milliseconds (Baidu's media services; seconds accepted too) and "not a
    # precise expiry, only used to compute the token": the user may be any string, and a correctly signed callback
    # is refused on age alone only past a generous replay window (callback.sign_max_age_seconds, default one day).
    if max_age and expire.strip().isdigit():
        expire_at = int(expire.strip())
        if expire_at > 10**11:  # milliseconds
            expire_at //= 1000
        if expire_at < now - max_age:
            return (
                f"{HEADER_EXPIRE} {expire!r} is older than the replay window (callback.sign_max_age_seconds={max_age})"
            )
    return None


def constant_time_equal(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
