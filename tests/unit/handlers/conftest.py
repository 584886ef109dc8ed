"""Shared helpers for the handler unit tests: a config builder and Deps over the in-memory twins."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from handlers.config import parse_config
from handlers.services.deps import Deps
from handlers.testing.memory_mct import MemoryMct
from handlers.testing.memory_store import MemoryStore

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"
URL_TOKEN = "unit-url-token-123"

BASE: dict[str, Any] = {
    "mct": {"endpoint": "http://127.0.0.1:1", "pipeline": "autotranscode", "backoff_seconds": 0.01},
    "rules": [
        {
            "name": "videos",
            "bucket": "uploads",
            "prefixes": ["incoming/"],
            "suffixes": [".mp4", ".mov"],
            "targets": [
                {"name": "720p", "preset": "bce.video_mp4_1280x720_2048kbps", "key": "out/{dir}/{stem}/{target}.{ext}"},
                {"name": "360p", "preset": "bce.video_mp4_640x360_600kbps", "key": "out/{dir}/{stem}/{target}.{ext}"},
            ],
            "thumbnails": [{"name": "poster", "key_prefix": "thumbs/{dir}/{stem}/"}],
        }
    ],
    "callback": {"url_token": URL_TOKEN},
    "store_url": "memory://",
}


def config_dict(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        data[key] = value
    return data


def make_deps(data: dict[str, Any] | None = None, *, store=None, mct=None, env=None, **kw) -> Deps:
    cfg = parse_config(data or config_dict(), env=env or {})
    return Deps(cfg, store or MemoryStore(), mct or MemoryMct(), sleep=lambda s: None, **kw)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def bos_event(*keys: str, bucket: str = "uploads", etag: str = "etag-1", event_type: str = "PutObject") -> dict:
    return {
        "events": [
            {
                "eventId": f"ev-{i}",
                "eventTime": "2026-11-23T00:00:00Z",
                "eventType": event_type,
                "content": {"bucket": bucket, "object": key, "eTag": etag, "filesize": 10},
            }
            for i, key in enumerate(keys)
        ]
    }


@pytest.fixture
def deps() -> Deps:
    return make_deps()


@pytest.fixture
def log_output():
    """What the functions' Powertools Logger writes (JSON lines), for the duration of a test."""
    from handlers.logs import logger

    handler = logger.registered_handler
    buf = io.StringIO()
    old = handler.setStream(buf)
    yield buf
    handler.setStream(old)
