"""``MctService``: the MCT stand-in assembled — ASGI app, SQLite state, scheduler and notifier threads.

service = MctService(data_dir)          # state in <data_dir>/mct/mct.sqlite3, buckets in <data_dir>/buckets
server = serve_in_thread(service.app)   # or any ASGI server
service.start()                         # re-queue RUNNING jobs, run PENDING ones, deliver callbacks
...
service.stop()
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from localcloud.bce_http import BceMiddleware
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.faults import FaultConfig, FaultInjectionMiddleware
from localcloud.mct.models import THUMBNAIL, MctBackend
from localcloud.mct.notifier import DEFAULT_SERVER_NAME, NOTIFY_THUMBNAIL_JOBS, Notifier
from localcloud.mct.responses import MctResponses
from localcloud.mct.scheduler import Scheduler
from localcloud.mct.store import Store
from localcloud.mct.urls import build_router
from localcloud.storage import LocalStorage

log = logging.getLogger(__name__)

_DEFAULT_CREDENTIALS = {DEFAULT_ACCESS_KEY: DEFAULT_SECRET_KEY}


class MctService:
    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        credentials: dict[str, str] | None = _DEFAULT_CREDENTIALS,
        storage: LocalStorage | None = None,
        max_running: int | None = None,
        server_name: str = DEFAULT_SERVER_NAME,
        faults: FaultConfig | None = None,
        engine=None,
    ):
        """``credentials`` maps AK → SK (``None`` disables authentication); ``storage`` is shared with localcloud
        BOS when given; ``max_running`` caps concurrently running engine calls (default: number of CPUs);
        ``faults`` defaults to ``$AUTOTRANSCODE_FAULTS``; ``engine`` replaces ``localcloud.mct.engine`` (tests)."""
        self.data_dir = Path(data_dir).resolve()
        self.storage = storage or LocalStorage(self.data_dir)
        self.faults = faults if faults is not None else FaultConfig.from_env()
        self.store = Store(self.data_dir / "mct" / "mct.sqlite3")
        self.backend = MctBackend(self.store, self.storage)
        self.max_running = max_running or os.cpu_count() or 1
        self.notifier = Notifier(self.store, server_name=server_name, faults=self.faults)
        self.scheduler = Scheduler(
            self.backend, self.storage, self.max_running, on_finished=self._job_finished, engine=engine
        )
        self.backend.on_job_created = self.scheduler.enqueue
        self.backend.on_capacity_changed = self.scheduler.wake
        app = build_router(MctResponses(self.backend))
        if self.faults.active:
            app = FaultInjectionMiddleware(app, self.faults)
        self.app = BceMiddleware(app, credentials)
        self._started = False

    @property
    def server_name(self) -> str:
        return self.notifier.server_name

    @server_name.setter
    def server_name(self, value: str) -> None:
        """What callbacks say in ``server`` (set it to the ``host:port`` the service is reachable at)."""
        self.notifier.server_name = value

    def _job_finished(self, job_id: str) -> None:
        row = self.backend.job_row(job_id)
        if row.kind == THUMBNAIL and not NOTIFY_THUMBNAIL_JOBS:
            return
        target = self.backend.notify_target(row)
        if target is not None:
            self.notifier.job_finished(target, row.doc)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.scheduler.start()
        self.notifier.start()

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.scheduler.stop()
        self.notifier.stop()

    def close(self) -> None:
        self.stop()
        self.store.close()
