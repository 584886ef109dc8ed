"""P8: a burst of uploads through the whole local stack, against the same ffmpeg work run directly.

8 threads PUT N uploads of a 2 s 320x240 clip at once with ``BosClient`` (the example config with one rendition,
no thumbnail); every upload goes BOS event → upload function → MCT → ffmpeg → callback → notification function
→ "upload done" event at a local receiver. All N done events must arrive, none twice (counted once the stack is
idle), or the run fails. ratio = the stack's wall time from the first PUT to the last done event / the ffmpeg argvs
the engine ran for those uploads, run directly by a pool of one worker per core, in the same run (stack first, then
direct). Memory: the peak RSS of this process tree (this process hosts BOS, MCT and the CFC runtime; the function
instances and ffmpeg are its children), sampled every 0.25 s, for a small and the full burst, each on a fresh
stack: it should grow less than linearly with the burst.

    python -m bench.p8_burst [--uploads 200] [--small 50] [--quick]   (--quick: 60 and 20)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import progress, report, source_clip
from bench.fullstack import FullStack, RssSampler, tree_cpu_seconds, tree_rss_bytes

TARGET_RATIO = 1.2
TARGET_RSS_MB = 600
PUT_THREADS = 8
TARGETS = [{"name": "360p", "preset": "bce.video_mp4_640x360_600kbps", "key": "transcoded/{dir}/{stem}/{target}.{ext}"}]
MB = 1024 * 1024


def burst(uploads: int, clip: Path, tmp: Path) -> dict:
    with FullStack(tmp, TARGETS, [], record_argv=True) as fs:
        idle_python, idle_other = tree_rss_bytes()
        keys = [f"incoming/p8/upload{n:04d}.mp4" for n in range(uploads)]
        cpu_before = tree_cpu_seconds()
        with RssSampler() as rss:
            started = time.time()
            with ThreadPoolExecutor(PUT_THREADS) as pool:
                put_done = max(pool.map(lambda key: fs.put(key, clip), keys))
            if not fs.receiver.wait_for_count(set(keys), timeout=60 + uploads * 2):
                missing = set(keys) - {k for _, k, _ in fs.receiver.arrivals}
                raise SystemExit(f"{len(missing)} of {uploads} done events missing, e.g. {sorted(missing)[:3]}")
            last = max(t for t, _, _ in fs.receiver.arrivals)
            fs.wait_quiet()  # then a duplicate would have arrived
        cpu = {k: v - cpu_before[k] for k, v in tree_cpu_seconds().items()}
        arrivals = [k for _, k, _ in fs.receiver.arrivals]
        failed = [e["upload"]["key"] for _, _, e in fs.receiver.arrivals if e["status"] != "SUCCESS"]
        result = {
            "stack_seconds": last - started,
            "put_seconds": put_done - started,
            "duplicates": len(arrivals) - len(set(arrivals)),
            "unexpected": len(set(arrivals) - set(keys)) + fs.receiver.invalid,
            "failed": len(failed),
            "argvs": list(fs.argvs),
            "peak_rss_mb": rss.peak_total / MB,
            "peak_rss_python_mb": rss.peak_python / MB,
            "idle_rss_mb": (idle_python + idle_other) / MB,
            "cpu_seconds_python": cpu["python"],  # BOS, MCT, CFC, the functions (and this benchmark's PUTs)
            "cpu_seconds_ffmpeg": cpu["ffmpeg"],  # transcodes and probes
        }
    return result


def direct(argvs: list[list[str]]) -> tuple[float, float]:
    """The same ffmpeg argvs, one worker per core; outputs into fresh directories (the engine's are gone)."""
    for argv in argvs:
        Path(argv[-1]).parent.mkdir(parents=True, exist_ok=True)

    def run(argv):
        subprocess.run(argv, check=True, capture_output=True, stdin=subprocess.DEVNULL)

    started, cpu = time.time(), os.times()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(run, argvs))
    after = os.times()
    return time.time() - started, after.children_user + after.children_system - cpu.children_user - cpu.children_system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p8_burst", description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200, help="uploads in the burst")
    parser.add_argument("--small", type=int, default=50, help="uploads in the small burst (memory growth)")
    parser.add_argument("--quick", action="store_true", help="60 and 20 uploads")
    args = parser.parse_args(argv)
    if args.quick:
        args.uploads, args.small = 60, 20

    clip = source_clip(2, 320, 240)
    runs = {}
    for size in (args.small, args.uploads):
        with tempfile.TemporaryDirectory(prefix=f"p8-burst{size}-") as tmp:
            progress(f"burst of {size} uploads through the stack ...")
            r = burst(size, clip, Path(tmp))
            progress(f"  stack {r['stack_seconds']:.1f} s (PUTs {r['put_seconds']:.1f} s), {len(r['argvs'])} ffmpeg "
                     f"processes; peak RSS {r['peak_rss_mb']:.0f} MB; running them directly ...")  # fmt: skip
            r["direct_seconds"], r["cpu_seconds_direct"] = direct(r["argvs"])
            r["ratio"] = r["stack_seconds"] / r["direct_seconds"]
            r["ffmpeg_processes"] = len(r.pop("argvs"))
            progress(f"  direct {r['direct_seconds']:.1f} s, ratio {r['ratio']:.3f}; CPU s: stack python "
                     f"{r['cpu_seconds_python']:.1f}, stack ffmpeg {r['cpu_seconds_ffmpeg']:.1f}, "
                     f"direct {r['cpu_seconds_direct']:.1f}")  # fmt: skip
            runs[size] = r
    big, small = runs[args.uploads], runs[args.small]
    growth = big["peak_rss_mb"] / small["peak_rss_mb"]
    linear = args.uploads / args.small
    complete = all(r["duplicates"] == 0 and r["unexpected"] == 0 and r["failed"] == 0 for r in runs.values())
    rss_ok = big["peak_rss_mb"] <= TARGET_RSS_MB and growth < linear
    report(
        "p8_burst",
        {
            "ratio": round(big["ratio"], 3),
            "stack_seconds": round(big["stack_seconds"], 2),
            "direct_seconds": round(big["direct_seconds"], 2),
            "peak_rss_mb": round(big["peak_rss_mb"], 1),
            "rss_growth": round(growth, 3),
            "rss_growth_if_linear": round(linear, 3),
            "runs": {
                str(k): {m: round(v, 3) if isinstance(v, float) else v for m, v in r.items()} for k, r in runs.items()
            },  # fmt: skip
            "uploads": args.uploads,
            "put_threads": PUT_THREADS,
            "clip": "2s 320x240 30fps h264/aac; 1 rendition (bce.video_mp4_640x360_600kbps)",
        },
        target=f"ratio <= {TARGET_RATIO}, all done events once; peak RSS <= {TARGET_RSS_MB} MB, sublinear growth",
        meets_target=complete and big["ratio"] <= TARGET_RATIO and rss_ok,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
