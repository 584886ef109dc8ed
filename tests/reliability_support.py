"""Shared pieces of the reliability tests (tests/integration/reliability/test_*.py, issue #7).

- ``report(request, text)``: print a figure line past pytest's capture, so the numbers show in CI output.
- ``FastEngine``: the MCT engine interface without ffmpeg (outputs are a few bytes, written the engine's way: a temp
  file committed to the target key), so hundreds of jobs finish in seconds. Target keys containing ``/fail/`` fail.
- ``make_cloud(...)``: localcloud MCT over HTTP (real SDK) + the functions in-process (upload use-case, the
  self-hosted webhook, the reconciler) + a downstream receiver, wired like
  ``tests/integration/handlers/test_functions_mct``.
- ``snapshot_store`` / ``mct_job_docs``: state to compare before/after (nothing recorded, nothing created).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from handlers import bootstrap
from handlers.adapters.mct_sdk import SdkMct
from handlers.adapters.store import SqlStore
from handlers.adapters.store.columns import TABLES
from handlers.config import parse_config
from handlers.domain.clock import utcnow
from handlers.on_upload import handler as on_upload_handler
from handlers.services.deps import Deps
from handlers.services.submit import RetryLater
from handlers.webhook_app import app as webhook_app
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.faults import FaultConfig
from localcloud.mct.engine import types as engine_types
from localcloud.mct.engine.thumbnail import thumbnail_key
from localcloud.mct.testing import RunningMct, running_mct
from localcloud.serve import RunningServer, serve_in_thread
from tests.unit.handlers.receiver import Receiver
from tests.waiting import mct_outstanding, pending_hints, wait_idle

BUCKET = "uploads"
PIPELINE = "autotranscode"
URL_TOKEN = "rel-url-token-0123456789"
SIGN_TOKEN = "rel-sign-token-0123456789"
DOWNSTREAM_SECRET = "rel-downstream-secret"
TARGETS = (("720p", "bce.video_mp4_1280x720_2048kbps"), ("360p", "bce.video_mp4_640x360_600kbps"))
JOBS_PER_UPLOAD = len(TARGETS) + 1  # + one thumbnail job


def report(request, text: str) -> None:
    """Print ``text`` on the terminal even while pytest captures output (figures belong in the CI log)."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        print(text, flush=True)
        return
    with capman.global_and_fixture_disabled():
        print(f"\n{text}", flush=True)


class FastEngine:
    """``localcloud.mct.engine`` without ffmpeg: same types, same commit discipline, instant results."""

    ClipInput = engine_types.ClipInput
    TranscodeRequest = engine_types.TranscodeRequest
    TranscodeResult = engine_types.TranscodeResult
    ThumbnailRequest = engine_types.ThumbnailRequest
    ThumbnailResult = engine_types.ThumbnailResult
    EngineError = engine_types.EngineError

    def __init__(self, delay: float = 0.0):
        self.delay = delay  # seconds per call (lets callbacks of different jobs interleave)
        self.calls = 0
        self._lock = threading.Lock()

    def _commit(self, storage, bucket: str, key: str, data: bytes) -> None:
        tmp = storage.new_temp_path()
        tmp.write_bytes(data)
        storage.commit_file(bucket, key, tmp, content_type="video/mp4")

    def transcode_many(self, reqs, storage, on_process=None):
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay * random.random())
        results: list[Any] = []
        for req in reqs:
            if "/fail/" in req.target_key:
                results.append(self.EngineError("TranscodeFailed", f"cannot make {req.target_key}"))
                continue
            self._commit(storage, req.target_bucket, req.target_key, f"out:{req.job_id}".encode())
            output = {"container": "mp4", "durationInSecond": 1, "video": {"widthInPixel": 320, "heightInPixel": 240}}
            results.append(self.TranscodeResult(output, [req.target_key]))
        return results

    def thumbnail(self, req, storage, on_process=None):
        with self._lock:
            self.calls += 1
        key = thumbnail_key(req.key_prefix, req.format, None)
        self._commit(storage, req.target_bucket, key, f"thumb:{req.job_id}".encode())
        return self.ThumbnailResult([key])

    def probe_media(self, path):  # pragma: no cover - mediainfo_check is off in these tests
        raise self.EngineError("MediaInfoFailed", "FastEngine does not probe")


def rule() -> dict[str, Any]:
    key = "out/{dir}/{stem}/{target}.mp4"
    return {
        "name": "videos",
        "bucket": BUCKET,
        "prefixes": ["incoming/"],
        "suffixes": [".mp4"],
        "targets": [{"name": name, "preset": preset, "key": key} for name, preset in TARGETS],
        "thumbnails": [{"name": "poster", "key_prefix": "thumbs/{dir}/{stem}/poster", "width": 160, "height": 120}],
    }


@dataclass
class Cloud:
    mct: RunningMct
    deps: Deps
    receiver: Receiver  # downstream "upload done" events
    downstream: RunningServer
    webhook: RunningServer
    callback_url: str
    servers: list[RunningServer] = field(default_factory=list)

    @property
    def backend(self):
        return self.mct.service.backend

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until MCT has nothing queued, running or left to call back and the webhook has verified every accepted
        callback: then a missing second event is really missing."""
        wait_idle(lambda: mct_outstanding(self.mct.service), lambda: pending_hints(self.deps.store),
                  timeout=timeout, what="MCT and the webhook")  # fmt: skip

    def stop(self) -> None:
        for server in (self.webhook, self.downstream, *self.servers):
            server.stop()
        self.mct.stop()
        bootstrap.set_deps(None)

    # ----- uploads -------------------------------------------------------------------------------------------
    def upload(self, key: str, data: bytes | None = None, event_id: str | None = None) -> dict[str, Any]:
        """Put a (tiny, fake) object into the bucket and return its BOS upload event."""
        info = self.mct.service.storage.put(BUCKET, key, data or f"media:{key}".encode(), content_type="video/mp4")
        return bos_event(key, info.etag, info.size, event_id or f"ev-{key}")

    def deliver_like_cfc(self, event: dict[str, Any], retries: int = 2) -> bool:
        """The upload function as CFC runs a BOS trigger: the entrypoint, retried on RetryLater (1 + retries
        invocations). False when every invocation asked for a retry (CFC would dead-letter the event)."""
        for _ in range(1 + retries):
            try:
                on_upload_handler(event, None)
                return True
            except RetryLater:
                continue
        return False

    # ----- state -----------------------------------------------------------------------------------------------
    def mct_jobs(self) -> list[dict[str, Any]]:
        """Every job MCT holds (transcoding + thumbnail), read from the service state, not through faults."""
        return self.backend.list_transcoding_jobs() + self.backend.list_thumbnail_jobs()

    def store_jobs(self):
        return [job for job, _ in self.deps.store.list_jobs(limit=100_000)]

    def uploads_done_events(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.receiver.requests if r["status"] == 200]


def bos_event(key: str, etag: str, size: int, event_id: str, bucket: str = BUCKET) -> dict[str, Any]:
    return {
        "events": [
            {
                "eventId": event_id,
                "eventType": "PutObject",
                "eventTime": "2026-11-23T00:00:00Z",
                "content": {"bucket": bucket, "object": key, "eTag": etag, "filesize": size},
            }
        ]
    }


def make_cloud(
    tmp_path,
    *,
    faults: FaultConfig | None = None,
    engine: Any = None,
    start: bool = True,
    notify: str | None = "webhook",
    callback: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None,
    capacity: int = 8,
    max_running: int = 8,
    store_url: str | None = None,
) -> Cloud:
    """``notify``: "webhook" (MCT calls the functions), a URL (MCT calls that instead) or None (no notification).
    ``callback``: the functions' callback auth config (default: the URL token), or a function of the webhook's
    callback URL returning it (SIGN covers the endpoint). ``store_url``: default a fresh SQLite file; a server
    database is emptied first."""
    mct = running_mct(
        tmp_path / "mct",
        buckets=(BUCKET,),
        start=False,
        faults=faults or FaultConfig(),
        engine=engine if engine is not None else FastEngine(),
        max_running=max_running,
    )
    receiver = Receiver()
    downstream = serve_in_thread(receiver)
    webhook = serve_in_thread(webhook_app)
    callback_url = f"{webhook.url}/mct/callback"
    cfg = parse_config(
        {
            "mct": {"endpoint": mct.server.endpoint, "pipeline": PIPELINE, "backoff_seconds": 0.02, "max_attempts": 4},
            "rules": [rule()],
            "callback": (callback(callback_url) if callable(callback) else callback) or {"url_token": URL_TOKEN},
            "store_url": store_url or f"sqlite:///{tmp_path}/store.sqlite3",
            "downstream": {"url": downstream.url + "/events", "secret": DOWNSTREAM_SECRET, "backoff_seconds": 0.02},
            "mediainfo_check": {"enabled": False},
            "submit_concurrency": 4,
        },
        env={},
    )
    store = SqlStore(cfg.store_url)
    if store_url:
        store.drop_all()
        store = SqlStore(cfg.store_url)
    deps = Deps(cfg, store, SdkMct(mct.server.url, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY))
    bootstrap.set_deps(deps)
    # Set up on the backend directly: injected API faults are for the functions, not for this setup.
    backend = mct.service.backend
    config: dict[str, Any] = {"capacity": capacity}
    if notify is not None:
        endpoint = f"{callback_url}?token={URL_TOKEN}" if notify == "webhook" else notify
        backend.create_notification({"name": "cb", "endpoint": endpoint})
        config["notification"] = "cb"
    backend.create_pipeline(
        {"pipelineName": PIPELINE, "sourceBucket": BUCKET, "targetBucket": BUCKET, "config": config}
    )
    if start:
        mct.service.start()
    return Cloud(mct, deps, receiver, downstream, webhook, callback_url)


def hints_drained(store) -> bool:
    """The self-hosted webhook's verifier has gone through every callback it accepted (handlers.services.inbox)."""
    return not store.due_hints(utcnow() + timedelta(days=1), 1)


def snapshot_store(store: SqlStore) -> dict[str, list[tuple]]:
    """Every row of every table of the functions' store (to assert "nothing recorded")."""
    return {table: sorted(map(tuple, store.query(f"SELECT * FROM {table}")), key=repr) for table in TABLES}


def mct_state(service) -> dict[str, list]:
    """MCT's persisted documents (jobs, pipelines, notifications, presets, watermarks)."""
    tables = ("jobs", "pipelines", "notifications", "presets", "watermarks")
    return {name: sorted(map(repr, service.store.query(f"SELECT * FROM {name}"))) for name in tables}


def bucket_files(root) -> list[str]:
    """Every file below ``root`` (relative paths), to assert nothing was written anywhere."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
