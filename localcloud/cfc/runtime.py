"""``CfcRuntime``: runs the functions a BSAM template declares, the way CFC would.

- ``invoke(name, event)``: synchronous (RequestResponse); raises ``FunctionError`` / ``FunctionTimeout``.
- ``dispatch_bos_event(event)``: BOS trigger delivery, asynchronous like CFC's (Event invocation): one invocation
  per (record, matching function) on a worker pool; a failed or timed-out invocation is retried twice with a
  small backoff, then written to ``<data_dir>/cfc/dead-letter/<function>/<id>.json``.
- ``http_app``: ASGI app serving the HTTP triggers (see ``http_trigger``).
- ``put_function(spec)`` / ``remove_function(name)``: functions deployed through the CFC API (``api_models``) join
  or leave at run time; they get exactly their own environment (no template overrides), as in CFC.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from localcloud.cfc.pool import FunctionError, FunctionPool, FunctionTimeout, LogSink
from localcloud.cfc.template import FunctionSpec, load_template
from localcloud.defaults import REGION

log = logging.getLogger(__name__)

FUNCTION_VERSION = "$LATEST"
LOCAL_ACCOUNT_ID = "0" * 32
DEFAULT_RETRY_DELAYS = (0.5, 1.0)  # CFC retries failed async invocations twice
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
    dead_letter_path: Path | None = None


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
        self.dead_letter_dir = self.data_dir / "cfc" / "dead-letter"
        self.region = region
        self.retry_delays = tuple(retry_delays)
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
        self._executor = ThreadPoolExecutor(max_workers=async_workers, thread_name_prefix="cfc-async")
        self._pending: set[Future] = set()
        self._pending_lock = threading.Lock()
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
        """``warm=True`` starts one instance per function now, so an import error fails start-up."""
        if warm and self._pools:
            with ThreadPoolExecutor(max_workers=len(self._pools)) as starter:
                for future in [starter.submit(pool.warm) for pool in self._pools.values()]:
                    future.result()  # the first import error fails start-up

    def stop(self) -> None:
        self._stopped = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        for pool in self._pools.values():
            pool.close()

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
        """Event invocation: returns a Future of ``AsyncOutcome`` (never raises; failures go to dead-letter)."""
        self._spec(function_name)
        invocation_id = str(uuid.uuid4())
        future = self._executor.submit(self._run_async, function_name, event, invocation_id)
        with self._pending_lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future) -> None:
        with self._pending_lock:
            self._pending.discard(future)

    def _run_async(self, name: str, event, invocation_id: str) -> AsyncOutcome:
        first_at = time.time()
        attempts = 0
        error: dict = {}
        for attempt in range(1 + len(self.retry_delays)):
            if attempt:
                time.sleep(self.retry_delays[attempt - 1])
            if self._stopped:
                break
            attempts += 1
            try:
                result = self.invoke(name, event, request_id=f"{invocation_id}-{attempt}" if attempt else invocation_id)
                return AsyncOutcome(name, invocation_id, True, attempts, result=result)
            except FunctionError as exc:
                error = exc.error
                kind = "timed out" if isinstance(exc, FunctionTimeout) else "failed"
                log.warning("%s invocation %s %s (attempt %d): %s", name, invocation_id, kind, attempts, exc)
            except Exception as exc:  # e.g. the runtime is stopping
                error = {"errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": []}
                log.warning("%s invocation %s could not run: %s", name, invocation_id, exc)
        path = self._dead_letter(name, invocation_id, event, error, attempts, first_at)
        return AsyncOutcome(name, invocation_id, False, attempts, error=error, dead_letter_path=path)

    def _dead_letter(self, name: str, invocation_id: str, event, error: dict, attempts: int, first_at: float) -> Path:
        directory = self.dead_letter_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        record = {
            "function": name,
            "invocationId": invocation_id,
            "attempts": attempts,
            "firstAttemptAt": _iso(first_at),
            "failedAt": _iso(time.time()),
            "error": error,
            "event": event,
        }
        path = directory / f"{invocation_id}.json"
        tmp = directory / f".{invocation_id}.tmp"
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, path)
        log.error("%s invocation %s failed %d times; dead letter: %s", name, invocation_id, attempts, path)
        return path

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
        """Async invocations queued or running now."""
        with self._pending_lock:
            return len(self._pending)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no async invocation is queued or running (tests, demo). False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._pending_lock:
                if not self._pending:
                    return True
            time.sleep(0.02)
        return False

    def redrive(self, dead_letter_path: str | os.PathLike[str]) -> Future:
        """Invoke a dead-lettered event again (async, with retries). The file is removed once that invocation has
        an outcome: on success nothing is left; on failure a new dead letter (new id) replaces it."""
        path = Path(dead_letter_path)
        record = json.loads(path.read_text(encoding="utf-8"))
        future = self.invoke_async(record["function"], record["event"])
        future.add_done_callback(lambda _f: path.unlink(missing_ok=True))
        return future

    def dead_letters(self, function_name: str | None = None) -> list[Path]:
        root = self.dead_letter_dir / function_name if function_name else self.dead_letter_dir
        return sorted(root.rglob("*.json")) if root.exists() else []


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
