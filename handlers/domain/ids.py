"""Ids derived from what identifies an upload (bucket, key, etag) and one of its targets: a redelivered event
derives the same ids, which is what makes claims idempotent."""

from __future__ import annotations

import hashlib


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def upload_id_for(bucket: str, key: str, etag: str) -> str:
    return _digest("upload", bucket, key, etag)


def object_key_id(bucket: str, key: str) -> str:
    """One id for every version of an object key."""
    return _digest("object", bucket, key)


def sweep_cursor_id(bucket: str, prefix: str) -> str:
    return _digest("sweep", bucket, prefix)


def claim_id_for(bucket: str, key: str, etag: str, target: str) -> str:
    return _digest("claim", bucket, key, etag, target)
