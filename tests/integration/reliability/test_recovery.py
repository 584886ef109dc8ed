"""Recovery without anyone running a command (issue 12), on the real stack: LocalStack runs template.yaml's functions
in CFC worker processes, real ffmpeg, the real bce SDK; the Reconcile function runs from its crontab trigger
(localcloud's scheduler, at a test interval instead of every 5 minutes). No test calls the reconciler itself.

- R9  lost events: BOS delivers no upload event at all (fault bos_event_drop_rate=1) -> the sweep submits every
      upload once; each ends with its jobs and one "upload done" event.
- R10 receiver outage: the user's app answers 503 for a while -> every event is delivered once it is back.
- R11 overwrite race: every key is overwritten right after its first upload -> in the store and in the events, the
      newest version wins; the output objects hold the newest version's renditions.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from baidubce.services.media.media_client import MediaClient  # noqa: F401  (the SDK is what the functions use)

from handlers.adapters.store import SqlStore
from handlers.domain.ids import upload_id_for
from handlers.domain.statuses import DELIVERY_DELIVERED, FAILED, SUCCESS, SUPERSEDED, UPLOAD_DONE
from handlers.wire.downstream import verify_downstream_signature
from localcloud.faults import FaultConfig
from localcloud.samples import make_sample_clip
from localcloud.serve import free_port, serve_in_thread
from localcloud.stack import ENV_CONFIG_JSON, LocalStack
from tests.reliability_support import DOWNSTREAM_SECRET, report
from tests.waiting import stack_outstanding, wait_for, wait_idle

REPO = Path(__file__).resolve().parents[3]
FUNCTIONS = ("OnUpload", "OnNotification", "Reconcile")
JOBS_PER_UPLOAD = 2  # 320x240 clips: the 360p rendition (the smallest is kept) + the poster
CRON_EVERY = 1.0  # seconds between Reconcile runs (CFC: the template's rate(5 minutes))


class App:
    """The user's app: records every "upload done" POST; answers 503 while `down`."""

    def __init__(self) -> None:
        self.down = False
        self.requests: list[dict] = []
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        status = 503 if self.down else 200
        with self._lock:
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.requests.append({"headers": headers, "body": body, "status": status, "at": time.monotonic()})
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    def acknowledged(self) -> list[dict]:
        """The events the app acknowledged, each with `_acked_at` (monotonic)."""
        with self._lock:
            return [{**json.loads(r["body"]), "_acked_at": r["at"]} for r in self.requests if r["status"] == 200]


class Stack:
    """LocalStack + the app + the functions' config; the pipeline and notification are set up directly."""

    def __init__(
        self, tmp_path: Path, faults: str = "", reconcile: dict | None = None, capacity: int = 2, **config_changes
    ) -> None:
        self.app = App()
        self.app_server = serve_in_thread(self.app)
        mct_port = free_port()
        config = json.loads((REPO / "autotranscode.example.json").read_text())
        config["mct"].update(endpoint=f"http://127.0.0.1:{mct_port}", backoff_seconds=0.05)
        config["reconcile"] = {"stale_after_minutes": 0.05, "redeliver_after_minutes": 0.02, **(reconcile or {})}
        config["downstream"] = {"url": self.app_server.url + "/events", "secret": DOWNSTREAM_SECRET,
                                "backoff_seconds": 0.05, "max_attempts": 2}  # fmt: skip
        config["sweep"] = {"grace_minutes": 0}
        config.update(config_changes)
        self.faults = FaultConfig.parse(faults)
        self.stack = LocalStack(
            tmp_path / "data", REPO / "template.yaml", bos_port=0, mct_port=mct_port, cfc_port=0, faults=self.faults,
            env_overrides={name: {ENV_CONFIG_JSON: json.dumps(config)} for name in FUNCTIONS},
            retry_delays=(0.2, 0.5), log_sink=lambda function, line: None, crontab_every=CRON_EVERY,
        )  # fmt: skip
        self.stack.start()
        backend = self.stack.mct.backend
        token = config["callback"]["url_token"]
        backend.create_notification({"name": "cb", "endpoint": f"{self.stack.cfc_url}/mct/callback?token={token}"})
        backend.create_pipeline({"pipelineName": "autotranscode", "sourceBucket": "uploads", "targetBucket": "uploads",
                                 "config": {"notification": "cb", "capacity": capacity}})  # fmt: skip
        self.bos = self.stack.bos_client()
        self.store = SqlStore(f"sqlite:///{self.stack.data_dir / 'autotranscode.sqlite3'}")

    def uploads(self) -> dict:
        return {u.upload_id: u for _, u in self.store.list_jobs(limit=10_000)}

    def mct_jobs(self) -> list[dict]:
        backend = self.stack.mct.backend
        return backend.list_transcoding_jobs() + backend.list_thumbnail_jobs()

    def settle(self, timeout: float = 60) -> None:
        """Idle: nothing queued or running in MCT or CFC, two more Reconcile runs since (they change nothing when
        everything is done), and idle again."""
        scheduler = self.stack.scheduler
        wait_idle(lambda: stack_outstanding(self.stack), timeout=timeout, what="the stack")
        runs = min(scheduler.runs.values())
        assert scheduler.wait_for_runs(runs + 2, timeout), "the crontab trigger stopped running"
        wait_idle(lambda: stack_outstanding(self.stack), timeout=timeout, what="the stack")

    def close(self) -> None:
        self.stack.stop()
        self.app_server.stop()
        self.store.dispose()


@pytest.fixture
def make_stack(tmp_path):
    stacks: list[Stack] = []

    def make(**kw) -> Stack:
        stacks.append(Stack(tmp_path, **kw))
        return stacks[-1]

    yield make
    for s in stacks:
        s.close()


def all_done(s: Stack, count: int) -> bool:
    ups = s.uploads()
    return (
        len(ups) == count and all(u.status == UPLOAD_DONE for u in ups.values()) and len(s.app.acknowledged()) >= count
    )


def test_r9_lost_upload_events_are_found_by_the_sweep(make_stack, tmp_path, request):
    s = make_stack(faults="bos_event_drop_rate=1")
    clip = make_sample_clip(tmp_path / "clip.mp4", seconds=1)
    keys = [f"incoming/lost/clip{i}.mp4" for i in range(6)]
    started = time.monotonic()
    for key in keys:
        s.bos.put_object_from_file("uploads", key, str(clip))
    wait_for(lambda: all_done(s, len(keys)), timeout=180, interval=0.2, what="every lost upload done")
    elapsed = time.monotonic() - started
    s.settle()

    objects = s.bos.list_objects("uploads").contents  # the uploads and every output
    assert s.faults.injected.get("bos_event_dropped") == len(objects)  # not one BOS event was delivered
    mct_jobs = s.mct_jobs()
    outputs = Counter(j["target"].get("targetKey") or j["target"].get("keyPrefix") for j in mct_jobs)
    assert len(mct_jobs) == JOBS_PER_UPLOAD * len(keys) and max(outputs.values()) == 1  # each upload once
    jobs = [j for j, _ in s.store.list_jobs(limit=1000)]
    assert {j.job_id for j in jobs} == {j["jobId"] for j in mct_jobs} and {j.status for j in jobs} == {SUCCESS}
    events = s.app.acknowledged()
    assert sorted(e["upload"]["key"] for e in events) == keys  # one "upload done" event each
    runs = min(s.stack.scheduler.runs.values())
    report(
        request,
        f"R9: {len(keys)} uploads, all {s.faults.injected['bos_event_dropped']} BOS events dropped -> "
        f"the sweep (Reconcile every {CRON_EVERY:g} s, grace 0) submitted each once: {len(mct_jobs)} jobs "
        f"(expected {JOBS_PER_UPLOAD * len(keys)}), 0 duplicates, {len(events)} done events, all done after "
        f"{elapsed:.1f} s, {runs} Reconcile runs, no command run",
    )


@pytest.mark.parametrize(
    ("outage", "reconcile"),
    [
        pytest.param(15.0, {"redeliver_max_interval_minutes": 0.1}, id="15s"),
        pytest.param(120.0, {"redeliver_max_interval_minutes": 0.5}, id="2min", marks=pytest.mark.slow),
    ],
)
def test_r10_events_reach_an_app_that_was_down_without_a_command(make_stack, tmp_path, request, outage, reconcile):
    s = make_stack(reconcile=reconcile)
    s.app.down = True
    clip = make_sample_clip(tmp_path / "clip.mp4", seconds=1)
    keys = [f"incoming/outage/clip{i}.mp4" for i in range(4)]
    down_at = time.monotonic()
    for key in keys:
        s.bos.put_object_from_file("uploads", key, str(clip))
    wait_for(lambda: [u.status for u in s.uploads().values()] == [UPLOAD_DONE] * len(keys), timeout=120,
             interval=0.2, what="every upload done while the app is down")  # fmt: skip
    refused = len(s.app.requests)
    assert refused >= len(keys) and not s.app.acknowledged()
    # The app stays down for the whole outage (the Reconcile runs keep failing on it meanwhile) ...
    wait_for(lambda: time.monotonic() - down_at >= outage, timeout=outage + 5, interval=0.5, what="the outage")
    s.app.down = False
    up_at = time.monotonic()
    # ... then comes back: every event arrives by itself.
    wait_for(lambda: len(s.app.acknowledged()) >= len(keys), timeout=120, interval=0.2, what="every event delivered")
    late = time.monotonic() - up_at
    s.settle()

    events = s.app.acknowledged()
    assert sorted(e["upload"]["key"] for e in events) == keys  # each once
    acked = [r for r in s.app.requests if r["status"] == 200]
    assert all(verify_downstream_signature(DOWNSTREAM_SECRET, r["headers"], r["body"]) for r in acked)
    deliveries = [s.store.get_delivery(uid) for uid in s.uploads()]
    assert {d.status for d in deliveries} == {DELIVERY_DELIVERED}
    attempts = sorted(d.attempts for d in deliveries)
    report(
        request,
        f"R10: app down {outage:.0f} s for {len(keys)} done events -> {len(s.app.requests) - len(acked)} refused "
        f"POSTs (Reconcile by its crontab trigger every {CRON_EVERY:g} s; retries after 1.2 s, doubling, at most "
        f"every {reconcile['redeliver_max_interval_minutes'] * 60:.0f} s), all {len(events)} delivered "
        f"{late:.1f} s after it came back, none twice; attempts per event {attempts}; no command run",
    )


def test_r11_overwrite_race_the_newest_version_wins(make_stack, tmp_path, request):
    # MCT runs every job at once, and the older version takes far longer to transcode: without the newer version's
    # jobs waiting, the older ones would finish last and leave their renditions at the output keys.
    s = make_stack(capacity=16)
    old_clip = make_sample_clip(tmp_path / "old.mp4", seconds=40, width=640, height=480)
    new_clip = make_sample_clip(tmp_path / "new.mp4", seconds=1)
    at_once = [f"incoming/race/now{i}.mp4" for i in range(2)]  # overwritten before its event is handled
    mid_way = [f"incoming/race/later{i}.mp4" for i in range(2)]  # overwritten while its jobs run
    keys = at_once + mid_way
    etags: dict[str, tuple[str, str]] = {}

    def put(key: str, clip: Path) -> str:
        return s.bos.put_object_from_file("uploads", key, str(clip)).metadata.etag.strip('"')

    overwritten_at = {}
    for key in at_once:
        etags[key] = (put(key, old_clip), put(key, new_clip))
        overwritten_at[key] = time.monotonic()
    old = {key: put(key, old_clip) for key in mid_way}

    def first_jobs_created() -> bool:
        jobs = [s.store.jobs_for_upload(upload_id_for("uploads", k, old[k])) for k in mid_way]
        return all(js and all(j.job_id for j in js) for js in jobs)

    wait_for(first_jobs_created, timeout=60, interval=0.05, what="the first versions' jobs created")
    for key in mid_way:
        etags[key] = (old[key], put(key, new_clip))
        overwritten_at[key] = time.monotonic()

    def newest_done() -> bool:
        ups = s.uploads()
        newest = [ups.get(upload_id_for("uploads", k, etags[k][1])) for k in keys]
        return all(u is not None and u.status == UPLOAD_DONE for u in newest) and all_done(s, len(ups))

    wait_for(newest_done, timeout=240, interval=0.2, what="the newest version of every key done")
    s.settle()

    events = s.app.acknowledged()
    media = s.stack.mct_client()
    outcome = Counter()
    for key, (old_etag, new_etag) in etags.items():
        mine = [e for e in events if e["upload"]["key"] == key]
        newest = [e for e in mine if e["upload"]["etag"] == new_etag]
        older = [e for e in mine if e["upload"]["etag"] == old_etag]
        assert len(newest) == 1 and newest[0]["status"] == "SUCCESS" and newest[0]["upload"]["superseded_by"] is None
        assert newest[0]["upload"]["version"] == 2 or key in at_once  # numbered in the order recorded
        # The older version gets its one event too: SUPERSEDED, naming the etag that replaced it, unless it was
        # all done (and its event acknowledged) before the overwrite, when SUCCESS was true.
        assert len(older) == 1
        if older[0]["status"] == SUCCESS:
            assert older[0]["_acked_at"] < overwritten_at[key]
            outcome["older done before the overwrite"] += 1
        else:
            assert older[0]["status"] == SUPERSEDED and older[0]["upload"]["superseded_by"] == new_etag
        new_jobs = s.store.jobs_for_upload(upload_id_for("uploads", key, new_etag))
        old_jobs = s.store.jobs_for_upload(upload_id_for("uploads", key, old_etag))
        assert {j.status for j in new_jobs} == {SUCCESS}
        # Either overwritten before its jobs were created (none created), or its jobs ran (the newer version's jobs
        # waited for them); those may have failed: MCT reads the source when a job runs, and it changed under them.
        statuses = {j.status for j in old_jobs}
        assert statuses == {SUPERSEDED} or statuses <= {SUCCESS, FAILED}, [
            (j.target, j.status, j.result.get("error")) for j in old_jobs
        ]
        if statuses == {SUPERSEDED}:
            outcome["older superseded before any job"] += 1
        elif older[0]["status"] == SUPERSEDED:
            outcome["older transcoded, then superseded"] += 1
        outcome["older jobs failed (source replaced while they ran)"] += sum(j.status == FAILED for j in old_jobs)
        # The bytes at the output key are the newest version's rendition (1 s), not the older one's (40 s).
        [rendition] = [o for o in newest[0]["outputs"] if o["status"] == SUCCESS]
        info = media.get_mediainfo_of_file("uploads", rendition["key"])
        assert int(info.duration_in_second) == 1, f"{rendition['key']} holds an older version's rendition"
    report(
        request,
        f"R11: {len(keys)} keys overwritten (older version 40 s 640x480, newer 1 s, MCT running all jobs at once; "
        f"{len(at_once)} at once, {len(mid_way)} "
        f"while the older jobs ran) -> newest version SUCCESS in store and event for {len(keys)}/{len(keys)}, the "
        f"output objects hold the newer rendition for {len(keys)}/{len(keys)}, one event per older version "
        f"(SUPERSEDED naming the newer etag, or SUCCESS if acknowledged before the overwrite); {dict(outcome)}; "
        f"{len(events)} done events",
    )
