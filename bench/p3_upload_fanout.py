"""P3: upload fan-out. One upload event with 8 targets against an MCT API with 50 ms injected latency.

The upload function's handler (``handlers.on_upload.handler``, warm: its Deps are built once, like a warm CFC
instance) runs against localcloud MCT over HTTP with ``api_latency_ms=50`` (localcloud.faults) and a SQLite store.
Each event is a new object, so every target is really claimed and created. ratio = median handler wall time /
median round trip of ONE create_job through the same client: concurrent submission makes 8 targets cost about
one round trip, sequential submission would cost 8.

The headline runs with ``mediainfo_check`` off (the fan-out alone); with it on (the default) the handler first asks
MCT for the source's mediainfo (one more sequential round trip), reported as ``ratio_with_mediainfo``.

    python -m bench.p3_upload_fanout [--events 15] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from bench.common import median, progress, report

TARGET_RATIO = 2.0
TARGETS = 8
PRESETS = [
    "bce.video_mp4_1920x1080_3660kbps",
    "bce.video_mp4_1280x720_2048kbps",
    "bce.video_mp4_854x480_800kbps",
    "bce.video_mp4_640x360_600kbps",
    "bce.video_hls_1280x720_1728kbps",
    "bce.video_hls_854x480_800kbps",
    "bce.video_hls_640x360_600kbps",
    "bce.audio_mp3_128kbps",
]


def config(endpoint: str, store_url: str, mediainfo: bool, bos_endpoint: str) -> dict:
    targets = [
        {"name": f"t{n}", "preset": preset, "key": "out/{stem}/{target}.{ext}"} for n, preset in enumerate(PRESETS)
    ]
    return {
        "mct": {"endpoint": f"http://{endpoint}", "pipeline": "bench", "backoff_seconds": 0},
        "rules": [{"name": "bench", "bucket": "uploads", "prefixes": ["in/"], "targets": targets}],
        "callback": {"url_token": "bench-token"},
        "store_url": store_url,
        "mediainfo_check": {"enabled": mediainfo},
        "bos": {"endpoint": f"http://{bos_endpoint}"},  # the version check asks it which etag each key holds
    }


def upload_event(key: str, n: int, etag: str) -> dict:
    return {"events": [{"version": "1.0", "eventId": f"bench-{n}", "eventOrigin": "bos:realtime",
                        "eventTime": "2026-11-23T12:00:00Z", "eventType": "PutObject",
                        "content": {"bucket": "uploads", "object": key, "eTag": etag, "filesize": 1000,
                                    "contentType": "video/mp4"}}]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p3_upload_fanout", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=15, help="upload events per configuration")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args(argv)

    from handlers import bootstrap, on_upload
    from localcloud.bos.service import BosService
    from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
    from localcloud.faults import FaultConfig
    from localcloud.mct.testing import running_mct
    from localcloud.samples import make_sample_clip
    from localcloud.serve import serve_in_thread

    logging.disable(logging.WARNING)
    results = {}
    with tempfile.TemporaryDirectory(prefix="p3-fanout-") as tmp:
        faults = FaultConfig(api_latency_ms=args.latency_ms)
        # Scheduler off: jobs stay PENDING, no ffmpeg competes with the measurement.
        with running_mct(Path(tmp) / "mct", start=False, buckets=("uploads",), faults=faults) as mct:
            mct.client.create_pipeline("bench", "uploads", "uploads")
            clip = make_sample_clip(Path(tmp) / "clip.mp4", seconds=1, width=1920, height=1080)  # no rendition skipped
            keys = [f"in/upload{n}.mp4" for n in range(2 * args.events + 1)]
            etags = {key: mct.service.storage.put("uploads", key, clip.read_bytes()).etag for key in keys}
            # BOS over the same files, as in the cloud: the upload function checks each key's current version.
            bos = BosService(storage=mct.service.storage)
            bos_server = serve_in_thread(bos.app)
            env = {"BCE_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY, "BCE_ACCESS_KEY_SECRET": DEFAULT_SECRET_KEY}
            n = 0
            for mediainfo in (False, True):
                store_url = f"sqlite:///{tmp}/store-{int(mediainfo)}.sqlite3"
                cfg = config(mct.server.endpoint, store_url, mediainfo, bos_server.endpoint)
                deps = bootstrap.build_deps({**env, "AUTOTRANSCODE_CONFIG_JSON": json.dumps(cfg)})
                bootstrap.set_deps(deps)
                # One create_job round trip through the same client (connection set-up included, as in the handler).
                round_trips = []
                for i in range(args.events):
                    started = time.perf_counter()
                    deps.mct.create_job("bench", {"sourceKey": keys[-1]}, {"targetKey": f"rt/{i}.mp4",
                                                                            "presetName": PRESETS[0]})  # fmt: skip
                    round_trips.append(time.perf_counter() - started)
                on_upload.handler(
                    upload_event(keys[n], n, etags[keys[n]])
                )  # warm-up: first use of the pool and the store
                n += 1
                walls = []
                for _ in range(args.events - 1):
                    started = time.perf_counter()
                    summary = on_upload.handler(upload_event(keys[n], n, etags[keys[n]]))
                    walls.append(time.perf_counter() - started)
                    n += 1
                    if summary["submitted"] != TARGETS:
                        raise SystemExit(f"expected {TARGETS} submitted jobs, got {summary}")
                rt, wall = median(round_trips), median(walls)
                results[mediainfo] = {"ratio": wall / rt, "handler_ms": wall * 1000, "create_job_ms": rt * 1000}
                progress(f"mediainfo_check={mediainfo}: handler {wall * 1000:.1f} ms, one create_job "
                         f"{rt * 1000:.1f} ms, ratio {wall / rt:.2f}")  # fmt: skip
                bootstrap.set_deps(None)
                deps.store.dispose()
            bos_server.stop()
    head, with_mi = results[False], results[True]
    report(
        "p3_upload_fanout",
        {
            "ratio": round(head["ratio"], 3),
            "handler_ms": round(head["handler_ms"], 1),
            "create_job_round_trip_ms": round(head["create_job_ms"], 1),
            "ratio_with_mediainfo": round(with_mi["ratio"], 3),
            "handler_with_mediainfo_ms": round(with_mi["handler_ms"], 1),
            "targets": TARGETS,
            "api_latency_ms": args.latency_ms,
            "events": args.events,
            "store": "SQLite file",
        },
        target=f"ratio <= {TARGET_RATIO} (mediainfo_check off; on adds one round trip)",
        meets_target=head["ratio"] <= TARGET_RATIO,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
