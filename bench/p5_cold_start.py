"""P5: cold start. A fresh process imports each function and handles its first event, next to a process that only
imports what any such function must import anyway (the floor).

For each round, in turn, each in a fresh process: (1) the floor — Powertools' ``Logger``, the BCE SDK's
``MediaClient`` and the store's driver (``sqlite3``), each imported normally, nothing of ours; (2)
``handlers.on_upload`` with an upload event for a new object (3 targets, mediainfo_check off: the probe is MCT's
time, P3 counts round trips) against localcloud MCT and BOS; (3) ``handlers.on_notification`` with a callback for a
job that exists in MCT and in the store; (4, 5) the same two functions with the SDK imported plainly first (without
``handlers.adapters.sdk_imports``: does it still earn its place?); (6) for reference, a bare Powertools handler
(``Logger`` + ``@logger.inject_lambda_context``). Each process gets a fresh SQLite store file, like a new CFC
instance's /tmp. Time = from spawning the process until its first event is handled (interpreter start, imports,
cold-start init, first invocation: what the first event of a cold CFC instance waits for); the child also reports
its import and first-invocation times. ratio = median function time / median floor time (the worse function is the
headline).

    python -m bench.p5_cold_start [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import median, progress, report

TARGET_RATIO = 1.25
ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
kind, event = sys.argv[1], json.loads(sys.argv[2])
if kind == "bare":
    from aws_lambda_powertools import Logger

    logger = Logger(service="bare")

    @logger.inject_lambda_context
    def handler(event, context):
        return {"ok": True}

    class Context:
        function_name, function_version, invoked_function_arn = "bare", "1", "brn:bce:cfc:bj:x:function:bare:1"
        memory_limit_in_mb, aws_request_id, log_group_name, log_stream_name = 128, "r-1", "", ""

        def get_remaining_time_in_millis(self):
            return 300000

    context = Context()
elif kind == "floor":  # what any MCT function with a SQLite store imports: Logger, MediaClient, sqlite3
    from aws_lambda_powertools import Logger
    import baidubce.services.media.media_client
    import sqlite3

    handler, context = (lambda event, context: {"ok": True}), None
else:
    import importlib

    name, _, variant = kind.partition(":")
    if variant == "plain-sdk":  # the SDK imported as is: handlers.adapters.sdk_imports then has nothing left to do
        import baidubce.utils
    handler = importlib.import_module(f"handlers.{name}").handler
    context = None
t1 = time.perf_counter()
result = handler(event, context)
t2 = time.perf_counter()
import resource

usage = resource.getrusage(resource.RUSAGE_SELF)  # CPU since the process started: steadier than wall on a busy machine
print(json.dumps({"import_ms": (t1 - t0) * 1000, "invoke_ms": (t2 - t1) * 1000, "done_at": time.time(),
                  "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000, "result": result}, default=str))
"""


def upload_event(key: str, etag: str) -> dict:
    return {"events": [{"version": "1.0", "eventId": f"cold-{key}", "eventOrigin": "bos:realtime",
                        "eventTime": "2026-11-23T12:00:00Z", "eventType": "PutObject",
                        "content": {"bucket": "uploads", "object": key, "eTag": etag, "filesize": 100,
                                    "contentType": "video/mp4"}}]}  # fmt: skip


def callback_event(doc: dict, token: str) -> dict:
    from localcloud.mct.notifier import build_message

    body = json.dumps(build_message(doc, "autotranscode", "127.0.0.1"))
    return {"resource": "/mct/callback", "path": "/mct/callback", "httpMethod": "POST",
            "headers": {"Content-Type": "application/json", "Content-Length": str(len(body))},
            "queryStringParameters": {"token": token}, "pathParameters": {}, "requestContext": {},
            "body": body, "isBase64Encoded": False}  # fmt: skip


def run_child(kind: str, event: dict, env: dict) -> dict:
    spawned_at = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, json.dumps(event)], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{kind} cold start failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # Until the first event is handled (the process lives on in CFC: its exit is no part of a cold start).
    wall_ms = (out["done_at"] - spawned_at) * 1000
    return {
        "wall_ms": wall_ms,
        "import_ms": out["import_ms"],
        "invoke_ms": out["invoke_ms"],
        "cpu_ms": out["cpu_ms"],
        "result": out["result"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p5_cold_start", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)

    from handlers.adapters.store import open_store
    from handlers.domain.clock import utcnow
    from handlers.domain.ids import claim_id_for, upload_id_for
    from handlers.domain.records import Job, Upload
    from handlers.domain.statuses import KIND_TRANSCODE
    from localcloud.bos import BosService
    from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
    from localcloud.mct.testing import running_mct
    from localcloud.serve import serve_in_thread

    token = "cold-start-token"
    kinds = ("floor", "on_upload", "on_notification", "on_upload:plain-sdk", "on_notification:plain-sdk", "bare")
    runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="p5-cold-") as tmp, \
            running_mct(Path(tmp) / "mct", start=False, buckets=("uploads",)) as mct:  # fmt: skip
        mct.client.create_pipeline("autotranscode", "uploads", "uploads")
        bos = BosService(storage=mct.service.storage, credentials={DEFAULT_ACCESS_KEY: DEFAULT_SECRET_KEY})
        bos_server = serve_in_thread(bos.app)
        for n in range(-1, args.rounds):
            for variant in ("default", "plain-sdk"):
                mct.service.storage.put("uploads", f"in/cold{n}-{variant}.mp4", b"media")
        targets = [{"name": name, "preset": preset, "key": "out/{stem}/{target}.{ext}"} for name, preset in
                   (("720p", "bce.video_mp4_1280x720_2048kbps"), ("480p", "bce.video_mp4_854x480_800kbps"),
                    ("360p", "bce.video_mp4_640x360_600kbps"))]  # fmt: skip
        config = {
            "mct": {"endpoint": f"http://{mct.server.endpoint}", "pipeline": "autotranscode"},
            "rules": [{"name": "videos", "bucket": "uploads", "prefixes": ["in/"], "targets": targets}],
            "callback": {"url_token": token},
            "mediainfo_check": {"enabled": False},
            # The upload function asks BOS for the object's current version before it creates jobs.
            "bos": {"endpoint": f"http://{bos_server.endpoint}"},
        }
        # A store holding one submitted job that exists in MCT: the notification function's first callback.
        body = {"pipelineName": "autotranscode", "source": {"sourceKey": "in/cold-1-default.mp4"},
                "target": {"targetKey": "out/done.mp4", "presetName": "bce.video_mp4_640x360_600kbps"}}  # fmt: skip
        job_id = mct.service.backend.create_transcoding_job(body)
        mct.service.backend.mark_running(job_id)
        doc = mct.service.backend.mark_success(job_id, output={"video": {"durationInSeconds": 2}})
        template = Path(tmp) / "template.sqlite3"
        store = open_store(f"sqlite:///{template}")
        upload_id = upload_id_for("uploads", "in/done.mp4", "etag")
        store.ensure_upload(Upload(upload_id, "uploads", "in/done.mp4", "etag", "videos", 1, created_at=utcnow()))
        claim = Job(claim_id_for("uploads", "in/done.mp4", "etag", "360p"), upload_id, "360p", KIND_TRANSCODE, {})
        store.claim(claim, utcnow(), __import__("datetime").timedelta(seconds=330))
        store.record_submitted(claim.claim_id, job_id, utcnow())
        store.dispose()
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRANSCODE_", "POWERTOOLS_"))}
        base_env.update({"BCE_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY, "BCE_ACCESS_KEY_SECRET": DEFAULT_SECRET_KEY,
                         "AUTOTRANSCODE_CONFIG_JSON": json.dumps(config), "PYTHONDONTWRITEBYTECODE": "1"})  # fmt: skip
        for n in range(-1, args.rounds):  # round -1: warm-up (bytecode caches written, files in the page cache)
            instance = Path(tmp) / f"instance{n}"
            instance.mkdir()
            for kind in kinds:
                env = base_env if n >= 0 else {k: v for k, v in base_env.items() if k != "PYTHONDONTWRITEBYTECODE"}
                if kind in ("floor", "bare"):
                    runs[kind].append(run_child(kind, {}, env))
                elif kind.startswith("on_upload"):
                    env = {
                        **base_env,
                        "AUTOTRANSCODE_STORE_URL": f"sqlite:///{instance}/{kind.replace(':', '-')}.sqlite3",
                    }
                    key = f"in/cold{n}-{kind.partition(':')[2] or 'default'}.mp4"
                    up = run_child(kind, upload_event(key, mct.service.storage.head("uploads", key).etag), env)
                    if up["result"].get("submitted") != len(targets):
                        raise SystemExit(f"{kind} did not submit {len(targets)} jobs: {up['result']}")
                    runs[kind].append(up)
                else:
                    store_file = instance / f"{kind.replace(':', '-')}.sqlite3"
                    shutil.copyfile(template, store_file)
                    env = {**env, "AUTOTRANSCODE_STORE_URL": f"sqlite:///{store_file}"}
                    note = run_child(kind, callback_event(doc, token), env)
                    if note["result"]["statusCode"] != 200 or '"recorded"' not in note["result"]["body"]:
                        raise SystemExit(f"{kind} did not record the callback: {note['result']}")
                    runs[kind].append(note)
            progress(f"round {n}: " + ", ".join(f"{k} {v[-1]['wall_ms']:.0f} ms" for k, v in runs.items()))
            if n < 0:
                for measured in runs.values():
                    measured.clear()
        bos_server.stop()
    summary = {k: {m: round(median([r[m] for r in v]), 1) for m in ("wall_ms", "import_ms", "invoke_ms", "cpu_ms")}
               for k, v in runs.items()}  # fmt: skip
    floor = summary["floor"]["wall_ms"]
    ratios = {k: round(summary[k]["wall_ms"] / floor, 3) for k in kinds if k != "floor"}
    worst = max(ratios["on_upload"], ratios["on_notification"])
    report(
        "p5_cold_start",
        {
            "ratio": worst,
            "ratios_to_floor": ratios,
            "cpu_ratios_to_floor": {k: round(summary[k]["cpu_ms"] / summary["floor"]["cpu_ms"], 3) for k in kinds},
            "ratios_to_bare": {k: round(summary[k]["wall_ms"] / summary["bare"]["wall_ms"], 3) for k in kinds},
            "median_ms": summary,
            "rounds": args.rounds,
            "python": sys.version.split()[0],
        },
        target=f"ratio <= {TARGET_RATIO} (each function vs the floor: Logger + MediaClient + sqlite3, fresh processes)",
        meets_target=worst <= TARGET_RATIO,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
