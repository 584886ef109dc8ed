"""Crash hygiene of the MCT engine (issue 12, Deliver 5) on the real stack: a SIGKILL of `autotranscode up` while a job
transcodes leaves no ffmpeg running, and the next start removes the dead run's work folder and runs the job again.

`autotranscode up` runs as a subprocess with its own template and data dir; ffmpeg children are found through /proc.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.mct.testing import media_client
from localcloud.samples import make_sample_clip
from localcloud.storage import LocalStorage
from tests.integration.localcloud.cfc.test_runtime import TEMPLATE
from tests.waiting import wait_for

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds ffmpeg children through /proc")

REPO = Path(__file__).resolve().parents[4]
# A minute of video scaled up to 1080p keeps ffmpeg busy far longer than the bound it gets to die in once its
# parent is gone, so the test fails if ffmpeg outlives `autotranscode up`.
PRESET = "bce.video_mp4_1920x1080_3660kbps"
CLIP_SECONDS = 60
DIE_WITHIN_SECONDS = 3


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    found.append(int(child))
                    todo.append(int(child))
    return found


def is_ffmpeg_transcode(pid: int) -> bool:
    """A live (not zombie) ffmpeg that encodes video."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and b"ffmpeg" in argv[0] and b"-c:v" in argv


def ffmpeg_under(up) -> list[int]:
    return [p for p in descendants(up.proc.pid) if is_ffmpeg_transcode(p)]


class Up:
    """`autotranscode up` on ``data_dir`` with free ports; ``mct`` is a MediaClient for its MCT endpoint."""

    def __init__(self, data_dir: Path, log_path: Path):
        args = [sys.executable, "-m", "autotranscode.cli", "up", "--template", str(TEMPLATE), "--data-dir",
                str(data_dir), "--bos-port", "0", "--mct-port", "0", "--cfc-port", "0", "--no-watch"]  # fmt: skip
        self.log_path = log_path
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in close()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.started: list[int] = []
        match = wait_for(self._mct_endpoint, timeout=90, what="`autotranscode up` to print its MCT endpoint")
        self.mct = media_client(match)

    def _mct_endpoint(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"autotranscode up exited: {self.log_path.read_text()[-2000:]}")
        text = self.log_path.read_text(errors="replace")
        match = re.search(r"MediaClient endpoint='([^']+)'", text)
        return match.group(1) if match and "Ctrl-C stops" in text else None

    def close(self) -> None:
        """Stop it (Ctrl-C) if it still runs, then end any descendant left over (by pid, ours only)."""
        left = descendants(self.proc.pid) if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for pid in left + self.started:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self.log.close()


def test_sigkill_of_up_leaves_no_ffmpeg_and_the_next_start_cleans_up(tmp_path):
    clip = make_sample_clip(tmp_path / "clip.mp4", seconds=CLIP_SECONDS, width=640, height=360)
    data_dir = tmp_path / "data"
    work_root = data_dir / "tmp" / "mct-engine"
    first = Up(data_dir, tmp_path / "up1.log")
    try:
        storage = LocalStorage(data_dir)  # the same data dir: buckets are folders
        storage.create_bucket("crashbucket", exist_ok=True)
        storage.put("crashbucket", "crash/clip.mp4", clip.read_bytes())
        first.mct.create_pipeline("crashtest", "crashbucket", "crashbucket", pipeline_config={"capacity": 1})
        target = {"targetKey": "crash/out-1080.mp4", "presetName": PRESET}
        job_id = first.mct.create_job("crashtest", {"sourceKey": "crash/clip.mp4"}, target).job_id

        ffmpeg = wait_for(lambda: ffmpeg_under(first), timeout=60, what="ffmpeg to transcode")
        first.started = descendants(first.proc.pid)  # everything it started, to clean up after the test
        dead_run_folders = wait_for(lambda: list(work_root.iterdir()), timeout=10, what="the run's work folder")
        first.proc.kill()  # SIGKILL `autotranscode up` alone, not its process group
        first.proc.wait(10)

        wait_for(
            lambda: not any(is_ffmpeg_transcode(p) for p in ffmpeg),
            timeout=DIE_WITHIN_SECONDS,
            what="ffmpeg to die with up",
        )
        assert all(folder.exists() for folder in dead_run_folders)  # nothing ran in between to remove them
    finally:
        first.close()

    second = Up(data_dir, tmp_path / "up2.log")
    try:
        wait_for(
            lambda: not any(f.exists() for f in dead_run_folders), timeout=10, what="the dead run's work folder removed"
        )
        # The job the dead run left RUNNING runs again, in a new work folder (finishing it is
        # test_crash_restart's case).
        wait_for(
            lambda: [p for p in descendants(second.proc.pid) if is_ffmpeg_transcode(p)], timeout=60, what="ffmpeg again"
        )
        assert second.mct.get_job(job_id).job_status == "RUNNING"
        assert not LocalStorage(data_dir).exists("crashbucket", "crash/out-1080.mp4")  # never a partial object
    finally:
        second.close()
