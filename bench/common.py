"""What every benchmark shares: where results go, the shape they take, and the source clips they transcode."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).parent / "results"
# Generated sources are kept between runs (a 1080p clip costs more to make than to benchmark with).
CLIP_CACHE = Path(os.environ.get("AUTOTRANSCODE_BENCH_CACHE") or Path(tempfile.gettempdir()) / "autotranscode-bench")


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()}


def report(name: str, result: dict, target: str | None = None, meets_target: bool | None = None) -> dict:
    """Print ``result`` as JSON and write it to ``bench/results/<name>.json``.

    ``target`` is the goal in words (e.g. ``"ratio <= 1.03"``); ``meets_target`` whether this run reached it.
    """
    record = {"name": name, **result, "target": target, "meets_target": meets_target,
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(),
              "loadavg_1min": round(os.getloadavg()[0], 2)}  # fmt: skip
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record))
    return record


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def source_clip(seconds: float, width: int, height: int, fps: int = 30, x264_preset: str = "ultrafast",
                video_bitrate: str | None = None) -> Path:  # fmt: skip
    """A testsrc2 + sine H.264/AAC MP4 (keyframe every second), generated once and cached in ``CLIP_CACHE``.

    ``x264_preset="faster", video_bitrate="16M"`` decodes like a phone upload (High profile, CABAC, B-frames);
    the default ultrafast clip is the cheapest to decode.
    """
    from localcloud.ffmpeg import ffmpeg_path

    spec = f"{seconds:g}s-{width}x{height}-{fps}fps-{x264_preset}-{video_bitrate or 'crf'}"
    path = CLIP_CACHE / f"src-{spec}-{hashlib.sha1(spec.encode()).hexdigest()[:8]}.mp4"
    if path.exists():
        return path
    progress(f"generating source clip {spec} (cached in {CLIP_CACHE})")
    CLIP_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.mp4")
    argv = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}", "-ac", "2",
            "-c:v", "libx264", "-preset", x264_preset, "-pix_fmt", "yuv420p", "-g", str(fps)]  # fmt: skip
    if video_bitrate:
        argv += ["-b:v", video_bitrate]
    argv += ["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", "-t", str(seconds), str(tmp)]
    subprocess.run(argv, check=True, capture_output=True)
    tmp.replace(path)
    return path


def median(values: list[float]) -> float:
    return statistics.median(values)


def best_and_paired_ratio(times: list[float], baseline_times: list[float]) -> tuple[float, float]:
    """(best-of-N ratio, median of per-round ratios) of two sides measured in alternating rounds.

    Best of N on each side: other work on the machine only ever adds time, so the fastest run of each side is the
    closest to its true cost. The median of the per-round ratios is reported next to it.
    """
    best = min(times) / min(baseline_times)
    paired = median([t / b for t, b in zip(times, baseline_times, strict=True)])
    return best, paired


def wait_listening(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


class CallbackCatcher:
    """An HTTP endpoint for MCT completion callbacks: ``wait(job_id)`` returns when the job's callback arrived.

    Waiting for the callback (what autotranscode itself does) instead of polling get_job keeps the client from
    taking CPU away from ffmpeg while it measures ffmpeg.
    """

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        catcher = self
        self._cond = threading.Condition()
        self.arrived: dict[str, float] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                job_id = json.loads(json.loads(body)["messageBody"])["jobId"]
                with catcher._cond:
                    catcher.arrived.setdefault(job_id, time.perf_counter())
                    catcher._cond.notify_all()
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/callback"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait(self, job_id: str, timeout: float = 600) -> float:
        """perf_counter() time at which the callback for ``job_id`` arrived."""
        with self._cond:
            if not self._cond.wait_for(lambda: job_id in self.arrived, timeout):
                raise SystemExit(f"no completion callback for {job_id} within {timeout}s")
            return self.arrived[job_id]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
