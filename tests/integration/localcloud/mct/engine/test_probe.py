"""probe_media on generated clips (real ffmpeg)."""

import pytest

from localcloud.mct.engine import EngineError, probe_media
from localcloud.samples import make_sample_clip


def test_mp4_clip(tmp_path):
    path = make_sample_clip(tmp_path / "a.mp4", seconds=1)
    info = probe_media(path)
    assert info["fileSizeInByte"] == path.stat().st_size and info["container"] == "mp4" and info["type"] == "video"
    assert info["durationInSecond"] == 1 and abs(info["durationInMillisecond"] - 1000) <= 30
    v = info["video"]
    assert (v["codec"], v["widthInPixel"], v["heightInPixel"], v["frameRate"], v["rotate"], v["dar"]) == (
        "h264",
        320,
        240,
        25,
        0,
        "4:3",
    )
    assert v["bitRateInBps"] > 10_000
    assert info["audio"]["codec"] == "aac" and info["audio"]["channels"] == 2
    assert info["audio"]["sampleRateInHz"] == 44100 and info["audio"]["bitRateInBps"] > 1000


@pytest.mark.parametrize(
    "name, kwargs, expected",
    [
        ("r.mp4", {"rotate": 270}, {"rotate": 270, "widthInPixel": 320, "dar": "3:4"}),
        ("p.mp4", {"portrait": True}, {"rotate": 0, "widthInPixel": 240, "heightInPixel": 320, "dar": "3:4"}),
        ("h.mp4", {"codec": "h265", "fps": 30}, {"codec": "hevc", "frameRate": 30}),
        ("f.flv", {}, {"codec": "h264", "widthInPixel": 320}),
    ],
)
def test_video_variants(tmp_path, name, kwargs, expected):
    info = probe_media(make_sample_clip(tmp_path / name, seconds=1, **kwargs))
    assert {k: info["video"][k] for k in expected} == expected


def test_audio_only_and_non_media(tmp_path):
    info = probe_media(make_sample_clip(tmp_path / "a.mp3", seconds=1))
    assert info["type"] == "audio" and info["container"] == "mp3" and "video" not in info
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(EngineError) as err:
        probe_media(junk)
    assert (err.value.code, err.value.message) == ("NotMedia", "Get media info failed with errno: 1001")
    with pytest.raises(EngineError) as err:
        probe_media(tmp_path / "missing.mp4")
    assert err.value.code == "SourceNotFound"


def test_probe_answers_for_the_current_object_and_cannot_be_changed_by_callers(tmp_path):
    # Probes are remembered per file version: an object replaced by rename (as storage commits) is probed again.
    path = make_sample_clip(tmp_path / "in.mp4", seconds=1, width=320, height=240)
    first = probe_media(path)
    first["video"]["widthInPixel"] = 1  # a caller changing its copy
    assert probe_media(path)["video"]["widthInPixel"] == 320
    make_sample_clip(tmp_path / "new.mp4", seconds=1, width=640, height=480).replace(path)
    assert probe_media(path)["video"]["widthInPixel"] == 640
