"""P6: signed create_job requests per second against the localcloud MCT service.

The service runs in its own process (uvicorn, one worker) with its scheduler *not* started, so jobs stay PENDING
and no ffmpeg competes for the CPU: this measures the API path (auth verify, validation, SQLite insert, JSON).
Several client processes send bce-auth-v1 signed ``POST /v3/job/transcoding`` requests over keep-alive
connections: pre-signed raw HTTP from bench.load's asyncio clients by default (a signature stays valid for
1800 s, so one signed request can be replayed), or Baidu's real MediaClient with ``--sdk`` (then the client's own
CPU use dominates on small machines).

    python -m bench.p6_mct_api [--seconds 5] [--clients N] [--connections 2] [--sdk]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time

from bench.common import report, wait_listening
from bench.load import run_load
from localcloud import bce_auth
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.serve import free_port

TARGET_RPS = 1500
PATH = "/v3/job/transcoding"
BODY = {
    "pipelineName": "bench",
    "source": {"sourceKey": "in.mp4"},
    "target": {"targetKey": "out.mp4", "presetName": "bce.video_mp4_854x480_800kbps"},
}


def serve(data_dir: str, port: int, ready) -> None:
    import logging

    import uvicorn

    from localcloud.mct.service import MctService

    logging.disable(logging.WARNING)
    service = MctService(data_dir)  # scheduler deliberately not started
    for bucket in ("bench-src", "bench-dst"):
        service.storage.create_bucket(bucket, exist_ok=True)
    service.storage.put("bench-src", "in.mp4", b"pretend media")
    service.backend.create_pipeline({"pipelineName": "bench", "sourceBucket": "bench-src", "targetBucket": "bench-dst"})
    config = uvicorn.Config(service.app, host="127.0.0.1", port=port, log_level="error", access_log=False)
    server = uvicorn.Server(config)
    config.load()
    ready.set()
    server.run()


def signed_request(port: int) -> tuple[bytes, dict[str, str]]:
    """One bce-auth-v1 signed create_job request (a signature stays valid for 1800 s, so it can be replayed)."""
    body = json.dumps(BODY).encode()
    headers = {"host": f"127.0.0.1:{port}", "content-type": "application/json; charset=utf-8",
               "content-length": str(len(body)), "x-bce-date": bce_auth.format_timestamp(time.time())}  # fmt: skip
    headers["authorization"] = bce_auth.sign(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, "POST", PATH, [], headers)
    return body, headers


def sdk_client(port: int, seconds: float, start_at: float, out) -> None:
    from localcloud.mct.testing import media_client

    client = media_client(f"127.0.0.1:{port}")
    ok = errors = 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    while time.time() < deadline:
        try:
            client.create_job(BODY["pipelineName"], BODY["source"], BODY["target"])
            ok += 1
        except Exception:  # counted, not fatal
            errors += 1
    out.put((ok, errors))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p6_mct_api", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=max(2, (os.cpu_count() or 1)), help="client processes")
    parser.add_argument("--connections", type=int, default=2, help="keep-alive connections per client process")
    parser.add_argument("--sdk", action="store_true", help="use the real MediaClient instead of pre-signed raw HTTP")
    args = parser.parse_args(argv)

    ctx = mp.get_context("spawn")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="p6-mct-") as data_dir:
        ready = ctx.Event()
        server = ctx.Process(target=serve, args=(data_dir, port, ready), daemon=True)
        server.start()
        if not ready.wait(30):
            raise SystemExit("the MCT service did not start")
        wait_listening(port)
        if args.sdk:
            out = ctx.Queue()
            start_at = time.time() + 1.5  # let every client process import and connect first
            clients = [ctx.Process(target=sdk_client, args=(port, args.seconds, start_at, out))
                       for _ in range(args.clients)]  # fmt: skip
            for c in clients:
                c.start()
            results = [out.get(timeout=args.seconds + 60) for _ in clients]
            for c in clients:
                c.join()
            ok, errors, latency = sum(r[0] for r in results), sum(r[1] for r in results), {}
        else:
            body, headers = signed_request(port)
            stats = run_load(port, PATH, [body], args.clients, args.connections, args.seconds, headers)
            ok, errors = stats["ok"], stats["errors"]
            latency = {"p50_ms": round(stats["p50_ms"], 2), "p99_ms": round(stats["p99_ms"], 2)}
        server.terminate()
        server.join(10)
    rps = ok / args.seconds
    report(
        "p6_mct_api",
        {
            "requests_per_second": round(rps, 1),
            "ok": ok,
            "errors": errors,
            "seconds": args.seconds,
            **latency,
            "clients": args.clients,
            "client_kind": "bce-python-sdk MediaClient"
            if args.sdk
            else f"pre-signed raw HTTP, {args.connections} keep-alive connections per client (asyncio)",
            "server": "MctService in one uvicorn process, scheduler off (jobs stay PENDING), SQLite WAL",
        },
        target=f"requests_per_second >= {TARGET_RPS}",
        meets_target=rps >= TARGET_RPS and errors == 0,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
