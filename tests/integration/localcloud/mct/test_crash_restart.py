"""Stopping the service mid-transcode kills ffmpeg, leaves nothing at the target key, and the job finishes after
the next start (reliability case: real ffmpeg, a few seconds)."""

from __future__ import annotations

import importlib.util
import time

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("localcloud.mct.engine") is None,
        reason="the MCT engine (localcloud.mct.engine) is not installed yet",
    ),
]


def test_stop_mid_job_then_restart_completes(tmp_path):
    from localcloud.mct.testing import running_mct, wait_for_job
    from localcloud.samples import make_sample_clip

    clip = make_sample_clip(tmp_path / "long.mp4", seconds=20, width=1280, height=720)
    with running_mct(tmp_path / "data", buckets=("src", "dst")) as first:
        first.service.storage.put("src", "long.mp4", clip.read_bytes())
        first.client.create_pipeline("p1", "src", "dst")
        target = {"targetKey": "out/long-1080.mp4", "presetName": "bce.video_mp4_1920x1080_3660kbps"}
        job_id = first.client.create_job("p1", {"sourceKey": "long.mp4"}, target).job_id
        deadline = time.monotonic() + 30
        while not first.service.scheduler.running_processes():  # ffmpeg is running
            assert time.monotonic() < deadline, "ffmpeg never started"
            time.sleep(0.02)
    # stopped (ffmpeg killed) while RUNNING
    with running_mct(tmp_path / "data", start=False) as second:
        assert second.client.get_job(job_id).job_status == "RUNNING"
        assert not second.service.storage.exists("dst", "out/long-1080.mp4")  # never a partial object
        second.service.start()
        job = wait_for_job(second.client, job_id, timeout=120)
        assert job.job_status == "SUCCESS", job.raw_data
        assert second.service.storage.exists("dst", "out/long-1080.mp4")
