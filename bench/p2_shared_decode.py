"""P2: shared decode. 4 renditions (1080p/720p/480p/360p) of one ~10 s 1080p source:
transcode_many (one ffmpeg process, one decode) vs 4 separate transcode calls, measured in the same run.

Prints JSON {"separate_s", "shared_s", "ratio", ...} and writes bench/results/p2_shared_decode.json.
Target: ratio <= 0.75.  Usage: .venv/bin/python bench/p2_shared_decode.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localcloud.mct.engine import ClipInput, TranscodeRequest, transcode, transcode_many
from localcloud.samples import make_sample_clip
from localcloud.storage import LocalStorage

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="alternate separate/shared this many times")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalStorage(tmp)
        storage.create_bucket("src")
        storage.create_bucket("dst")
        make_sample_clip(storage.object_path("src", "in.mp4"), seconds=args.seconds, width=1920, height=1080, fps=25)
        separate, shared, processes = [], [], []
        for r in range(args.rounds):
            t0 = time.perf_counter()
            sep = [transcode(req, storage) for req in requests(f"sep{r}-")]
            separate.append(time.perf_counter() - t0)
            procs: list = []
            t0 = time.perf_counter()
            many = transcode_many(requests(f"shr{r}-"), storage, on_process=procs.append)
            shared.append(time.perf_counter() - t0)
            processes.append(len(procs))
            bad = [x for x in many if not hasattr(x, "output")]
            if bad:
                raise SystemExit(f"shared run failed: {bad}")
            sizes_sep = [(x.output["video"]["widthInPixel"], x.output["video"]["heightInPixel"]) for x in sep]
            sizes_shr = [(x.output["video"]["widthInPixel"], x.output["video"]["heightInPixel"]) for x in many]
            assert sizes_sep == sizes_shr, (sizes_sep, sizes_shr)
    result = {
        "separate_s": round(min(separate), 3),
        "shared_s": round(min(shared), 3),
        "ratio": round(min(shared) / min(separate), 3),
        "renditions": [f"{w}x{h}" for w, h, _ in RENDITIONS],
        "source": f"1920x1080 25fps {args.seconds:g}s testsrc2 h264",
        "ffmpeg_processes_shared": max(processes),
        "rounds": args.rounds,
    }
    out = Path(__file__).resolve().parent / "results" / "p2_shared_decode.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
