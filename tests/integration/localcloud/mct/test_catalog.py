"""One preset catalog: every container the API accepts is one the engine writes (pcm included)."""

from __future__ import annotations

import pytest

from localcloud.mct import catalog
from localcloud.mct.engine import args as engine_args
from localcloud.mct.testing import running_mct, wait_for_job


def test_the_engine_has_an_encoder_for_every_codec_the_api_accepts():
    assert set(engine_args.AUDIO_ENCODERS) == set(catalog.AUDIO_CODECS)
    assert set(engine_args.VIDEO_ENCODERS) == set(catalog.VIDEO_CODECS)


@pytest.fixture
def stack(tmp_path):
    from localcloud.samples import make_sample_clip

    clip = make_sample_clip(tmp_path / "clip.mp4", seconds=1)
    with running_mct(tmp_path / "mct", buckets=("src", "dst")) as running:
        running.service.storage.put("src", "clip.mp4", clip.read_bytes())
        running.client.create_pipeline("p1", "src", "dst")
        yield running


def test_pcm_preset_gives_raw_samples_of_the_stated_layout(stack):
    client = stack.client
    client.create_preset("raw_pcm", "pcm", audio={"sampleRateInHz": 22050, "channels": 1, "pcmFormat": "s16le"})
    job_id = client.create_job(
        "p1", {"sourceKey": "clip.mp4"}, {"targetKey": "clip.pcm", "presetName": "raw_pcm"}
    ).job_id
    job = wait_for_job(client, job_id)
    assert job.job_status == "SUCCESS", job.raw_data
    assert (job.output.audio.sample_rate_in_hz, job.output.audio.channels) == (22050, 1)
    size = stack.service.storage.object_path("dst", "clip.pcm").stat().st_size
    assert abs(size - 22050 * 2) < 22050 * 2 * 0.1  # one second of 16-bit mono at 22.05 kHz


def test_unknown_pcm_format_is_refused_by_the_api(stack):
    from baidubce.exception import BceHttpClientError

    with pytest.raises(BceHttpClientError) as info:
        stack.client.create_preset("raw_pcm", "pcm", audio={"pcmFormat": "s99xx"})
    message = str(info.value.last_error)
    assert "audio.pcmFormat" in message and "'s99xx'" in message and "s16le" in message
