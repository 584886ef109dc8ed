"""bce-auth-v1: signing and server-side verification (reference mct-api.md §7).

One implementation shared by localcloud MCT and BOS. Verification rebuilds the canonical request from what the
server received: method, *decoded* path, query parameters and headers (the listed ones, or the default set when the
signedHeaders field is empty, as the Python and Java SDKs send it).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

DEFAULT_EXPIRATION = 1800
# Requests signed this many seconds in the future are still accepted (client clocks drift).
CLOCK_SKEW_SECONDS = 900
_DEFAULT_SIGNED = frozenset({"host", "content-md5", "content-length", "content-type"})


class AuthError(Exception):
    """A rejected request; ``status``/``code`` follow the BCE common error table."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# Memoised: every request encodes the same header names and mostly the same values (host, content type,
# the x-bce-date of this second); `quote` was a tenth of the MCT API's time per request (bench/p6_mct_api.py).
@functools.lru_cache(maxsize=4096)
def uri_encode(value: str, encode_slash: bool = True) -> str:
    """RFC 3986 encoding as BCE uses it: unreserved characters kept, everything else %XX (upper case)."""
    return quote(value, safe="-_.~" if encode_slash else "-_.~/")


def format_timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=256)  # a client signs many requests within the same second
def parse_timestamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    parts = [f"{uri_encode(k)}={uri_encode(v or '')}" for k, v in params if k.lower() != "authorization"]
    return "&".join(sorted(parts))


def canonical_headers(headers: Mapping[str, str], signed: Iterable[str] | None) -> str:
    wanted = {h.strip().lower() for h in signed} if signed else None
    parts = []
    for name, value in headers.items():
        lname = name.strip().lower()
        value = str(value).strip()
        if not value:
            continue
        if wanted is not None:
            if lname not in wanted:
                continue
        elif not (lname in _DEFAULT_SIGNED or lname.startswith("x-bce-")):
            continue
        parts.append(f"{uri_encode(lname)}:{uri_encode(value)}")
    return "\n".join(sorted(parts))


def _hex_hmac(key: str, msg: str) -> str:
    return hmac.new(key.encode("utf-8"), msg.encode("utf-8"), hashlib.sha256).hexdigest()


def signature(
    secret_key: str,
    auth_prefix: str,
    method: str,
    path: str,
    params: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Iterable[str] | None,
) -> str:
    signing_key = _hex_hmac(secret_key, auth_prefix)
    canonical_request = "\n".join(
        [
            method.upper(),
            uri_encode(path, encode_slash=False),
            canonical_query(params),
            canonical_headers(headers, signed_headers),
        ]
    )
    return _hex_hmac(signing_key, canonical_request)


def sign(
    access_key: str,
    secret_key: str,
    method: str,
    path: str,
    params: Iterable[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    timestamp: float | None = None,
    expiration: int = DEFAULT_EXPIRATION,
    signed_headers: list[str] | None = None,
) -> str:
    """The ``Authorization`` header value for a request (used by tests, benchmarks and the notifier)."""
    ts = format_timestamp(time.time() if timestamp is None else timestamp)
    prefix = f"bce-auth-v1/{access_key}/{ts}/{expiration}"
    sig = signature(secret_key, prefix, method, path, params, headers or {}, signed_headers)
    return f"{prefix}/{';'.join(sorted(signed_headers or []))}/{sig}"


@dataclass(frozen=True)
class Verified:
    access_key: str
    timestamp: float


def verify(
    authorization: str | None,
    method: str,
    path: str,
    params: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    credentials: Mapping[str, str],
    now: float | None = None,
) -> Verified:
    """Check a request's bce-auth-v1 ``Authorization``; raise ``AuthError`` with the BCE code when it fails.

    ``headers`` must map lower-case names to values; ``path`` is the decoded URL path.
    """
    if not authorization:
        raise AuthError(403, "AccessDenied", "Access denied: the request carries no Authorization header")
    fields = authorization.strip().split("/")
    if len(fields) != 6 or fields[0] != "bce-auth-v1":
        raise AuthError(
            400,
            "InvalidHTTPAuthHeader",
            "The Authorization header must be "
            "bce-auth-v1/{accessKeyId}/{timestamp}/{expiration}/{signedHeaders}/{signature}",
        )
    _, access_key, ts_text, exp_text, signed_text, given = fields
    secret = credentials.get(access_key)
    if secret is None:
        raise AuthError(403, "InvalidAccessKeyId", f"The access key id {access_key} does not exist")
    try:
        ts = parse_timestamp(ts_text)
        expiration = int(exp_text)
    except ValueError:
        raise AuthError(
            400,
            "InvalidHTTPAuthHeader",
            f"Bad timestamp {ts_text!r} or expiration {exp_text!r} in the Authorization header",
        ) from None
    now = time.time() if now is None else now
    if now > ts + expiration or now < ts - CLOCK_SKEW_SECONDS:
        raise AuthError(
            400,
            "RequestExpired",
            f"Request has expired. Timestamp date is {ts_text}, expiration is {expiration} seconds",
        )
    signed = [h for h in signed_text.split(";") if h] or None
    expected = signature(secret, "/".join(fields[:4]), method, path, params, headers, signed)
    if not hmac.compare_digest(expected, given.lower()):
        raise AuthError(
            400,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided",
        )
    return Verified(access_key, ts)
