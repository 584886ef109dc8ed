"""Thumbnail jobs on a tiny generated clip."""

import pytest

from localcloud.mct.engine import ClipInput, EngineError, ThumbnailRequest, probe_media, thumbnail
from localcloud.samples import make_sample_clip
from localcloud.storage import LocalStorage


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> LocalStorage:
    st = LocalStorage(tmp_path_factory.mktemp("thumbs"))
    st.create_bucket("src")
    st.create_bucket("dst")
    make_sample_clip(st.object_path("src", "in.mp4"), seconds=3, audio=False)
    make_sample_clip(st.object_path("src", "rot.mp4"), seconds=1, audio=False, rotate=90)
    make_sample_clip(st.object_path("src", "song.mp3"), seconds=1)
    return st


def job(prefix, fmt="jpg", policy="keep", w=200, h=200, rate=None, source="in.mp4", **capture):
    return ThumbnailRequest("job-th", ClipInput("src", source), "dst", prefix, fmt, policy, w, h, rate, capture)


def size(storage, key):
    video = probe_media(storage.object_path("dst", key))["video"]
    return video["widthInPixel"], video["heightInPixel"]


def test_auto_jpg_single_file(storage):
    result = thumbnail(job("t/auto"), storage)
    assert result.keys == ["t/auto.jpg"]
    assert storage.read_bytes("dst", "t/auto.jpg")[:3] == b"\xff\xd8\xff"
    assert size(storage, "t/auto.jpg") == (200, 150)


@pytest.mark.parametrize("policy, expected", [("keep", (200, 150)), ("shrinkToFit", (200, 200)),
                                              ("stretch", (200, 200))])  # fmt: skip
def test_sizing_policies(storage, policy, expected):
    result = thumbnail(job(f"t/{policy}", "png", policy), storage)
    assert size(storage, result.keys[0]) == expected


def test_portrait_rotated_source_stays_upright(storage):
    result = thumbnail(job("t/rot", source="rot.mp4"), storage)
    assert size(storage, result.keys[0]) == (150, 200)


def test_manual_mode_frames_at_interval(storage):
    result = thumbnail(
        job("t/man", "png", mode="manual", startTimeInSecond=0.5, endTimeInSecond=2.5, intervalInSecond=1), storage
    )
    assert result.keys == ["t/man_1.png", "t/man_2.png", "t/man_3.png"]
    blobs = [storage.read_bytes("dst", k) for k in result.keys]
    assert all(b[:8] == b"\x89PNG\r\n\x1a\n" for b in blobs) and len(set(blobs)) == 3  # different frames


def test_split_mode_webp_stills(storage):
    result = thumbnail(job("t/split", "webp", mode="split", frameNumber=4), storage)
    assert result.keys == [f"t/split_{n}.webp" for n in range(1, 5)]
    assert all(storage.read_bytes("dst", k)[8:12] == b"WEBP" for k in result.keys)


def test_animated_gif_and_webp_with_frame_rate(storage):
    gif = thumbnail(job("t/anim", "gif", rate=5), storage)
    assert gif.keys == ["t/anim.gif"]
    info = probe_media(storage.object_path("dst", "t/anim.gif"))
    assert info["container"] == "gif" and abs(info["durationInMillisecond"] - 3000) <= 250  # 15 frames at 5 fps
    webp = thumbnail(job("t/anim", "webp", rate=2, mode="split", frameNumber=6), storage)
    data = storage.read_bytes("dst", webp.keys[0])
    assert webp.keys == ["t/anim.webp"] and data[8:12] == b"WEBP" and data.count(b"ANMF") == 6


def test_mp4_thumbnail_is_a_short_clip_of_the_frames(storage):
    result = thumbnail(job("t/clip", "mp4", rate=2, mode="split", frameNumber=4), storage)
    assert result.keys == ["t/clip.mp4"]
    info = probe_media(storage.object_path("dst", "t/clip.mp4"))
    assert info["video"]["codec"] == "h264" and (info["video"]["widthInPixel"], info["video"]["heightInPixel"]) == (
        200,
        150,
    )
    assert abs(info["durationInMillisecond"] - 2000) <= 100  # 4 frames at 2 fps


def test_errors(storage):
    with pytest.raises(EngineError) as err:
        thumbnail(job("t/x", source="missing.mp4"), storage)
    assert (err.value.code, err.value.message) == ("SourceNotFound", "bos object: missing.mp4 does not exist")
    with pytest.raises(EngineError) as err:
        thumbnail(job("t/x", source="song.mp3"), storage)
    assert err.value.code == "NotMedia"
    with pytest.raises(EngineError) as err:
        thumbnail(job("t/x", "bmp"), storage)
    assert err.value.code == "InvalidPreset" and "target.format" in err.value.message
    with pytest.raises(EngineError):
        thumbnail(job("t/x", w=5), storage)
    assert not any(k.startswith("t/x") for k in storage.iter_keys("dst"))
    assert [p for p in storage.tmp_root.rglob("*") if p.name != "mct-engine"] == []
