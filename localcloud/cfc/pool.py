"""Warm function instances: one child process each (``worker.py``), a small pool per function.

Why processes and not threads with an ``os.environ`` swap: handlers read their environment at import time and keep
module-scope clients (as the design asks), and both functions share the same package (CodeUri ``./``). In one
interpreter they would share those modules and whatever environment was current at import. A process per instance
gives each function its own environment and modules, lets a timeout really stop the code (the instance is killed,
as CFC does), and stays fast because an instance is reused for the next invocation (imports happen once).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from localcloud.cfc.template import FunctionSpec

WORKER_SCRIPT = str(Path(__file__).with_name("worker.py"))
START_TIMEOUT_S = 60.0  # importing a handler with heavy dependencies may take a few seconds on a slow machine

LogSink = Callable[[str, str], None]  # (function name, line)


class FunctionError(Exception):
    """The handler raised (or could not be loaded). ``error`` is CFC's {"errorType","errorMessage","stackTrace"}."""

    def __init__(self, function: str, request_id: str, error: dict):
        super().__init__(f"function {function} failed: {error.get('errorType')}: {error.get('errorMessage')}")
        self.function = function
        self.request_id = request_id
        self.error = error


class FunctionTimeout(FunctionError):
    def __init__(self, function: str, request_id: str, timeout_s: float):
        super().__init__(
            function,
            request_id,
            {"errorType": "Timeout", "errorMessage": f"Task timed out after {timeout_s:g} seconds", "stackTrace": []},
        )


class WorkerProcess:
    def __init__(self, spec: FunctionSpec, env: dict[str, str], log_sink: LogSink):
        self.spec = spec
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-u",
                    WORKER_SCRIPT,
                    "--request-fd",
                    str(req_r),
                    "--response-fd",
                    str(resp_w),
                    "--code-dir",
                    str(spec.code_dir),
                    "--handler",
                    spec.handler,
                ],
                env=env,
                cwd=spec.code_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(req_r, resp_w),
                start_new_session=True,  # Ctrl-C in `autotranscode up` stops the runtime, which stops its workers
            )
        finally:
            os.close(req_r)
            os.close(resp_w)
        self._requests = os.fdopen(req_w, "w", encoding="utf-8")
        self._responses: queue.Queue[dict | None] = queue.Queue()
        threading.Thread(target=self._read_responses, args=(resp_r,), daemon=True).start()
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._forward_log, args=(stream, log_sink), daemon=True).start()
        ready = self._next_response(START_TIMEOUT_S)
        if ready is None or not ready.get("ready"):
            self.kill()
            error = (ready or {}).get("error") or {
                "errorType": "InitError",
                "errorMessage": f"instance exited while loading {spec.handler}",
                "stackTrace": [],
            }
            raise FunctionError(spec.name, "", error)

    def _read_responses(self, fd: int) -> None:
        with os.fdopen(fd, "r", encoding="utf-8") as stream:
            for line in stream:
                try:
                    self._responses.put(json.loads(line))
                except json.JSONDecodeError:
                    continue
        self._responses.put(None)  # the instance exited

    def _forward_log(self, stream, log_sink: LogSink) -> None:
        with stream:
            for raw in stream:
                log_sink(self.spec.name, raw.decode("utf-8", "replace").rstrip("\n"))

    def _next_response(self, timeout: float) -> dict | None:
        try:
            return self._responses.get(timeout=timeout)
        except queue.Empty:
            return None

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def invoke(self, request_id: str, event, context: dict, timeout_s: float):
        deadline = time.time() + timeout_s
        message = {"requestId": request_id, "event": event, "deadline": deadline, "context": context}
        try:
            self._requests.write(json.dumps(message) + "\n")
            self._requests.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise FunctionError(
                self.spec.name, request_id, {"errorType": "InstanceDied", "errorMessage": "instance exited"}
            ) from None
        reply = self._next_response(timeout_s)
        if reply is None:
            timed_out = self.alive
            self.kill()  # a timed-out instance may still be running the handler: never reuse it
            if timed_out:
                raise FunctionTimeout(self.spec.name, request_id, timeout_s)
            raise FunctionError(
                self.spec.name,
                request_id,
                {"errorType": "InstanceDied", "errorMessage": f"instance exited with {self.proc.returncode}"},
            )
        if not reply.get("ok"):
            raise FunctionError(self.spec.name, request_id, reply.get("error") or {})
        return reply.get("result")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        with contextlib.suppress(OSError):
            self._requests.close()

    def close(self) -> None:
        """Ask the instance to exit (end of input), then make sure it did."""
        with contextlib.suppress(OSError):
            self._requests.close()
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self.kill()


class FunctionPool:
    """Up to ``max_instances`` warm instances of one function; extra invocations wait for a free one."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], log_sink: LogSink, max_instances: int):
        self.spec = spec
        self.env = env
        self.log_sink = log_sink
        self.max_instances = max_instances
        self._idle: list[WorkerProcess] = []
        self._busy: set[WorkerProcess] = set()
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False

    def warm(self) -> None:
        """Start one instance now (import errors surface at start-up, not at the first upload)."""
        self._release(self._acquire())

    def _acquire(self) -> WorkerProcess:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError(f"function {self.spec.name} is stopped")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker
                    self._count -= 1
                if self._count < self.max_instances:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            return WorkerProcess(self.spec, self.env, self.log_sink)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, worker: WorkerProcess) -> None:
        with self._cond:
            if worker.alive and not self._closed:
                self._idle.append(worker)
            else:
                self._count -= 1
                if self._closed:
                    worker.close()
            self._cond.notify()

    def invoke(self, request_id: str, event, context: dict, timeout_s: float):
        worker = self._acquire()
        with self._cond:
            self._busy.add(worker)
            closed = self._closed
        if closed:  # stopped while this instance was starting
            worker.kill()
        try:
            return worker.invoke(request_id, event, context, timeout_s)
        finally:
            with self._cond:
                self._busy.discard(worker)
            self._release(worker)

    def close(self) -> None:
        """Stop every instance; invocations still running fail (async ones stay queued for the next start)."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
            self._cond.notify_all()
        for worker in idle:
            worker.close()
        for worker in busy:
            worker.kill()
