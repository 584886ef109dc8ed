"""P7: what the pipeline adds around the transcodes of one upload, through the whole local stack.

``BosClient`` PUTs a 5 s 1280x720 clip into localcloud BOS → BOS event → ``handlers.on_upload`` (CFC worker
process; the example config: mediainfo check, 3 renditions + 1 thumbnail) → MCT jobs → ffmpeg → callbacks over
HTTP → ``handlers.on_notification`` (get_job, SQL) → the signed "upload done" event reaches a local receiver.
Uploads go one after another (a warm-up upload first, not counted). Per upload: overhead = time from the PUT's
answer to the done event's arrival minus the time during which at least one of the upload's ffmpeg processes ran
(the engine records each job's ffmpeg wall time). The rest is split into phases by the milestones seen in between
(time.time() in this process, which hosts BOS, MCT and the CFC runtime):

- event delivery: PUT answered → upload function invoked
- mediainfo: → MCT answered get_mediainfo (the source probe)
- create_job: → the last job created
- gather window: → the first job started (MCT's scheduler waits for sibling renditions)
- probes: → the last job marked done (ffmpeg excluded: probes of the outputs, commit, SQLite)
- callback: → the notification function invoked for the last job's callback
- verification: → MCT answered that invocation's get_job
- delivery: → the done event arrived (SQL, completion, signing, POST)

    python -m bench.p7_upload_overhead [--uploads 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from bench.common import median, progress, report, source_clip
from bench.fullstack import FullStack, union_length

TARGET_MEDIAN_S = 0.25
PHASES = ("event_delivery", "mediainfo", "create_job", "gather_window", "probes", "callback", "verification",
          "delivery")  # fmt: skip
TARGETS = [
    {"name": name, "preset": preset, "key": "transcoded/{dir}/{stem}/{target}.{ext}"}
    for name, preset in (
        ("720p", "bce.video_mp4_1280x720_2048kbps"),
        ("480p", "bce.video_mp4_854x480_800kbps"),
        ("360p", "bce.video_mp4_640x360_600kbps"),
    )  # fmt: skip
]
THUMBNAILS = [{"name": "poster", "key_prefix": "thumbnails/{dir}/{stem}/poster", "format": "jpg", "mode": "auto",
               "width": 320, "height": 180}]  # fmt: skip


def _job_of_callback(event: dict) -> str | None:
    try:
        return json.loads(json.loads(event["body"])["messageBody"])["jobId"]
    except (KeyError, TypeError, ValueError):
        return None


def analyse(fs: FullStack, key: str, put_at: float, done_at: float, event: dict) -> dict:
    """Overhead of one upload and its phases (seconds, ffmpeg time taken out of each)."""
    job_ids = [j["job_id"] for j in event["outputs"] + event["thumbnails"]]
    jobs = set(job_ids)
    tl = fs.timeline
    upload_start = min(s for name, ev, s, _ in tl.invocations
                       if name == "OnUpload" and ev["events"][0]["content"]["object"] == key)  # fmt: skip
    mediainfo_end = max((e for arg, _, _, e in tl.calls["media_info"] if arg == key), default=upload_start)
    created = [e for name in ("create_transcoding_job", "create_thumbnail_job")
               for _, job, _, e in tl.calls[name] if job in jobs]  # fmt: skip
    started = [s for arg, _, s, _ in tl.calls["mark_running"] if arg in jobs]
    finished = {arg: e for arg, _, _, e in tl.calls["mark_success"] if arg in jobs}
    last_job = max(finished, key=finished.get)
    notes = [(s, _job_of_callback(ev)) for name, ev, s, _ in tl.invocations
             if name == "OnNotification" and s <= done_at and _job_of_callback(ev) in jobs]  # fmt: skip
    note_start, note_job = max(notes)
    verified = max((e for name in ("get_transcoding_job", "get_thumbnail_job") for arg, _, s, e in tl.calls[name]
                    if arg == note_job and note_start <= s and e <= done_at), default=note_start)  # fmt: skip
    milestones = [put_at, upload_start, mediainfo_end, max(created), min(started), finished[last_job], note_start,
                  verified, done_at]  # fmt: skip
    for i in range(1, len(milestones)):  # clocks of one process, but keep the phases ordered and inside the span
        milestones[i] = min(max(milestones[i], milestones[i - 1]), done_at)
    runs = fs.ffmpeg_runs(job_ids)
    ffmpeg = union_length(runs, put_at, done_at)
    phases = {
        name: (b - a) - union_length(runs, a, b)
        for name, a, b in zip(PHASES, milestones[:-1], milestones[1:], strict=True)
    }
    total = done_at - put_at
    overhead = total - ffmpeg
    return {"total": total, "ffmpeg": ffmpeg, "overhead": overhead, "phases": phases, "ffmpeg_processes": len(runs)}


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p7_upload_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=10, help="uploads measured (after one warm-up upload)")
    parser.add_argument("--seconds", type=float, default=5.0, help="clip length")
    args = parser.parse_args(argv)

    clip = source_clip(args.seconds, 1280, 720)
    results = []
    with tempfile.TemporaryDirectory(prefix="p7-overhead-") as tmp, \
            FullStack(Path(tmp), TARGETS, THUMBNAILS) as fs:  # fmt: skip
        for n in range(-1, args.uploads):
            key = f"incoming/p7/upload{n + 1}.mp4"
            put_at = fs.put(key, clip)
            done_at, event = fs.receiver.wait_for(key, timeout=180)
            if event["status"] != "SUCCESS" or len(event["outputs"]) != len(TARGETS):
                raise SystemExit(f"upload {key} did not succeed: {json.dumps(event)[:2000]}")
            fs.wait_quiet()
            if n < 0:
                progress(f"warm-up upload: {done_at - put_at:.2f} s")
                continue
            r = analyse(fs, key, put_at, done_at, event)
            results.append(r)
            progress(f"upload {n}: {r['total']:.2f} s, ffmpeg {r['ffmpeg']:.2f} s, overhead {r['overhead']:.3f} s ("
                     + ", ".join(f"{k} {v * 1000:.0f}" for k, v in r["phases"].items()) + " ms)")  # fmt: skip
        duplicates = len(fs.receiver.arrivals) - len({k for _, k, _ in fs.receiver.arrivals})
    overheads = [r["overhead"] for r in results]
    med = median(overheads)
    report(
        "p7_upload_overhead",
        {
            "median_overhead_seconds": round(med, 3),
            "p90_overhead_seconds": round(p90(overheads), 3),
            "breakdown_median_ms": {k: round(median([r["phases"][k] for r in results]) * 1000, 1) for k in PHASES},
            "median_total_seconds": round(median([r["total"] for r in results]), 3),
            "median_ffmpeg_seconds": round(median([r["ffmpeg"] for r in results]), 3),
            "ffmpeg_processes_per_upload": results[0]["ffmpeg_processes"],
            "overheads_seconds": [round(o, 3) for o in overheads],
            "duplicate_done_events": duplicates,
            "uploads": args.uploads,
            "clip": f"{args.seconds:g}s 1280x720 30fps h264/aac; 3 renditions + 1 thumbnail",
        },
        target=f"median overhead <= {TARGET_MEDIAN_S} s per upload (end to end minus its ffmpeg)",
        meets_target=med <= TARGET_MEDIAN_S and duplicates == 0,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
