"""Ids derived from what identifies an upload (bucket, key, etag) and one of its targets: a redelivered event
derives the same ids, which is what makes claims idempotent."""

from __future__ import annotations

import hashlib


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def upload_id_for(bucket: str, key: str, etag: str) -> str:
    return _digest("upload", bucket, key, etag)


def claim_id_for(bucket: str, key: str, etag: str, target: str) -> str:
    return _digest("claim", bucket, key, etag, target)
