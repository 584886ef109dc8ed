"""P4: MCT callbacks recorded per second by the self-hosted webhook, next to a hello-world ASGI app.

``uvicorn handlers.webhook_app:app`` (one process, as documented for self-hosting) with a SQLite store receives
real MCT callbacks — the message localcloud's notifier sends, authenticated with the callback URL token — for jobs
that exist in localcloud MCT (its own uvicorn process, scheduler off, the jobs already SUCCESS) and in the store
(one upload of 8 jobs per source). There are more jobs than callbacks sent, so every callback is the first one for
its job (the expensive case) and carries a new messageId.

The webhook answers once the callback is authenticated, parsed, deduplicated and durably recorded in the store
(handlers.services.inbox: one transaction per batch of concurrent callbacks); `get_job` over HTTP, the status
update and upload completion follow in the background. Both are measured: `callbacks_per_second` (answered 200,
recorded) during the load, and `verified_per_second` (jobs whose verified status is in the store) from the start
of the load until the last hint was verified. Load: several client processes, each with persistent connections
(asyncio, no third-party client). The same load against a hello-world ASGI app under the same uvicorn settings
gives the machine's ceiling; both run in the same invocation.

    python -m bench.p4_webhook [--seconds 5] [--clients 2] [--connections 8] [--jobs 16000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import progress, report, wait_listening
from bench.load import run_load

TARGET_RPS = 2000
URL_TOKEN = "bench-callback-token"
CALLBACK_PATH = "/mct/callback"
JOBS_PER_UPLOAD = 8


async def hello_app(scope, receive, send):
    """The ceiling: the smallest useful ASGI app (reads the body, answers a small JSON)."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = b'{"status":"ok"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# ----- MCT with jobs ------------------------------------------------------------------------------------------------
def serve_mct(data_dir: str, port: int, jobs: int, jobs_file: str) -> None:
    import logging

    import uvicorn

    from localcloud.mct.service import MctService

    logging.disable(logging.WARNING)
    service = MctService(data_dir)  # scheduler off: the bench decides the job states
    service.storage.create_bucket("uploads", exist_ok=True)
    service.backend.create_pipeline({"pipelineName": "bench", "sourceBucket": "uploads", "targetBucket": "uploads"})
    docs = []
    for n in range(jobs):
        key = f"in/upload{n // JOBS_PER_UPLOAD}.mp4"
        if n % JOBS_PER_UPLOAD == 0:
            service.storage.put("uploads", key, b"media")
        body = {"pipelineName": "bench", "source": {"sourceKey": key},
                "target": {"targetKey": f"out/{n}.mp4", "presetName": "bce.video_mp4_640x360_600kbps"}}  # fmt: skip
        job_id = service.backend.create_transcoding_job(body)
        service.backend.mark_running(job_id)
        docs.append(service.backend.mark_success(job_id, output={"video": {"durationInSeconds": 2}}))
    Path(jobs_file).write_text(json.dumps(docs))
    uvicorn.run(service.app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def fill_store(store_url: str, docs: list[dict]) -> None:
    """The handler store as the upload function leaves it: one upload per source, a submitted claim per job."""
    from handlers.adapters.store import open_store
    from handlers.domain.clock import utcnow
    from handlers.domain.ids import claim_id_for, upload_id_for
    from handlers.domain.records import Job, Upload
    from handlers.domain.statuses import KIND_TRANSCODE

    store = open_store(store_url)  # WAL + synchronous=NORMAL: commits do not fsync
    now = utcnow()
    for n, doc in enumerate(docs):
        key, etag = doc["source"]["sourceKey"], "etag"
        upload_id = upload_id_for("uploads", key, etag)
        if n % JOBS_PER_UPLOAD == 0:
            store.ensure_upload(Upload(upload_id, "uploads", key, etag, "bench", JOBS_PER_UPLOAD, created_at=now))
        target = f"t{n % JOBS_PER_UPLOAD}"
        claim = Job(claim_id_for("uploads", key, etag, target), upload_id, target, KIND_TRANSCODE, {})
        store.claim(claim, now, timedelta(seconds=330))
        store.record_submitted(claim.claim_id, doc["jobId"], now)
    store.dispose()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and its reaped children (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def start_uvicorn(app: str, port: int, env: dict) -> subprocess.Popen:
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "error", "--no-access-log"]  # fmt: skip
    # The functions log JSON lines at INFO (as deployed); they go nowhere here, but are produced.
    proc = subprocess.Popen(argv, env=env, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL)
    wait_listening(port, 30)
    return proc


def callback_bodies(docs: list[dict]) -> list[bytes]:
    from localcloud.mct.notifier import build_message

    bodies = []
    for doc in docs:
        message = build_message(doc, "bench", "127.0.0.1")
        message["messageId"] = "@ID@"  # unique per request, filled in by the client
        bodies.append(json.dumps(message).encode())
    return bodies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p4_webhook", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument("--connections", type=int, default=8, help="persistent connections per client process")
    parser.add_argument(
        "--jobs",
        type=int,
        default=16000,
        help="jobs in MCT and the store; more than the callbacks sent, so each is a first callback",
    )
    parser.add_argument("--verify-timeout", type=float, default=600, help="seconds to wait for the verification")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the webhook and MCT processes into DIR/*.txt")
    args = parser.parse_args(argv)

    from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
    from localcloud.serve import free_port

    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="p4-webhook-") as tmp:
        mct_port, hook_port, hello_port = free_port(), free_port(), free_port()
        jobs_file = f"{tmp}/jobs.json"
        mct = ctx.Process(target=serve_mct, args=(f"{tmp}/mct", mct_port, args.jobs, jobs_file), daemon=True)
        mct.start()
        wait_listening(mct_port, 120)
        docs = json.loads(Path(jobs_file).read_text())
        store_url = f"sqlite:///{tmp}/store.sqlite3"
        started = time.perf_counter()
        fill_store(store_url, docs)
        progress(f"{len(docs)} jobs in MCT and the store ({time.perf_counter() - started:.1f}s to fill the store)")
        config = {
            "mct": {"endpoint": f"http://127.0.0.1:{mct_port}", "pipeline": "bench"},
            "rules": [{"name": "bench", "bucket": "uploads", "prefixes": ["in/"],
                       "targets": [{"name": f"t{i}", "preset": "bce.video_mp4_640x360_600kbps",
                                    "key": "out/{stem}/{target}.{ext}"} for i in range(JOBS_PER_UPLOAD)]}],
            "callback": {"url_token": URL_TOKEN, "path": CALLBACK_PATH},
            "store_url": store_url,
        }  # fmt: skip
        env = {**os.environ, "AUTOTRANSCODE_CONFIG_JSON": json.dumps(config), "BCE_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY,
               "BCE_ACCESS_KEY_SECRET": DEFAULT_SECRET_KEY}  # fmt: skip
        bodies = callback_bodies(docs)
        results = {}
        for name, app, port in (("webhook", "handlers.webhook_app:app", hook_port),
                                ("hello", "bench.p4_webhook:hello_app", hello_port)):  # fmt: skip
            server = start_uvicorn(app, port, env)
            spies = []
            if args.profile and name == "webhook":
                for who, pid in (("webhook", server.pid), ("mct", mct.pid)):
                    out = Path(args.profile) / f"{who}.txt"
                    spies.append(subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--duration",
                                                   str(int(args.seconds)), "--format", "raw", "-o", str(out)],
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
            try:
                cpu_before = cpu_seconds(server.pid), cpu_seconds(mct.pid)
                results[name] = run_load(
                    port,
                    f"{CALLBACK_PATH}?token={URL_TOKEN}",
                    bodies,
                    args.clients,
                    args.connections,
                    args.seconds,
                    {"content-type": "application/json"},
                )
                load_end = time.perf_counter()
                cpu_after = cpu_seconds(server.pid), cpu_seconds(mct.pid)
                handled = max(1, results[name]["ok"] + results[name]["errors"])
                if None not in cpu_before + cpu_after:
                    results[name]["server_cpu_ms_per_request"] = (cpu_after[0] - cpu_before[0]) * 1000 / handled
                    results[name]["mct_cpu_ms_per_request"] = (cpu_after[1] - cpu_before[1]) * 1000 / handled
                if name == "webhook":
                    # The background verification still going on: wait until every accepted hint is verified.
                    results[name]["drain_seconds"] = wait_verified(store_url, load_end, args.verify_timeout)
                    cpu_drained = cpu_seconds(server.pid), cpu_seconds(mct.pid)
                    if None not in cpu_before + cpu_drained:
                        results[name]["server_cpu_ms_total"] = (cpu_drained[0] - cpu_before[0]) * 1000
                        results[name]["mct_cpu_ms_total"] = (cpu_drained[1] - cpu_before[1]) * 1000
            finally:
                for spy in spies:
                    spy.wait(60)
                server.terminate()
                server.wait(10)
            r = results[name]
            progress(f"{name}: {r['per_second']:.0f}/s p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms "
                     f"statuses {r['statuses']}")  # fmt: skip
        mct.terminate()
        mct.join(10)
        recorded = _recorded(store_url)
    hook, hello = results["webhook"], results["hello"]
    rps = hook["ok"] / args.seconds
    accepted = min(hook["ok"], len(docs))  # distinct jobs called back (bodies cycle if the run outlasts the jobs)
    verify_seconds = args.seconds + hook["drain_seconds"]
    report(
        "p4_webhook",
        {
            "callbacks_per_second": round(rps, 1),
            "ratio_to_hello_world": round(rps / hello["per_second"], 3),
            "hello_world_per_second": round(hello["per_second"], 1),
            "p50_ms": round(hook["p50_ms"], 2),
            "p99_ms": round(hook["p99_ms"], 2),
            "hello_p50_ms": round(hello["p50_ms"], 2),
            "hello_p99_ms": round(hello["p99_ms"], 2),
            "verified_per_second": round(recorded / verify_seconds, 1),
            "verify_drain_seconds_after_load": round(hook["drain_seconds"], 2),
            "webhook_cpu_ms_per_callback_answering": _round(hook.get("server_cpu_ms_per_request"), 3),
            "webhook_cpu_ms_per_callback_total": _round(_per(hook.get("server_cpu_ms_total"), accepted), 3),
            "mct_cpu_ms_per_callback_total": _round(_per(hook.get("mct_cpu_ms_total"), accepted), 3),
            "hello_cpu_ms_per_request": _round(hello.get("server_cpu_ms_per_request"), 3),
            "errors": hook["errors"],
            "statuses": hook["statuses"],
            "callbacks_sent": hook["ok"] + hook["errors"],
            "jobs_verified_in_store": recorded,
            "jobs": len(docs),
            "seconds": args.seconds,
            "load": f"{args.clients} processes x {args.connections} keep-alive connections (asyncio)",
            "server": "uvicorn handlers.webhook_app:app, 1 process, SQLite store; MCT get_job over HTTP in background",
        },
        target=f"callbacks_per_second >= {TARGET_RPS}",
        meets_target=rps >= TARGET_RPS and hook["errors"] == 0 and recorded == accepted,
    )
    return 0


def _per(total: float | None, count: int) -> float | None:
    return None if total is None or not count else total / count


def wait_verified(store_url: str, since: float, timeout: float) -> float:
    """Seconds from `since` until the webhook's store holds no unverified hint (its verifier is done)."""
    import sqlite3
    from contextlib import closing

    deadline = time.perf_counter() + timeout
    with closing(sqlite3.connect(store_url.removeprefix("sqlite:///"), timeout=30)) as c:
        while time.perf_counter() < deadline:
            if c.execute("SELECT COUNT(*) FROM at_callback_hints").fetchone()[0] == 0:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"the webhook did not verify its callbacks within {timeout:.0f} s")
    return time.perf_counter() - since


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _recorded(store_url: str) -> int:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(store_url.removeprefix("sqlite:///"))) as c:
        return c.execute("SELECT COUNT(*) FROM at_jobs WHERE status = 'SUCCESS'").fetchone()[0]


if __name__ == "__main__":
    raise SystemExit(main())
