"""What every use-case receives: configuration and the ports (store, MCT, HTTP post, BOS), plus clock and sleep so tests
can drive time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers import config as config_mod
from handlers.adapters.http_post import requests_post
from handlers.domain.clock import utcnow
from handlers.services.ports import BosPort, MctPort, Store


@dataclass
class Deps:
    config: config_mod.Config
    store: Store
    mct: MctPort
    # (url, body bytes, headers, timeout) -> HTTP status; raises OSError/requests errors on network failure.
    post: Callable[[str, bytes, dict[str, str], float], int] = requests_post
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = utcnow
    extra: dict[str, Any] = field(default_factory=dict)
    # BOS: HLS master playlists, the sweep's listing, the version check; None: none of them runs.
    bos: BosPort | None = None
