"""Jobs really transcode: MediaClient → MCT service → scheduler → ffmpeg engine → output probed with ffmpeg."""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("localcloud.mct.engine") is None,
    reason="the MCT engine (localcloud.mct.engine) is not installed yet",
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from localcloud.samples import make_sample_clip

    return make_sample_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", seconds=2, width=320, height=240)


@pytest.fixture
def mct(tmp_path, clip):
    from localcloud.mct.testing import running_mct

    with running_mct(tmp_path, buckets=("src", "dst")) as running:
        running.service.storage.put("src", "videos/clip.mp4", clip.read_bytes())
        running.service.storage.put("src", "bad.mp4", b"not a video at all")
        running.client.create_pipeline("p1", "src", "dst")
        yield running


def probe(mct, bucket, key):
    from localcloud.mct.engine import probe_media

    return probe_media(mct.service.storage.object_path(bucket, key))


def test_job_reaches_success_with_requested_codec_size_duration(mct):
    from localcloud.mct.testing import wait_for_job

    client = mct.client
    client.create_preset(
        "small_mp4", "mp4", audio={"bitRateInBps": 64000, "sampleRateInHz": 44100, "channels": 1},
        video={"codec": "h264", "bitRateInBps": 200000, "maxWidthInPixel": 160, "maxHeightInPixel": 120},
    )  # fmt: skip
    job_id = client.create_job("p1", {"sourceKey": "videos/clip.mp4"}, {"targetKey": "out/small.mp4",
                                                                         "presetName": "small_mp4"}).job_id  # fmt: skip
    job = wait_for_job(client, job_id)
    assert job.job_status == "SUCCESS", job.raw_data
    assert job.start_time and job.end_time and job.start_time <= job.end_time
    assert job.output.video.width_in_pixel == 160 and job.output.video.height_in_pixel == 120
    info = probe(mct, "dst", "out/small.mp4")
    assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "aac"
    assert (info["video"]["widthInPixel"], info["video"]["heightInPixel"]) == (160, 120)
    assert info["audio"]["channels"] == 1
    assert abs(info["durationInMillisecond"] - 2000) < 300
    p = client.get_pipeline("p1")
    assert (p.job_status.success, p.job_status.total) == (1, 1)


def test_failed_job_carries_error(mct):
    from localcloud.mct.testing import wait_for_job

    job_id = mct.client.create_job(
        "p1", {"sourceKey": "bad.mp4"}, {"targetKey": "o.mp4", "presetName": "bce.video_mp4_854x480_800kbps"}
    ).job_id
    job = wait_for_job(mct.client, job_id)
    assert job.job_status == "FAILED"
    assert job.error.code and job.error.message
    assert not mct.service.storage.exists("dst", "o.mp4")  # nothing partial at the target key
    assert [j.job_id for j in mct.client.list_jobs("p1", job_status="FAILED").jobs] == [job_id]


def test_same_source_jobs_all_succeed(mct):
    """Several renditions of one source (the group path through transcode_many)."""
    from localcloud.mct.testing import wait_for_job

    ids = [
        mct.client.create_job(
            "p1", {"sourceKey": "videos/clip.mp4"}, {"targetKey": f"r/{preset}.out", "presetName": preset}
        ).job_id  # fmt: skip
        for preset in ("bce.video_mp4_640x360_600kbps", "bce.audio_mp3_128kbps", "bce.audio_m4a_128kbps")
    ]
    for job_id in ids:
        assert wait_for_job(mct.client, job_id).job_status == "SUCCESS"
    assert probe(mct, "dst", "r/bce.audio_mp3_128kbps.out")["audio"]["codec"] == "mp3"


def test_thumbnail_job_success(mct):
    from localcloud.mct.testing import wait_for_job

    job_id = mct.client.create_thumbnail_job(
        "p1", {"key": "videos/clip.mp4"}, target={"keyPrefix": "thumbs/clip", "format": "png",
                                                  "widthInPixel": 80, "heightInPixel": 60, "sizingPolicy": "stretch"},
        capture={"mode": "manual", "startTimeInSecond": 0, "endTimeInSecond": 1, "intervalInSecond": 0.5},
    ).job_id  # fmt: skip
    job = wait_for_job(mct.client, job_id, thumbnail=True)
    assert job.job_status == "SUCCESS", job.raw_data
    keys = job.target.keys
    assert keys and all(k.startswith("thumbs/clip") and k.endswith(".png") for k in keys)
    for key in keys:
        assert mct.service.storage.exists("dst", key)


def test_mediainfo_of_a_clip(mct):
    info = mct.client.get_mediainfo_of_file("src", "videos/clip.mp4")
    assert (info.bucket, info.key, info.type) == ("src", "videos/clip.mp4", "video")
    assert info.etag == mct.service.storage.head("src", "videos/clip.mp4").etag
    assert (info.video.width_in_pixel, info.video.height_in_pixel) == (320, 240)
    assert info.duration_in_second == 2


def test_watermarked_job_succeeds(mct):
    from localcloud.mct.testing import wait_for_job
    from tests.integration.localcloud.mct.test_api import tiny_png

    mct.service.storage.put("src", "logo.png", tiny_png())
    wid = mct.client.create_watermark(
        "src", "logo.png", vertical_offset_in_pixel=4, hori_offset_in_pixel=4
    ).watermark_id
    target = {"targetKey": "wm.mp4", "presetName": "bce.video_mp4_640x360_600kbps", "watermarkIds": [wid]}
    job = wait_for_job(mct.client, mct.client.create_job("p1", {"sourceKey": "videos/clip.mp4"}, target).job_id)
    assert job.job_status == "SUCCESS", job.raw_data
    assert probe(mct, "dst", "wm.mp4")["video"]["codec"] == "h264"


def test_encrypted_hls_job_uses_the_served_key(mct):
    from localcloud.mct.testing import wait_for_job

    mct.client.create_preset(
        "enc_hls", "hls", audio={"bitRateInBps": 64000}, video={"bitRateInBps": 200000, "maxWidthInPixel": 160},
        encryption={"strategy": "PlayerBinding"},
    )  # fmt: skip
    target = {"targetKey": "hls/index.m3u8", "presetName": "enc_hls"}
    job_id = mct.client.create_job("p1", {"sourceKey": "videos/clip.mp4"}, target).job_id
    key = mct.client.get_transcoding_encryption_key(job_id).encryption_key
    job = wait_for_job(mct.client, job_id)
    assert job.job_status == "SUCCESS", job.raw_data
    playlist = mct.service.storage.read_bytes("dst", "hls/index.m3u8").decode()
    assert "#EXT-X-KEY:METHOD=AES-128" in playlist
    assert len(key) == 16


def test_finished_jobs_record_when_their_ffmpeg_ran(mct):
    """The job's internal record keeps the wall-clock span of its ffmpeg processes (P7 subtracts them)."""
    import time

    from localcloud.mct.testing import wait_for_job

    before = time.time()
    job_id = mct.client.create_job(
        "p1", {"sourceKey": "videos/clip.mp4"}, {"targetKey": "o.mp4", "presetName": "bce.video_mp4_640x360_600kbps"}
    ).job_id
    thumb_id = mct.client.create_thumbnail_job("p1", {"key": "videos/clip.mp4"}).job_id
    assert wait_for_job(mct.client, job_id).job_status == "SUCCESS"
    assert wait_for_job(mct.client, thumb_id, thumbnail=True).job_status == "SUCCESS"
    after = time.time()
    for jid in (job_id, thumb_id):
        runs = mct.service.backend.job_row(jid).internal["ffmpegRuns"]
        assert runs and all(before <= start < end <= after for start, end in runs)
    assert "ffmpegRuns" not in mct.client.get_job(job_id).raw_data  # never on the wire
