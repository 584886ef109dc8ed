"""Fault injection for localcloud: make the local cloud as unreliable as the real one, on purpose.

One ``FaultConfig`` describes every fault; services read it from ``--faults`` / ``$AUTOTRANSCODE_FAULTS``
(``"api_error_rate=0.3,api_latency_ms=50,callback_drop_rate=1"``). Faults on the API happen *before* the request
reaches the service, so a failed request changed nothing (what the SDK's retry policy assumes).

- API (MCT, BOS): ``api_error_rate`` of requests answered with one of ``api_error_kinds`` (500, 503, throttle = 429,
  timeout = hang ``timeout_s`` then 504), ``api_latency_ms`` added to every request.
- Callbacks (MCT notifier): ``callback_drop_rate``, ``callback_duplicate_rate`` (one extra copy),
  ``callback_delay_ms`` (random delay up to this, so callbacks overtake each other: reordering).
- BOS events: ``bos_redeliveries`` extra deliveries of every upload event; ``bos_event_drop_rate`` of upload events
  never delivered (a missing trigger, a function failing past CFC's retries: only the reconciler's sweep finds them).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import threading
from dataclasses import dataclass, field

from localcloud.bce_http import error_body, request_id_of

ENV_VAR = "AUTOTRANSCODE_FAULTS"
ERROR_KINDS = ("500", "503", "throttle", "timeout")
# [INFERRED] BCE's throttling answer: the common error table has no row for it; 429 + this code is our guess.
THROTTLE_STATUS, THROTTLE_CODE = 429, "RequestRateLimitExceeded"


class FaultConfigError(ValueError):
    pass


# One line per setting: what `--faults help` prints and what CLI help texts can show.
SETTINGS_HELP = """fault settings (--faults "name=value,name=value" or $AUTOTRANSCODE_FAULTS):
  api_error_rate=0..1        share of MCT/BOS API requests answered with an injected error
  api_error_kinds=500|503|throttle|timeout   which errors (throttle = 429, timeout = hang timeout_s then 504)
  timeout_s=SECONDS          how long a 'timeout' fault hangs (default 3)
  api_latency_ms=MS          latency added to every API request
  callback_drop_rate=0..1    share of MCT completion callbacks never sent
  callback_duplicate_rate=0..1  share of callbacks sent twice
  callback_delay_ms=MS       random delay up to MS per callback copy (callbacks overtake each other)
  bos_redeliveries=N         extra deliveries of every BOS upload event
  bos_event_drop_rate=0..1   share of BOS upload events never delivered (only the reconciler's sweep finds them)
  seed=N                     make the random choices repeatable"""


@dataclass
class FaultConfig:
    api_error_rate: float = 0.0
    api_error_kinds: tuple[str, ...] = ERROR_KINDS
    api_latency_ms: float = 0.0
    timeout_s: float = 3.0
    callback_drop_rate: float = 0.0
    callback_duplicate_rate: float = 0.0
    callback_delay_ms: float = 0.0
    bos_redeliveries: int = 0
    bos_event_drop_rate: float = 0.0
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # What was injected so far ("500", "timeout", "callback_dropped", ...): figures for tests and reports.
    injected: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        for name in ("api_error_rate", "callback_drop_rate", "callback_duplicate_rate", "bos_event_drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise FaultConfigError(f"fault {name}={value!r} must be between 0 and 1")
        for name in ("api_latency_ms", "timeout_s", "callback_delay_ms", "bos_redeliveries"):
            if getattr(self, name) < 0:
                raise FaultConfigError(f"fault {name}={getattr(self, name)!r} must not be negative")
        unknown = set(self.api_error_kinds) - set(ERROR_KINDS)
        if unknown or not self.api_error_kinds:
            raise FaultConfigError(
                f"fault api_error_kinds={'|'.join(self.api_error_kinds)!r}: use some of {'|'.join(ERROR_KINDS)}"
            )
        if self.seed is not None:
            self._rng.seed(self.seed)

    @property
    def active(self) -> bool:
        return any(
            (self.api_error_rate, self.api_latency_ms, self.callback_drop_rate, self.callback_duplicate_rate,
             self.callback_delay_ms, self.bos_redeliveries, self.bos_event_drop_rate)
        )  # fmt: skip

    @classmethod
    def parse(cls, spec: str | None) -> FaultConfig:
        """``"name=value,name=value"``; kinds separated by ``|``. Empty → no faults."""
        if (spec or "").strip().lower() in ("help", "list", "?"):
            raise FaultConfigError(SETTINGS_HELP)
        values: dict[str, object] = {}
        types = {f.name: f.type for f in dataclasses.fields(cls) if not f.name.startswith("_")}
        for item in filter(None, (part.strip() for part in (spec or "").split(","))):
            name, sep, raw = item.partition("=")
            name = name.strip()
            if not sep or name not in types:
                raise FaultConfigError(f"fault setting {item!r} is not NAME=VALUE with NAME one of {', '.join(types)}")
            raw = raw.strip()
            try:
                if name == "api_error_kinds":
                    values[name] = tuple(k for k in raw.split("|") if k)
                elif name in ("bos_redeliveries", "seed"):
                    values[name] = int(raw)
                else:
                    values[name] = float(raw)
            except ValueError:
                raise FaultConfigError(f"fault {name}={raw!r} is not a number") from None
        return cls(**values)

    @classmethod
    def from_env(cls) -> FaultConfig:
        return cls.parse(os.environ.get(ENV_VAR))

    def _random(self) -> float:
        with self._lock:
            return self._rng.random()

    def _choice(self, items):
        with self._lock:
            return self._rng.choice(items)

    def _count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.injected[what] = self.injected.get(what, 0) + n

    # ----- decisions (one place each) -----------------------------------------------------------------------
    def api_fault(self) -> str | None:
        """The error kind to answer this API request with, or None to let it through."""
        if self.api_error_rate and self._random() < self.api_error_rate:
            kind = self._choice(self.api_error_kinds)
            self._count(kind)
            return kind
        return None

    def callback_delivery_delays(self) -> list[float]:
        """Delays (seconds) of each copy of one callback to send: [] = dropped, two entries = duplicated."""
        if self.callback_drop_rate and self._random() < self.callback_drop_rate:
            self._count("callback_dropped")
            return []
        copies = 2 if self.callback_duplicate_rate and self._random() < self.callback_duplicate_rate else 1
        if copies == 2:
            self._count("callback_duplicated")
        return [self._random() * self.callback_delay_ms / 1000.0 for _ in range(copies)]

    def bos_event_deliveries(self) -> int:
        """How many times to deliver one upload event: 0 = dropped, 1 + bos_redeliveries otherwise."""
        if self.bos_event_drop_rate and self._random() < self.bos_event_drop_rate:
            self._count("bos_event_dropped")
            return 0
        if self.bos_redeliveries:
            self._count("bos_redelivered", self.bos_redeliveries)
        return 1 + self.bos_redeliveries


class FaultInjectionMiddleware:
    """ASGI middleware adding latency and errors before requests reach a BCE service.

    Place it *inside* ``BceMiddleware`` so fault answers still carry the request id and the BCE error body.
    """

    def __init__(self, app, faults: FaultConfig):
        self.app = app
        self.faults = faults

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.faults.active:
            await self.app(scope, receive, send)
            return
        if self.faults.api_latency_ms:
            await asyncio.sleep(self.faults.api_latency_ms / 1000.0)
        kind = self.faults.api_fault()
        if kind is None:
            await self.app(scope, receive, send)
            return
        if kind == "timeout":
            await asyncio.sleep(self.faults.timeout_s)
            status, code, message = 504, "GatewayTimeout", "injected fault: the request timed out"
        elif kind == "throttle":
            status, code, message = THROTTLE_STATUS, THROTTLE_CODE, "injected fault: request rate limit exceeded"
        elif kind == "503":
            status, code, message = 503, "ServiceUnavailable", "injected fault: service unavailable"
        else:
            status, code, message = 500, "InternalError", "injected fault: internal error"
        body = error_body(request_id_of(scope), code, message)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json;charset=UTF-8"),
                    (b"content-length", b"%d" % len(body)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
