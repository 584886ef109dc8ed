"""``CfcRuntime``: runs the functions a BSAM template declares, the way CFC would.

- ``invoke(name, event)``: synchronous (RequestResponse); raises ``FunctionError`` / ``FunctionTimeout``.
- ``dispatch_bos_event(event)``: BOS trigger delivery, asynchronous like CFC's (Event invocation): one invocation
  per (record, matching function), recorded durably before this returns (``async_queue``), run by worker
  threads; a failed or timed-out invocation is retried per ``RetryPolicy``, then kept as a dead letter
  (``dead_letters()``, ``replay()``; ``autotranscode events``). Invocations left by a killed process run again at
  the next start.
- ``http_app``: ASGI app serving the HTTP triggers (see ``http_trigger``).
- ``put_function(spec)`` / ``remove_function(name)``: functions deployed through the CFC API (``api_models``) join
  or leave at run time; they get exactly their own environment (no template overrides), as in CFC.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from localcloud.cfc.async_queue import AsyncQueue, DeadLetter, Invocation, RetryPolicy, queue_path
from localcloud.cfc.pool import FunctionError, FunctionPool, FunctionTimeout, LogSink
from localcloud.cfc.template import FunctionSpec, load_template
from localcloud.defaults import REGION

log = logging.getLogger(__name__)

FUNCTION_VERSION = "$LATEST"
LOCAL_ACCOUNT_ID = "0" * 32
DEFAULT_RETRY_DELAYS = RetryPolicy().retry_delays
# What a function instance inherits from the machine (everything else comes from the template and overrides).
BASE_ENV_VARS = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT", "VIRTUAL_ENV")


def function_brn(name: str, region: str = REGION, account: str = LOCAL_ACCOUNT_ID) -> str:
    return f"brn:bce:cfc:{region}:{account}:function:{name}:{FUNCTION_VERSION}"


def print_log(function: str, line: str) -> None:
    print(f"[{function}] {line}", file=sys.stderr, flush=True)


@dataclass
class AsyncOutcome:
    function: str
    invocation_id: str
    ok: bool
    attempts: int
    result: object = None
    error: dict | None = None
    dead_letter_id: str | None = None  # set when the invocation exhausted its retries


class CfcRuntime:
    def __init__(
        self,
        template_path: str | os.PathLike[str] | None,
        env_overrides: Mapping[str, object] | None = None,
        data_dir: str | os.PathLike[str] = ".localcloud",
        *,
        max_instances: int = 4,
        async_workers: int = 8,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
        log_sink: LogSink | None = None,
        credentials: Mapping[str, str] | None = None,
        region: str = REGION,
    ):
        """``env_overrides``: ``{"NAME": "value"}`` for every function and/or ``{"FunctionName": {"NAME": ...}}``
        for one (the ``sam local --env-vars`` shape). ``credentials`` (AK → SK) is checked on HTTP triggers with
        ``AuthType: iam`` and on the invoke API; without it those are open."""
        self.template_path = Path(template_path).resolve() if template_path is not None else None
        # Replaced, never mutated, when functions are deployed (readers on other threads keep a consistent view).
        self.functions: dict[str, FunctionSpec] = load_template(self.template_path) if self.template_path else {}
        self._deployed: set[str] = set()
        self.max_instances = max_instances
        self.data_dir = Path(data_dir).resolve()
        self.region = region
        self.retry_policy = RetryPolicy(retry_delays=tuple(retry_delays))
        self.retry_delays = self.retry_policy.retry_delays
        self.log_sink = log_sink or print_log
        self.credentials = credentials
        self._overrides = dict(env_overrides or {})
        unknown = [k for k, v in self._overrides.items() if isinstance(v, Mapping) and k not in self.functions]
        if unknown:
            raise ValueError(f"env_overrides name functions the template does not declare: {', '.join(unknown)}")
        self._pools = {
            name: FunctionPool(spec, self.function_env(name), self.log_sink, max_instances)
            for name, spec in self.functions.items()
        }
        self.queue = AsyncQueue(queue_path(self.data_dir))
        self.recovered = 0  # invocations a previous run left queued or running (set by start)
        self._async_workers = async_workers
        self._workers: list[threading.Thread] = []
        self._wake = threading.Condition()
        self._futures: dict[str, Future] = {}  # invocation id -> Future of AsyncOutcome (this process's calls)
        self._futures_lock = threading.Lock()
        self._stopped = False
        from localcloud.cfc.http_trigger import HttpTriggerApp

        self.http_app = HttpTriggerApp(self)

    # ----- environment ----------------------------------------------------------------------------------------
    def function_env(self, name: str) -> dict[str, str]:
        """The whole environment of ``name``'s instances: a few machine variables, the CFC runtime variables,
        the template's Environment.Variables (Globals merged), then the overrides."""
        spec = self.functions[name]
        env = {k: os.environ[k] for k in BASE_ENV_VARS if k in os.environ}
        env.update(
            {
                "BCE_USER_FUNCTION_NAME": spec.name,
                "BCE_USER_FUNCTION_BRN": function_brn(spec.name, self.region),
                "BCE_USER_FUNCTION_VERSION": FUNCTION_VERSION,
                "BCE_USER_FUNCTION_MEMSIZE": str(spec.memory_mb),
                "BCE_USER_FUNCTION_HANDLER": spec.handler,
                "BCE_USER_CODE_ROOT": str(spec.code_dir),
                "BCE_CFC_RUNTIME_NAME": spec.runtime,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(spec.environment)
        if name in self._deployed:
            return env
        for key, value in self._overrides.items():
            if not isinstance(value, Mapping):
                env[key] = str(value)
        env.update({k: str(v) for k, v in (self._overrides.get(name) or {}).items()})
        return env

    # ----- functions deployed through the CFC API -------------------------------------------------------------
    def put_function(self, spec: FunctionSpec) -> None:
        """Add or replace a function (new code, configuration or triggers): new instances from now on; the old
        instances are stopped (an invocation still running on one fails, and an async one is retried)."""
        self._deployed.add(spec.name)
        self.functions = {**self.functions, spec.name: spec}
        old = self._pools.get(spec.name)
        self._pools = {**self._pools, spec.name: FunctionPool(spec, self.function_env(spec.name), self.log_sink,
                                                              self.max_instances)}  # fmt: skip
        self.http_app.refresh()
        if old is not None:
            old.close()

    def remove_function(self, name: str) -> None:
        self.functions = {k: v for k, v in self.functions.items() if k != name}
        old = self._pools.get(name)
        self._pools = {k: v for k, v in self._pools.items() if k != name}
        self._deployed.discard(name)
        self.http_app.refresh()
        if old is not None:
            old.close()

    # ----- lifecycle ------------------------------------------------------------------------------------------
    def start(self, warm: bool = False) -> None:
        """``warm=True`` starts one instance per function now, so an import error fails start-up. Then the async
        workers start, first on what a previous run left queued."""
        if warm and self._pools:
            with ThreadPoolExecutor(max_workers=len(self._pools)) as starter:
                for future in [starter.submit(pool.warm) for pool in self._pools.values()]:
                    future.result()  # the first import error fails start-up
        self._start_workers()

    def _start_workers(self) -> None:
        with self._futures_lock:  # BOS request threads may get here together
            if self._workers or self._stopped:
                return
            self._start_workers_locked()

    def _start_workers_locked(self) -> None:
        self.queue.import_legacy_dead_letters(self.data_dir)
        self.recovered = self.queue.recover()
        if self.recovered:
            log.info("%d asynchronous invocation(s) left by the last run are queued again", self.recovered)
        for i in range(self._async_workers):
            worker = threading.Thread(target=self._work, name=f"cfc-async-{i}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        """Stop invoking: what is queued or running stays in the queue for the next start."""
        self._stopped = True
        with self._wake:
            self._wake.notify_all()
        for pool in self._pools.values():
            pool.close()
        for worker in self._workers:
            worker.join(10)
        with self._futures_lock:
            futures, self._futures = self._futures, {}
        for invocation_id, future in futures.items():  # not run, or cut short: queued for the next start
            if not future.done():
                future.set_result(AsyncOutcome("", invocation_id, False, 0, error=_stopped_error()))
        if not any(worker.is_alive() for worker in self._workers):
            self.queue.close()
        self._workers = []

    # ----- invocation -----------------------------------------------------------------------------------------
    def _spec(self, name: str) -> FunctionSpec:
        try:
            return self.functions[name]
        except KeyError:
            raise KeyError(f"no function named {name!r}; the template declares {', '.join(self.functions)}") from None

    def invoke(self, function_name: str, event, request_id: str | None = None):
        """Run the function synchronously and return its result (JSON round-tripped, as over the wire)."""
        spec = self._spec(function_name)
        request_id = request_id or str(uuid.uuid4())
        context = {
            "function_name": spec.name,
            "function_version": FUNCTION_VERSION,
            "function_brn": function_brn(spec.name, self.region),
            "memory_limit_in_mb": spec.memory_mb,
        }
        started = time.monotonic()
        try:
            return self._pools[spec.name].invoke(request_id, event, context, spec.timeout_s)
        finally:
            log.debug("%s %s took %.0f ms", spec.name, request_id, (time.monotonic() - started) * 1000)

    def invoke_async(self, function_name: str, event) -> Future:
        """Event invocation: recorded durably before this returns, run by a worker. Returns a Future of
        ``AsyncOutcome`` (never raises; an invocation that exhausts its retries becomes a dead letter)."""
        self._spec(function_name)
        self._start_workers()  # a runtime used without start() still runs its async invocations
        invocation_id = str(uuid.uuid4())
        future: Future = Future()
        with self._futures_lock:
            self._futures[invocation_id] = future
        try:
            self.queue.enqueue(function_name, event, invocation_id)
        except BaseException:
            with self._futures_lock:
                self._futures.pop(invocation_id, None)
            raise
        with self._wake:
            self._wake.notify()
        return future

    def _work(self) -> None:
        while not self._stopped:
            try:
                inv = self.queue.claim()
            except Exception:  # e.g. the file is locked by a long `autotranscode events` transaction
                log.exception("async queue: cannot take the next invocation")
                inv = None
            if inv is None:
                due = self.queue.next_due_in() if not self._stopped else None
                with self._wake:
                    # Bounded wait: another process (`autotranscode events replay`) may queue work too.
                    self._wake.wait(1.0 if due is None else min(due, 1.0))
                continue
            self._attempt(inv)

    def _attempt(self, inv: Invocation) -> None:
        attempt = inv.attempts
        request_id = f"{inv.id}-{attempt}" if attempt else inv.id
        try:
            result = self.invoke(inv.function, inv.event, request_id=request_id)
        except Exception as exc:
            if self._stopped:  # cut short by stop(): not the function's failure
                self.queue.release(inv.id)
                return
            if isinstance(exc, FunctionError):
                error = exc.error
                kind = "timed out" if isinstance(exc, FunctionTimeout) else "failed"
                log.warning("%s invocation %s %s (attempt %d): %s", inv.function, inv.id, kind, attempt + 1, exc)
            else:
                error = {"errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": []}
                log.warning("%s invocation %s could not run: %s", inv.function, inv.id, exc)
            if self.queue.failed(inv, error, self.retry_policy):
                log.error(
                    "%s invocation %s failed %d times; dead letter %s (`autotranscode events replay %s`)",
                    inv.function, inv.id, attempt + 1, inv.id, inv.id,
                )  # fmt: skip
                outcome = AsyncOutcome(inv.function, inv.id, False, attempt + 1, error=error, dead_letter_id=inv.id)
                self._resolve(outcome)
            return
        self.queue.succeeded(inv.id)
        self._resolve(AsyncOutcome(inv.function, inv.id, True, attempt + 1, result=result))

    def _resolve(self, outcome: AsyncOutcome) -> None:
        with self._futures_lock:
            future = self._futures.pop(outcome.invocation_id, None)
        if future is not None:
            future.set_result(outcome)

    # ----- BOS triggers ---------------------------------------------------------------------------------------
    def matching_functions(self, record: dict) -> list[str]:
        """Functions with a BOS trigger matching one PostEvent record (bucket, Prefix, Suffix, EventTypes)."""
        content = record.get("content") or {}
        bucket, key, kind = content.get("bucket", ""), content.get("object", ""), record.get("eventType", "")
        return [
            name
            for name, spec in self.functions.items()
            if any(t.matches(bucket, key, kind) for t in spec.bos_triggers)
        ]

    def dispatch_bos_event(self, event: dict) -> list[Future]:
        """Deliver a BOS ``{"events": [...]}`` body: each record, to each function whose trigger matches it."""
        futures = []
        for record in event.get("events") or []:
            for name in self.matching_functions(record):
                futures.append(self.invoke_async(name, {"events": [record]}))
        return futures

    def outstanding(self) -> int:
        """Async invocations queued, running or waiting for a retry now."""
        return self.queue.pending()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no async invocation is queued, running or waiting for a retry (tests, demo). False on
        timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.queue.pending():
                return True
            time.sleep(0.02)
        return False

    def dead_letters(self, function_name: str | None = None) -> list[DeadLetter]:
        """Invocations that exhausted their retries, oldest failure first."""
        return self.queue.dead_letters(function_name)

    def redrive(self, dead_letter_id: str) -> Future:
        """Queue a dead letter again (fresh retries); a Future of its new ``AsyncOutcome``. On failure it becomes
        a dead letter again under the same id."""
        future: Future = Future()
        with self._futures_lock:
            self._futures[dead_letter_id] = future
        try:
            self.queue.replay([dead_letter_id])
        except KeyError:
            with self._futures_lock:
                self._futures.pop(dead_letter_id, None)
            raise
        with self._wake:
            self._wake.notify()
        return future


def _stopped_error() -> dict:
    return {
        "errorType": "RuntimeStopped",
        "errorMessage": "the runtime stopped; the invocation stays queued and runs at the next start",
        "stackTrace": [],
    }
