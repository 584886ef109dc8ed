"""Runs PENDING jobs through the engine: per-pipeline FIFO honouring ``config.capacity`` plus a global cap on running
engine calls (ffmpeg processes).

Fairness: among pipelines with a free slot, the one whose oldest waiting job is oldest goes first (global FIFO,
limited by each pipeline's capacity). Group-ready: queued transcoding jobs of one pipeline that read the same source
clips are handed to ``engine.transcode_many`` in one call (the engine may decode the source once for all of them);
such a batch holds one global slot and one pipeline slot per job.

Gather window: clients create the renditions of one upload as separate jobs a few milliseconds apart, so a
transcoding job that could share its source waits until no sibling has arrived for ``GATHER_QUIET_SECONDS``
(at most ``GATHER_MAX_SECONDS``) before it starts; otherwise the first rendition would start alone and the
others would decode the source again. Jobs found at start-up and full batches start at once.

Encoder slots: an engine call gives its global slot back as soon as its ffmpeg process exits, so probing the
output, committing it and recording the result overlap the next call's ffmpeg instead of leaving a core idle (on
small jobs that tail is ~20 % of the job). A call that starts another process (a fallback run) takes a slot again;
pipeline capacity stays taken until the jobs are recorded.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from localcloud.mct import exceptions as exc
from localcloud.mct.engine.process import remove_dead_runs
from localcloud.mct.models import THUMBNAIL, TRANSCODING, MctBackend, QueuedJob, load_engine, preset_for_job
from localcloud.storage import LocalStorage

log = logging.getLogger(__name__)

MAX_BATCH = 8  # transcoding jobs handed to one transcode_many call
# Small next to any transcode (seconds), large next to the gaps between one client's create_job calls.
GATHER_QUIET_SECONDS = 0.05
GATHER_MAX_SECONDS = 0.5


class Scheduler:
    def __init__(
        self,
        backend: MctBackend,
        storage: LocalStorage,
        max_running: int,
        on_finished: Callable[[str], None] | None = None,
        engine=None,
    ):
        self.backend = backend
        self.storage = storage
        self.max_running = max(1, max_running)
        self.on_finished = on_finished  # called with the job id after SUCCESS/FAILED was stored
        self.engine = engine  # None: import localcloud.mct.engine on first use (tests pass an in-memory twin)
        self._cond = threading.Condition()
        self._queues: dict[str, deque[QueuedJob]] = {}
        self._running_by_pipeline: dict[str, int] = {}
        self._running = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._processes: set = set()
        self._arrived: dict[str, float] = {}  # job id -> monotonic enqueue time (for the gather window)

    # ----- queue -----------------------------------------------------------------------------------------------------
    def enqueue(self, job: QueuedJob) -> None:
        with self._cond:
            self._queues.setdefault(job.pipeline, deque()).append(job)
            self._arrived[job.id] = time.monotonic()
            self._cond.notify()

    def wake(self) -> None:
        """Re-check the queues (e.g. a pipeline's capacity grew)."""
        with self._cond:
            self._cond.notify_all()

    def running_processes(self) -> int:
        """Engine processes (ffmpeg) started and not yet known to have ended."""
        with self._cond:
            return sum(1 for p in self._processes if p.poll() is None)

    def queued(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    def start(self) -> None:
        """Remove what dead engine runs left, re-queue jobs a previous process left RUNNING, load every PENDING job,
        start dispatching."""
        remove_dead_runs(self.storage)
        requeued = self.backend.requeue_running()
        if requeued:
            log.info("re-queued %d job(s) found RUNNING at start-up", len(requeued))
        with self._cond:
            self._stopping = False
            known = {j.id for q in self._queues.values() for j in q}
            for job in self.backend.queued_jobs():
                if job.id not in known:
                    self._queues.setdefault(job.pipeline, deque()).append(job)
            for q in self._queues.values():  # jobs created before start() and loaded ones: keep creation order
                ordered = sorted(q, key=lambda j: j.seq)
                q.clear()
                q.extend(ordered)
        # Twice the slots: calls that gave their slot back may still be finishing while the next ones encode.
        self._pool = ThreadPoolExecutor(2 * self.max_running, thread_name_prefix="mct-job")
        self._thread = threading.Thread(target=self._dispatch_loop, name="mct-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop dispatching and kill running engine processes; their jobs stay RUNNING and are re-queued on the
        next start (nothing partial is ever committed at a target key)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            processes = list(self._processes)
        for proc in processes:
            with contextlib.suppress(OSError):
                proc.kill()
        if self._thread:
            self._thread.join(timeout)
        if self._pool:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._thread = self._pool = None

    # ----- dispatch --------------------------------------------------------------------------------------------------
    def _next_batch(self) -> tuple[list[QueuedJob] | None, float | None]:
        """(the batch to start, None) or (None, seconds until a gathering batch is ready / None: wait for news)."""
        if self._running >= self.max_running:
            return None, None
        now = time.monotonic()
        ready_at = None
        waiting = [
            (queue[0].seq, name)
            for name, queue in self._queues.items()
            if queue and self._running_by_pipeline.get(name, 0) < self.backend.pipeline_capacity(name)
        ]
        for _, name in sorted(waiting):  # oldest head first
            queue = self._queues[name]
            head = queue[0]
            room = min(MAX_BATCH, self.backend.pipeline_capacity(name) - self._running_by_pipeline.get(name, 0))
            shareable = _shares_source(head, head)
            siblings = [j for j in queue if _shares_source(j, head)] if shareable else [head]
            if shareable and room > 1 and len(siblings) < room:
                arrivals = [self._arrived.get(j.id, 0.0) for j in siblings]
                gathered_at = min(max(arrivals) + GATHER_QUIET_SECONDS, arrivals[0] + GATHER_MAX_SECONDS)
                if now < gathered_at:  # more renditions of this source may be on their way
                    ready_at = gathered_at if ready_at is None else min(ready_at, gathered_at)
                    continue
            batch = siblings[:room]
            for job in batch:
                queue.remove(job)
                self._arrived.pop(job.id, None)
            return batch, None
        return None, (None if ready_at is None else max(0.0, ready_at - now))

    def _dispatch_loop(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                batch, wait = self._next_batch()
                if batch is None:
                    self._cond.wait(wait)
                    continue
                pipeline = batch[0].pipeline
                slot = _Slot()
                self._running += 1
                self._running_by_pipeline[pipeline] = self._running_by_pipeline.get(pipeline, 0) + len(batch)
            try:
                for job in batch:
                    self.backend.mark_running(job.id)
                self._pool.submit(self._run, batch, slot)
            except Exception:
                if not self._stopping:  # at shutdown the pool refuses work: the jobs stay RUNNING → re-queued
                    log.exception("could not start jobs %s", [j.id for j in batch])
                self._release(batch, slot)

    def _give_back(self, slot: _Slot) -> None:
        """With ``_cond`` held: free the call's global slot unless it was freed already."""
        if slot.held:
            slot.held = False
            self._running -= 1
            self._cond.notify_all()

    def _release(self, batch: list[QueuedJob], slot: _Slot) -> None:
        with self._cond:
            self._give_back(slot)
            pipeline = batch[0].pipeline
            self._running_by_pipeline[pipeline] -= len(batch)
            self._cond.notify_all()

    def _track(self, process, slot: _Slot) -> None:
        with self._cond:
            self._processes.add(process)
            stopping = self._stopping
            if not slot.held:  # a second process of the same call (fallback run)
                slot.held = True
                self._running += 1
        if stopping:  # started after stop() killed the others (e.g. an engine fallback run)
            with contextlib.suppress(OSError):
                process.kill()
        threading.Thread(target=self._free_on_exit, args=(process, slot), name="mct-ffmpeg-exit", daemon=True).start()

    def _free_on_exit(self, process, slot: _Slot) -> None:
        process.wait()  # Popen.wait is thread-safe; the engine's own communicate() then sees the exit status
        with self._cond:
            self._give_back(slot)

    # ----- running ---------------------------------------------------------------------------------------------------
    def _run(self, batch: list[QueuedJob], slot: _Slot) -> None:
        try:
            outcomes = self._execute(batch, lambda process: self._track(process, slot))
        except Exception as e:
            log.exception("engine call for %s raised", [j.id for j in batch])
            outcomes = {
                j.id: ("FAILED", exc.JOB_ERROR_INTERNAL, f"internal error: {type(e).__name__}: {e}") for j in batch
            }
        finally:
            with self._cond:
                self._processes = {p for p in self._processes if p.poll() is None}
        try:
            if self._stopping:
                return  # results of killed processes are not recorded: the jobs stay RUNNING for a re-queue
            for job in batch:
                try:
                    self._record(job.id, outcomes[job.id])
                except Exception:
                    log.exception("could not record the result of %s", job.id)
        finally:
            self._release(batch, slot)

    def _record(self, job_id: str, outcome: tuple) -> None:
        """The final state and its callback (``on_finished`` queues it) in one transaction: a process killed in
        between leaves the job RUNNING, so it runs again after a restart instead of losing its callback."""
        with self.backend.store.transaction():
            if outcome[0] == "SUCCESS":
                self.backend.mark_success(job_id, output=outcome[1], keys=outcome[2], ffmpeg_runs=outcome[3])
            else:
                self.backend.mark_failed(job_id, outcome[1], outcome[2])
            if self.on_finished is not None:
                try:
                    self.on_finished(job_id)
                except Exception:  # a broken hook must not undo the result
                    log.exception("completion hook failed for %s", job_id)

    def _execute(self, batch: list[QueuedJob], on_process) -> dict[str, tuple]:
        """{job id: ("SUCCESS", output, keys, ffmpeg (start, end) runs) | ("FAILED", code, message)}."""
        try:
            engine = self.engine or load_engine()
        except exc.EngineUnavailable as e:
            return {j.id: ("FAILED", exc.JOB_ERROR_ENGINE_MISSING, e.message) for j in batch}
        rows = [self.backend.job_row(j.id) for j in batch]
        try:
            if batch[0].kind == THUMBNAIL:
                result = engine.thumbnail(thumbnail_request(engine, rows[0]), self.storage, on_process=on_process)
                return {rows[0].id: ("SUCCESS", None, result.keys, getattr(result, "ffmpeg_runs", None))}
            requests = [transcode_request(engine, row, self.backend.store.encryption_key(row.id)) for row in rows]
            results = engine.transcode_many(requests, self.storage, on_process=on_process)
        except engine.EngineError as e:
            return {row.id: ("FAILED", e.code, e.message) for row in rows}
        outcomes = {}
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, engine.EngineError):
                outcomes[row.id] = ("FAILED", result.code, result.message)
            else:
                outcomes[row.id] = ("SUCCESS", result.output, result.keys, getattr(result, "ffmpeg_runs", None))
        return outcomes


class _Slot:
    """One engine call's claim on a global slot (held from dispatch until its ffmpeg exits)."""

    held = True


def _shares_source(job: QueuedJob, head: QueuedJob) -> bool:
    """Whether ``job`` may join ``head``'s engine call (transcoding jobs reading the same clips)."""
    return job.kind == TRANSCODING and job.group is not None and job.group == head.group


def transcode_request(engine, row, aes_key: str | None):
    internal = row.internal
    clips = [engine.ClipInput(c["bucket"], c["key"], c.get("start_s"), c.get("duration_s")) for c in internal["clips"]]
    return engine.TranscodeRequest(
        job_id=row.id,
        clips=clips,
        target_bucket=internal["targetBucket"],
        target_key=internal["targetKey"],
        preset=preset_for_job(internal),
        watermarks=internal.get("watermarks") or [],
        encryption_key=aes_key,
    )


def thumbnail_request(engine, row):
    doc, internal = row.doc, row.internal
    target = doc["target"]
    return engine.ThumbnailRequest(
        job_id=row.id,
        # stored keys (a leading '/' dropped); rows written before they were recorded fall back to the request's
        source=engine.ClipInput(internal["sourceBucket"], internal.get("sourceKey", doc["source"]["key"])),
        target_bucket=internal["targetBucket"],
        key_prefix=internal.get("keyPrefix", target["keyPrefix"]),
        format=target["format"],
        sizing_policy=target["sizingPolicy"],
        width=target["widthInPixel"],
        height=target["heightInPixel"],
        frame_rate=target.get("frameRate"),
        capture=dict(doc.get("capture") or {}),
    )
