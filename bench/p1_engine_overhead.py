"""P1: what the MCT service adds around ffmpeg — one job API→SUCCESS vs the same ffmpeg argv run directly.

A 1080p 30 s clip is transcoded to 720p MP4 through the real path (MediaClient.create_job → scheduler → engine →
ffmpeg → the job's completion callback arrives; get_job then says SUCCESS). The ffmpeg argv the engine used is
recorded (``on_process`` sees the Popen) and run directly with ``subprocess.run``. Both sides run ``--repeat``
times, alternating which goes first, and ratio = best service run / best direct run (noise only adds time).

    python -m bench.p1_engine_overhead [--repeat 3] [--seconds 30]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.common import CallbackCatcher, best_and_paired_ratio, median, progress, report, source_clip

TARGET_RATIO = 1.03
PRESET = "bce.video_mp4_1280x720_2048kbps"


class RecordingEngine:
    """The real engine, recording the argv of every process it starts."""

    def __init__(self):
        import localcloud.mct.engine as engine

        self._engine = engine
        self.argvs: list[list[str]] = []
        self.lifetimes: list[tuple[float, float]] = []  # (start, end) perf_counter of every process

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def transcode_many(self, reqs, storage, on_process=None):
        def record(proc):
            self.argvs.append(list(proc.args))
            started = time.perf_counter()

            def watch():
                proc.wait()
                self.lifetimes.append((started, time.perf_counter()))

            threading.Thread(target=watch, daemon=True).start()
            if on_process:
                on_process(proc)

        return self._engine.transcode_many(reqs, storage, on_process=record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p1_engine_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0, help="clip length")
    args = parser.parse_args(argv)

    from localcloud.mct.testing import running_mct

    clip = source_clip(args.seconds, 1920, 1080)
    with tempfile.TemporaryDirectory(prefix="p1-engine-") as tmp:
        engine = RecordingEngine()
        catcher = CallbackCatcher()
        with running_mct(Path(tmp) / "data", buckets=("src", "dst"), engine=engine) as mct:
            shutil.copyfile(clip, mct.service.storage.object_path("src", "clip.mp4"))
            mct.client.create_pipeline("p1", "src", "dst")
            service_times, direct_times, outside_ffmpeg = [], [], []

            def service(i: int) -> None:
                engine.argvs.clear()
                engine.lifetimes.clear()
                started = time.perf_counter()
                target = {"targetKey": f"out{i}.mp4", "presetName": PRESET, "jobCfg": {"notification": catcher.url}}
                job_id = mct.client.create_job("p1", {"sourceKey": "clip.mp4"}, target).job_id
                service_times.append(catcher.wait(job_id) - started)
                # The service's own ffmpeg, same run: what the service adds around it, without the machine's noise.
                ffmpeg_s = max(e for _, e in engine.lifetimes) - min(s for s, _ in engine.lifetimes)
                outside_ffmpeg.append(service_times[-1] - ffmpeg_s)
                if (status := mct.client.get_job(job_id).job_status) != "SUCCESS":
                    raise SystemExit(f"job {job_id} {status}: {mct.client.get_job(job_id).raw_data}")

            def direct(recorded: list[list[str]]) -> None:
                for cmd in recorded:  # same argv; the engine removed its temp dir after committing the output
                    Path(cmd[-1]).parent.mkdir(parents=True, exist_ok=True)
                started = time.perf_counter()
                for cmd in recorded:
                    subprocess.run(cmd, check=True, capture_output=True, stdin=subprocess.DEVNULL)
                direct_times.append(time.perf_counter() - started)
                for cmd in recorded:
                    shutil.rmtree(Path(cmd[-1]).parent, ignore_errors=True)

            service(-1)  # warm-up (imports, first SDK connection) and the argv to replay
            recorded = list(engine.argvs)
            service_times.clear()
            outside_ffmpeg.clear()
            for i in range(args.repeat):
                # Alternate the order so background load and cache warmth do not favour one side.
                if i % 2:
                    direct(recorded)
                    service(i)
                else:
                    service(i)
                    direct(recorded)
                progress(f"round {i}: service {service_times[-1]:.2f}s direct {direct_times[-1]:.2f}s")
    catcher.close()
    service_s, direct_s = min(service_times), min(direct_times)
    ratio, paired = best_and_paired_ratio(service_times, direct_times)
    report(
        "p1_engine_overhead",
        {
            "ratio": round(ratio, 3),
            "ratio_median_of_rounds": round(paired, 3),
            "service_seconds": round(service_s, 3),
            "direct_ffmpeg_seconds": round(direct_s, 3),
            "overhead_seconds": round(service_s - direct_s, 3),
            # Same run, no noise: service time minus the lifetime of the ffmpeg it ran (API, queue, probe, commit,
            # callback), and service time / that ffmpeg's lifetime.
            "outside_ffmpeg_seconds": round(median(outside_ffmpeg), 3),
            "ratio_to_own_ffmpeg": round(
                median([t / (t - o) for t, o in zip(service_times, outside_ffmpeg, strict=True)]), 3
            ),
            "repeat": args.repeat,
            "clip": f"{args.seconds:g}s 1920x1080 30fps h264/aac",
            "preset": PRESET,
            "ffmpeg_processes_per_job": len(recorded),
            "service_runs": [round(t, 3) for t in service_times],
            "direct_runs": [round(t, 3) for t in direct_times],
        },
        target=f"ratio <= {TARGET_RATIO}",
        meets_target=ratio <= TARGET_RATIO,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
