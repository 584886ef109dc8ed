"""P2: shared decode. 4 renditions (1080p/720p/480p/360p) of one ~10 s 1080p source:
transcode_many (one ffmpeg process, one decode) vs 4 separate transcode calls, measured in the same run.

Prints JSON {"separate_s", "shared_s", "ratio", ...} (the median of --rounds rounds; wall-clock and CPU time)
and writes bench/results/p2_shared_decode.json. Target: ratio <= 0.75. Wall-clock ratios depend on how busy the
machine is (shared decode wins on both CPU work and on keeping every core busy); cpu_ratio is the steadier number.
Usage: python -m bench.p2_shared_decode [--seconds 10] [--rounds 3] [--source phone|light]  (or make bench)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `localcloud` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import progress, report, source_clip
from localcloud.mct.engine import ClipInput, TranscodeRequest, transcode, transcode_many
from localcloud.storage import LocalStorage

TARGET_RATIO = 0.75

# The upload being transcoded: "phone" is what users upload (1080p30, High profile with CABAC and B-frames,
# ~16 Mbps), so decoding it costs what it costs in real life; "light" is the cheapest-to-decode test clip.
SOURCES = {
    "phone": {"fps": 30, "x264_preset": "faster", "video_bitrate": "16M"},
    "light": {"fps": 25},
}
RENDITIONS = [(1920, 1080, 4_000_000), (1280, 720, 2_000_000), (854, 480, 1_000_000), (640, 360, 600_000)]


def presets() -> list[dict]:
    return [
        {
            "container": "mp4",
            "video": {"codec": "h264", "bitRateInBps": br, "maxWidthInPixel": w, "maxHeightInPixel": h},
            "audio": {"bitRateInBps": 128_000, "sampleRateInHz": 44100, "channels": 2},
        }
        for w, h, br in RENDITIONS
    ]


def requests(tag: str) -> list[TranscodeRequest]:
    return [
        TranscodeRequest(f"job-{tag}{n}", [ClipInput("src", "in.mp4")], "dst", f"{tag}/r{n}.mp4", p, [])
        for n, p in enumerate(presets())
    ]


def _timed(fn):
    """(wall seconds, CPU seconds of child processes, result) of fn()."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), result


def _dims(results) -> list[tuple[int, int]]:
    bad = [r for r in results if not hasattr(r, "output")]
    if bad:
        raise SystemExit(f"transcode failed: {bad}")
    return [(r.output["video"]["widthInPixel"], r.output["video"]["heightInPixel"]) for r in results]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p2_shared_decode", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each runs both modes, order alternating")
    parser.add_argument(
        "--source",
        choices=sorted(SOURCES),
        default="phone",
        help="phone: 1080p30 High profile 16 Mbps (decodes like an upload); light: ultrafast 25 fps (cheap to decode)",
    )
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalStorage(tmp)
        storage.create_bucket("src")
        storage.create_bucket("dst")
        clip = source_clip(args.seconds, 1920, 1080, **SOURCES[args.source])
        shutil.copyfile(clip, storage.object_path("src", "in.mp4"))
        for r in range(args.rounds):
            procs: list = []

            def separate(r=r):
                return [transcode(req, storage) for req in requests(f"sep{r}-")]

            def shared(r=r, procs=procs):
                return transcode_many(requests(f"shr{r}-"), storage, on_process=procs.append)

            # Alternate the order so background load and cache warmth do not favour one mode.
            if r % 2 == 0:
                sep, shr = _timed(separate), _timed(shared)
            else:
                shr, sep = _timed(shared), _timed(separate)
            if _dims(sep[2]) != _dims(shr[2]):
                raise SystemExit(f"renditions differ: {_dims(sep[2])} vs {_dims(shr[2])}")
            rounds.append({"separate_s": sep[0], "shared_s": shr[0], "separate_cpu_s": sep[1], "shared_cpu_s": shr[1],
                           "processes": len(procs)})  # fmt: skip
            ratio = shr[0] / sep[0]
            progress(f"round {r}: separate {sep[0]:.2f}s shared {shr[0]:.2f}s ratio {ratio:.3f}")
    mid = sorted(rounds, key=lambda x: x["shared_s"] / x["separate_s"])[len(rounds) // 2]  # the median round
    result = {
        "separate_s": round(mid["separate_s"], 3),
        "shared_s": round(mid["shared_s"], 3),
        "ratio": round(mid["shared_s"] / mid["separate_s"], 3),
        "cpu_ratio": round(mid["shared_cpu_s"] / mid["separate_cpu_s"], 3),
        "ratios_all_rounds": [round(x["shared_s"] / x["separate_s"], 3) for x in rounds],
        "separate_cpu_s": round(mid["separate_cpu_s"], 2),
        "shared_cpu_s": round(mid["shared_cpu_s"], 2),
        "ffmpeg_processes_shared": mid["processes"],
        "renditions": [f"{w}x{h}" for w, h, _ in RENDITIONS],
        "source": f"{args.source}: 1920x1080 {args.seconds:g}s testsrc2 h264+aac",
        "source_encoding": SOURCES[args.source],
        "loadavg_before": round(load_before, 2),
    }
    report("p2_shared_decode", result, f"ratio <= {TARGET_RATIO}", result["ratio"] <= TARGET_RATIO)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
