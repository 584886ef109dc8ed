"""The whole local stack for P7 and P8, as a user runs it, plus what the benchmarks observe from the outside.

``FullStack`` starts ``LocalStack`` (BOS + MCT + CFC running template.yaml's functions in worker processes) with the
example config pointed at a ``DoneReceiver`` (the user's app), provisions MCT like ``autotranscode demo`` does, and
uploads with the real ``BosClient``. ``Timeline`` records, in this process and without changing what runs, when each
function invocation started and when MCT answered mediainfo/create/get and marked jobs running and done; the engine
itself records the wall time of each job's ffmpeg processes (the job's internal ``ffmpegRuns``).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections import defaultdict
from pathlib import Path

from bench.common import progress

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"


class DoneReceiver:
    """ASGI app standing in for the user's app: records every "upload done" event (arrival time, upload key)."""

    def __init__(self, secret: str):
        self.secret = secret
        self.arrivals: list[tuple[float, str, dict]] = []  # (time.time(), upload key, event)
        self.invalid = 0
        self._cond = threading.Condition()

    async def __call__(self, scope, receive, send):
        from handlers.wire.downstream import verify_downstream_signature

        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        arrived = time.time()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        valid = verify_downstream_signature(self.secret, headers, body)
        with self._cond:
            if valid:
                event = json.loads(body)
                self.arrivals.append((arrived, event["upload"]["key"], event))
            else:
                self.invalid += 1
            self._cond.notify_all()
        await send({"type": "http.response.start", "status": 200 if valid else 401,
                    "headers": [(b"content-length", b"0")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b""})

    def wait_for(self, key: str, timeout: float) -> tuple[float, dict]:
        with self._cond:
            if not self._cond.wait_for(lambda: any(k == key for _, k, _ in self.arrivals), timeout):
                raise SystemExit(f"no 'upload done' event for {key} within {timeout:.0f} s")
            return next((t, e) for t, k, e in self.arrivals if k == key)

    def wait_for_count(self, keys: set[str], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: keys <= {k for _, k, _ in self.arrivals}, timeout)


class Timeline:
    """When things happened (``time.time()``), recorded by wrapping the stack's objects in this process."""

    BACKEND_CALLS = ("media_info", "create_transcoding_job", "create_thumbnail_job", "mark_running", "mark_success",
                     "get_transcoding_job", "get_thumbnail_job")  # fmt: skip

    def __init__(self, stack):
        self.invocations: list[tuple[str, dict, float, float]] = []  # (function, event, start, end)
        self.calls: dict[str, list[tuple[object, object, float, float]]] = defaultdict(list)  # (arg, result, s, e)
        runtime_invoke = stack.runtime.invoke

        def invoke(name, event, request_id=None):
            started = time.time()
            try:
                return runtime_invoke(name, event, request_id)
            finally:
                self.invocations.append((name, event, started, time.time()))

        stack.runtime.invoke = invoke
        backend = stack.mct.backend
        for method in self.BACKEND_CALLS:
            setattr(backend, method, self._wrap(method, getattr(backend, method)))

    def _wrap(self, name, call):
        def wrapped(*args, **kwargs):
            started = time.time()
            result = call(*args, **kwargs)
            arg = args[-1] if name == "media_info" else (args[0] if args else None)
            self.calls[name].append((arg, result, started, time.time()))
            return result

        return wrapped

    def clear(self) -> None:
        self.invocations.clear()
        self.calls.clear()


class FullStack:
    """``with FullStack(tmp, targets, thumbnails) as fs: fs.put(key, path)``; the rule watches ``incoming/``."""

    def __init__(self, data_dir: Path, targets: list[dict], thumbnails: list[dict], record_argv: bool = False):
        self.data_dir = data_dir
        self.targets, self.thumbnails = targets, thumbnails
        self.record_argv = record_argv
        self.argvs: list[list[str]] = []

    def __enter__(self) -> FullStack:
        from autotranscode.commands.provision import provision_localcloud
        from autotranscode.demo import demo_config
        from localcloud.cfc.template import load_template
        from localcloud.serve import free_port, serve_in_thread
        from localcloud.stack import LocalStack

        secret = secrets.token_hex(16)
        self.receiver = DoneReceiver(secret)
        self.downstream = serve_in_thread(self.receiver)
        ports = {"bos_port": free_port(), "mct_port": free_port(), "cfc_port": free_port()}
        config = demo_config(f"http://127.0.0.1:{ports['mct_port']}", f"{self.downstream.url}/upload-done", secret)
        config["rules"][0]["targets"] = self.targets
        config["rules"][0]["thumbnails"] = self.thumbnails
        self.config = config
        overrides = {name: {"AUTOTRANSCODE_CONFIG_JSON": json.dumps(config)} for name in load_template(TEMPLATE)}
        self._log = open(self.data_dir / "functions.log", "a", encoding="utf-8")
        self.stack = LocalStack(self.data_dir, TEMPLATE, env_overrides=overrides, watch=False,
                                log_sink=lambda fn, line: self._log.write(f"[{fn}] {line}\n"), **ports)  # fmt: skip
        self.stack.start()
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # this process (provisioning) only
        provision_localcloud(self.stack, say=lambda *_: None)
        if self.record_argv:
            self.stack.mct.scheduler.engine = ArgvRecordingEngine(self.argvs)
        self.timeline = Timeline(self.stack)
        self._clients = threading.local()
        return self

    def __exit__(self, *exc) -> None:
        self.stack.stop()
        self.downstream.stop()
        self._log.close()

    @property
    def bucket(self) -> str:
        return self.config["rules"][0]["bucket"]

    def put(self, key: str, path: Path) -> float:
        """Upload with BosClient (one per thread, as an app would); returns when the PUT was answered."""
        client = getattr(self._clients, "bos", None)
        if client is None:
            client = self._clients.bos = self.stack.bos_client()
        # With the content type given: the SDK would otherwise re-read the system's MIME tables on every PUT, CPU
        # that a user's device spends, not the stack (this process hosts both).
        client.put_object_from_file(self.bucket, key, str(path), content_type="video/mp4")
        return time.time()

    def wait_quiet(self, timeout: float = 60) -> None:
        """Until no function invocation, MCT job or callback is pending (then late duplicates would have shown)."""
        deadline = time.monotonic() + timeout
        mct = self.stack.mct
        while time.monotonic() < deadline:
            if (mct.scheduler.queued() == 0 and mct.scheduler.running_processes() == 0 and mct.notifier.pending() == 0
                    and self.stack.wait_idle(0.05)):  # fmt: skip
                return
            time.sleep(0.05)
        progress("warning: the stack did not become idle")

    def ffmpeg_runs(self, job_ids: list[str]) -> list[tuple[float, float]]:
        runs = []
        for job_id in job_ids:
            runs += [tuple(r) for r in self.stack.mct.backend.job_row(job_id).internal.get("ffmpegRuns", [])]
        return runs


class ArgvRecordingEngine:
    """The real engine, recording the argv of every ffmpeg process it starts (P8 replays them directly)."""

    def __init__(self, argvs: list[list[str]]):
        import localcloud.mct.engine as engine

        self._engine = engine
        self._argvs = argvs

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def _record(self, on_process):
        def record(proc):
            self._argvs.append(list(proc.args))
            if on_process:
                on_process(proc)

        return record

    def transcode_many(self, reqs, storage, on_process=None):
        return self._engine.transcode_many(reqs, storage, on_process=self._record(on_process))

    def thumbnail(self, req, storage, on_process=None):
        return self._engine.thumbnail(req, storage, on_process=self._record(on_process))


def union_length(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Length of the union of ``intervals`` clipped to [lo, hi]."""
    total, end = 0.0, lo
    for s, e in sorted(intervals):
        s, e = max(s, end), min(e, hi)
        if e > s:
            total += e - s
            end = e
    return total


def tree_rss_bytes() -> tuple[int, int]:
    """(RSS of this process and its Python descendants, RSS of its other descendants: ffmpeg), from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("latin-1")
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children[ppid].append(int(entry))
        names[int(entry)] = name
    python, other, todo = 0, 0, [os.getpid()]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm") as fh:
                rss = int(fh.read().split()[1]) * page
        except OSError:
            continue
        if "python" in names.get(pid, ""):
            python += rss
        else:
            other += rss
    return python, other


def tree_cpu_seconds() -> dict[str, float]:
    """CPU seconds so far: ``python`` = this process and its live Python children (function instances),
    ``ffmpeg`` = every child process already reaped (ffmpeg runs and probes)."""
    tick = os.sysconf("SC_CLK_TCK")
    python = 0.0
    pids = [os.getpid()] + [pid for pid, name in _children(os.getpid()) if "python" in name]
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().decode("latin-1").rsplit(")", 1)[1].split()
        except OSError:
            continue
        python += (int(fields[11]) + int(fields[12])) / tick
    me = os.times()
    return {"python": python, "ffmpeg": me.children_user + me.children_system}


def _children(parent: int) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("latin-1")
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == parent:
            found.append((int(entry), stat[stat.index("(") + 1 : stat.rindex(")")]))
    return found


class RssSampler:
    """Peak RSS of the process tree, sampled every ``interval`` s in a thread."""

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.peak_python = self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            python, other = tree_rss_bytes()
            self.peak_python = max(self.peak_python, python)
            self.peak_total = max(self.peak_total, python + other)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
