"""``BosService``: the BOS backend, its HTTP app (bce-auth-v1 via ``BceMiddleware``) and the optional watcher."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from localcloud.bce_http import BceMiddleware
from localcloud.bos.models import BosBackend
from localcloud.bos.responses import BosResponses
from localcloud.bos.urls import BosRouter
from localcloud.bos.watcher import BucketWatcher
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, REGION
from localcloud.faults import FaultConfig, FaultInjectionMiddleware
from localcloud.storage import LocalStorage

_DEFAULT_CREDENTIALS = {DEFAULT_ACCESS_KEY: DEFAULT_SECRET_KEY}


class PresignedUrlAuth:
    """Pre-signed URLs (``BosClient.generate_pre_signed_url``) carry bce-auth-v1 in ``?authorization=``: move it
    into the header ``BceMiddleware`` verifies (the canonical query string leaves that parameter out anyway)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not any(name == b"authorization" for name, _ in scope["headers"]):
            for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
                if name.lower() == "authorization":
                    scope = dict(scope, headers=[*scope["headers"], (b"authorization", value.encode("latin-1"))])
                    break
        await self.app(scope, receive, send)


class BosService:
    """Local BOS. ``on_event(event)`` receives a PostEvent body for every created object; keep it quick (the
    CFC runtime only queues). ``watch=True`` also reports files dropped into ``<data_dir>/buckets/<bucket>/``.
    ``credentials=None`` turns authentication off (tests of the wire only). ``faults`` injects API errors/latency
    and redelivers upload events (``bos_redeliveries``: the same event, same eventId, delivered again)."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        storage: LocalStorage | None = None,
        credentials: Mapping[str, str] | None = _DEFAULT_CREDENTIALS,
        on_event: Callable[[dict], None] | None = None,
        watch: bool = False,
        watch_interval: float = 0.25,
        settle_seconds: float = 0.5,
        region: str = REGION,
        event_credentials: dict | None = None,
        faults: FaultConfig | None = None,
    ):
        if storage is None:
            if data_dir is None:
                raise ValueError("BosService needs data_dir or storage")
            storage = LocalStorage(data_dir)
        self.storage = storage
        self.faults = faults or FaultConfig()
        self.backend = BosBackend(storage, on_event, region, event_credentials, self.faults)
        self.app = PresignedUrlAuth(
            BceMiddleware(FaultInjectionMiddleware(BosRouter(BosResponses(self.backend)), self.faults), credentials)
        )
        self.watcher = BucketWatcher(self.backend, watch_interval, settle_seconds) if watch else None

    @property
    def on_event(self):
        return self.backend.on_event

    @on_event.setter
    def on_event(self, callback) -> None:
        self.backend.on_event = callback

    def start(self) -> None:
        if self.watcher is not None:
            self.watcher.start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
