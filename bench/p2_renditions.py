"""P2: four renditions of one upload THROUGH THE SERVICE vs four separate ffmpeg runs.

A 1080p source that decodes like a phone upload (30 fps, High profile, 16 Mbps) gets 1080p/720p/480p/360p MP4
renditions: four ``create_job`` calls with the real MediaClient on one pipeline, timed until the completion
callbacks of all four arrived (then get_job says SUCCESS).
The scheduler's gather window groups them, and the engine's shared-decode path runs them as ONE ffmpeg process
(decode once, scale in a cascade, four encoders). The baseline runs the argv the engine uses for each rendition
alone (recorded in a warm-up, one job at a time through the service) directly, one after another.
Rounds alternate which side goes first; ratio = best service run / best run of the four separate runs.

    python -m bench.p2_renditions [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import CallbackCatcher, best_and_paired_ratio, median, progress, report, source_clip
from bench.p1_engine_overhead import RecordingEngine

TARGET_RATIO = 0.75
PRESETS = [
    "bce.video_mp4_1920x1080_3660kbps",
    "bce.video_mp4_1280x720_2048kbps",
    "bce.video_mp4_854x480_800kbps",
    "bce.video_mp4_640x360_600kbps",
]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p2_renditions", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="source length")
    parser.add_argument("--no-gather", action="store_true", help="turn the scheduler's gather window off (before)")
    args = parser.parse_args(argv)
    if args.no_gather:
        from localcloud.mct import scheduler

        scheduler.GATHER_QUIET_SECONDS = scheduler.GATHER_MAX_SECONDS = 0.0

    from localcloud.mct.testing import running_mct

    clip = source_clip(args.seconds, 1920, 1080, fps=30, x264_preset="faster", video_bitrate="16M")
    with tempfile.TemporaryDirectory(prefix="p2-renditions-") as tmp:
        engine = RecordingEngine()
        catcher = CallbackCatcher()
        with running_mct(Path(tmp) / "data", buckets=("src", "dst"), engine=engine) as mct:
            shutil.copyfile(clip, mct.service.storage.object_path("src", "upload.mp4"))
            mct.client.create_pipeline("p2", "src", "dst")

            def wait_all(job_ids: list[str]) -> float:
                """perf_counter() when the last of the jobs' callbacks arrived."""
                done = 0.0
                for job_id in job_ids:
                    done = max(done, catcher.wait(job_id))
                    if (status := mct.client.get_job(job_id).job_status) != "SUCCESS":
                        raise SystemExit(f"job {job_id} {status}: {mct.client.get_job(job_id).raw_data}")
                return done

            def create(tag: str, preset: str) -> str:
                target = {"targetKey": f"{tag}/{preset}.mp4", "presetName": preset,
                          "jobCfg": {"notification": catcher.url}}  # fmt: skip
                return mct.client.create_job("p2", {"sourceKey": "upload.mp4"}, target).job_id

            # Warm-up: each rendition alone through the service, recording the argv ffmpeg runs for it.
            singles: list[list[str]] = []
            started = time.perf_counter()
            for preset in PRESETS:
                engine.argvs.clear()
                wait_all([create("single", preset)])
                singles += engine.argvs
            one_by_one_s = time.perf_counter() - started
            progress(f"warm-up: 4 jobs one at a time through the service {one_by_one_s:.2f}s")

            service_times, service_cpu, processes, direct_times, direct_cpu = [], [], [], [], []

            def service(r: int) -> None:
                engine.argvs.clear()
                cpu, started = _children_cpu(), time.perf_counter()
                done = wait_all([create(f"round{r}", preset) for preset in PRESETS])
                service_times.append(done - started)
                service_cpu.append(_children_cpu() - cpu)
                processes.append(len(engine.argvs))

            def direct() -> None:
                for cmd in singles:  # same argv; the engine removed its temp dirs after committing the outputs
                    Path(cmd[-1]).parent.mkdir(parents=True, exist_ok=True)
                cpu, started = _children_cpu(), time.perf_counter()
                for cmd in singles:
                    subprocess.run(cmd, check=True, capture_output=True, stdin=subprocess.DEVNULL)
                direct_times.append(time.perf_counter() - started)
                direct_cpu.append(_children_cpu() - cpu)
                for cmd in singles:
                    shutil.rmtree(Path(cmd[-1]).parent, ignore_errors=True)

            for r in range(args.rounds):
                if r % 2:  # alternate the order so background load does not favour one side
                    direct()
                    service(r)
                else:
                    service(r)
                    direct()
                progress(f"round {r}: service (4 jobs, {processes[-1]} ffmpeg) {service_times[-1]:.2f}s, "
                         f"4 separate ffmpeg runs {direct_times[-1]:.2f}s")  # fmt: skip
    catcher.close()
    service_s, direct_s = min(service_times), min(direct_times)
    ratio, paired = best_and_paired_ratio(service_times, direct_times)
    report(
        "p2_renditions",
        {
            "ratio": round(ratio, 3),
            "ratio_median_of_rounds": round(paired, 3),
            "service_seconds": round(service_s, 3),
            "separate_ffmpeg_seconds": round(direct_s, 3),
            "cpu_ratio": round(median(service_cpu) / median(direct_cpu), 3),
            "ffmpeg_processes_service": max(processes),
            "gather_window": not args.no_gather,
            "service_one_job_at_a_time_seconds": round(one_by_one_s, 3),
            "rounds": args.rounds,
            "service_runs": [round(t, 3) for t in service_times],
            "separate_runs": [round(t, 3) for t in direct_times],
            "renditions": PRESETS,
            "source": f"{args.seconds:g}s 1920x1080 30fps h264 High 16 Mbps + aac",
        },
        target=f"ratio <= {TARGET_RATIO} (one ffmpeg process)",
        meets_target=ratio <= TARGET_RATIO and max(processes) == 1,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
