"""P1: what the MCT service adds around ffmpeg — one job API→SUCCESS vs the same ffmpeg argv run directly.

A clip is transcoded through the real path (MediaClient.create_job → scheduler → engine → ffmpeg → poll get_job
until SUCCESS). The ffmpeg argv the engine used is recorded (``on_process`` sees the Popen) and then run directly
with ``subprocess.run``. Each side is repeated and the medians compared: ratio = service / direct.

    python -m bench.p1_engine_overhead [--repeat 3] [--seconds 6]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import report

TARGET_RATIO = 1.10
PRESET = "bce.video_mp4_854x480_800kbps"


class RecordingEngine:
    """The real engine, recording the argv of every process it starts."""

    def __init__(self):
        import localcloud.mct.engine as engine

        self._engine = engine
        self.argvs: list[list[str]] = []

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def transcode_many(self, reqs, storage, on_process=None):
        def record(proc):
            self.argvs.append(list(proc.args))
            if on_process:
                on_process(proc)

        return self._engine.transcode_many(reqs, storage, on_process=record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p1_engine_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0, help="clip length")
    args = parser.parse_args(argv)

    from localcloud.mct.testing import running_mct
    from localcloud.samples import make_sample_clip

    with tempfile.TemporaryDirectory(prefix="p1-engine-") as tmp:
        clip = make_sample_clip(Path(tmp) / "clip.mp4", seconds=args.seconds, width=1280, height=720)
        engine = RecordingEngine()
        with running_mct(Path(tmp) / "data", buckets=("src", "dst"), engine=engine) as mct:
            mct.service.storage.put("src", "clip.mp4", clip.read_bytes())
            mct.client.create_pipeline("p1", "src", "dst")
            service_times, direct_times = [], []
            for i in range(args.repeat):
                engine.argvs.clear()
                started = time.perf_counter()
                job_id = mct.client.create_job(
                    "p1", {"sourceKey": "clip.mp4"}, {"targetKey": f"out{i}.mp4", "presetName": PRESET}
                ).job_id
                while True:
                    status = mct.client.get_job(job_id).job_status
                    if status in ("SUCCESS", "FAILED"):
                        break
                    time.sleep(0.005)
                service_times.append(time.perf_counter() - started)
                if status != "SUCCESS":
                    raise SystemExit(f"job {job_id} {status}: {mct.client.get_job(job_id).raw_data}")
                recorded = list(engine.argvs)
                for cmd in recorded:  # same argv; the engine removed its temp dir after committing the output
                    Path(cmd[-1]).parent.mkdir(parents=True, exist_ok=True)
                started = time.perf_counter()
                for cmd in recorded:
                    subprocess.run(cmd, check=True, capture_output=True)
                direct_times.append(time.perf_counter() - started)
                for cmd in recorded:
                    shutil.rmtree(Path(cmd[-1]).parent, ignore_errors=True)
    service_s = statistics.median(service_times)
    direct_s = statistics.median(direct_times)
    ratio = service_s / direct_s
    report(
        "p1_engine_overhead",
        {
            "ratio": round(ratio, 3),
            "service_seconds": round(service_s, 3),
            "direct_ffmpeg_seconds": round(direct_s, 3),
            "repeat": args.repeat,
            "clip": f"{args.seconds:g}s 1280x720 h264/aac",
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
