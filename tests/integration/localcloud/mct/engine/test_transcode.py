"""The MCT engine really transcodes tiny generated clips with ffmpeg into a LocalStorage."""

from __future__ import annotations

import subprocess

import pytest

from localcloud.ffmpeg import ffmpeg_path
from localcloud.mct.engine import (
    ClipInput,
    EngineError,
    TranscodeRequest,
    probe_media,
    transcode,
    transcode_many,
)
from localcloud.samples import make_sample_clip
from localcloud.storage import LocalStorage

KEY = "abcdefghij123456"


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> LocalStorage:
    st = LocalStorage(tmp_path_factory.mktemp("engine"))
    st.create_bucket("src")
    st.create_bucket("dst")
    make_sample_clip(st.object_path("src", "in.mp4"), seconds=2)
    make_sample_clip(st.object_path("src", "portrait.mp4"), seconds=1, portrait=True)
    make_sample_clip(st.object_path("src", "rotated.mp4"), seconds=1, rotate=90)
    st.put("src", "notes.txt", b"hello, I am not a video\n" * 10)
    wm = st.object_path("src", "logo.png")
    subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=40x30", "-frames:v", "1",
         str(wm)],
        check=True,
    )  # fmt: skip
    return st


def req(target, preset, source="in.mp4", watermarks=(), key=None, **clip):
    return TranscodeRequest("job-t", [ClipInput("src", source, **clip)], "dst", target, preset, list(watermarks), key)


def probe(storage, key):
    return probe_media(storage.object_path("dst", key).resolve())


def rgb_frame(path, at=0.5) -> tuple[bytes, int, int]:
    info = probe_media(path)
    w, h = info["video"]["widthInPixel"], info["video"]["heightInPixel"]
    raw = subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert len(raw) == w * h * 3
    return raw, w, h


def region_mean(raw, w, x0, y0, x1, y1) -> tuple[float, float, float]:
    sums, n = [0, 0, 0], 0
    for y in range(y0, y1):
        row = raw[(y * w + x0) * 3 : (y * w + x1) * 3]
        for c in range(3):
            sums[c] += sum(row[c::3])
        n += x1 - x0
    return tuple(s / n for s in sums)


VIDEO = {"codec": "h264", "bitRateInBps": 300_000, "maxWidthInPixel": 160, "maxHeightInPixel": 160}
AUDIO = {"bitRateInBps": 64_000, "sampleRateInHz": 22050, "channels": 1}


@pytest.mark.parametrize(
    "container, target, vcodec, acodec, extra_suffixes",
    [
        ("mp4", "out/a.mp4", "h264", "aac", []),
        ("flv", "out/a.flv", "h264", "aac", []),
        ("hls", "out/h.m3u8", "h264", "aac", [".ts"]),
        ("dash", "out/d.mpd", "h264", "aac", [".m4s"]),
        ("mp3", "out/a.mp3", None, "mp3", []),
        ("m4a", "out/a.m4a", None, "aac", []),
        ("a-hls", "out/ah.m3u8", None, "aac", [".ts"]),
    ],
)
def test_each_container_produces_the_right_files(storage, container, target, vcodec, acodec, extra_suffixes):
    preset = {"container": container, "audio": AUDIO, "extraCfg": {"segmentDurationInSecond": 1}}
    if vcodec:
        preset["video"] = VIDEO
    result = transcode(req(target, preset), storage)
    assert result.keys[0] == target
    assert all(storage.exists("dst", k) for k in result.keys)
    assert sorted({k[k.rfind(".") :] for k in result.keys[1:]}) == extra_suffixes
    if container == "hls":
        assert len(result.keys) >= 3  # playlist + a segment per second
    info = probe(storage, target)
    assert info["durationInSecond"] == 2
    assert info["audio"]["codec"] == acodec and info["audio"]["sampleRateInHz"] == 22050
    assert info["audio"]["channels"] == 1 and result.output["audio"] == {"sampleRateInHz": 22050, "channels": 1}
    out = result.output
    assert out["video"]["durationInSeconds"] == 2 and out["video"]["sizeInKiloByte"] > 1
    assert float(out["bitRateInKBps"]) > 10 and isinstance(out["bitRateInKBps"], str)
    if vcodec:
        assert info["video"]["codec"] == vcodec
        assert (out["video"]["widthInPixel"], out["video"]["heightInPixel"]) == (160, 120)
        assert out["video"]["frameRate"] == 25
    else:
        assert "video" not in info
    if container == "mp4":
        assert out["video"]["mp4MoovSize"] > 100
        data = storage.read_bytes("dst", target)
        assert data.index(b"moov") < data.index(b"mdat")  # +faststart


def test_h265_and_frame_rate_cap(storage):
    preset = {"container": "mp4", "video": {"codec": "h265", "maxFrameRate": 10, "maxWidthInPixel": 160}}
    result = transcode(req("out/h265.mp4", preset), storage)
    info = probe(storage, "out/h265.mp4")
    assert info["video"]["codec"] == "hevc" and info["video"]["frameRate"] == 10
    assert "audio" not in info  # a preset without an audio section drops audio
    assert result.output["video"]["frameRate"] == 10


@pytest.mark.parametrize(
    "policy, box, expected",
    [("keep", (200, 100), (132, 100)), ("shrinkToFit", (200, 100), (200, 100)), ("stretch", (200, 100), (200, 100)),
     ("keep", (640, 480), (320, 240))],
)  # fmt: skip
def test_sizing_policies(storage, policy, box, expected):
    preset = {"container": "mp4", "video": {"maxWidthInPixel": box[0], "maxHeightInPixel": box[1],
                                            "sizingPolicy": policy}}  # fmt: skip
    result = transcode(req(f"out/size-{policy}-{box[0]}.mp4", preset), storage)
    assert (result.output["video"]["widthInPixel"], result.output["video"]["heightInPixel"]) == expected


def test_shrink_to_fit_pads_with_black_bars(storage):
    preset = {"container": "mp4", "video": {"maxWidthInPixel": 200, "maxHeightInPixel": 100,
                                            "sizingPolicy": "shrinkToFit"}}  # fmt: skip
    transcode(req("out/bars.mp4", preset), storage)
    raw, w, h = rgb_frame(storage.object_path("dst", "out/bars.mp4"))
    assert max(region_mean(raw, w, 0, 0, 30, h)) < 40  # left bar is black
    assert max(region_mean(raw, w, 80, 0, 120, h)) > 40  # the picture is in the middle


@pytest.mark.parametrize("source", ["portrait.mp4", "rotated.mp4"])
def test_portrait_sources_keep_their_orientation(storage, source):
    preset = {"container": "mp4", "video": {"maxWidthInPixel": 160, "maxHeightInPixel": 160}}
    result = transcode(req(f"out/{source}", preset, source=source), storage)
    assert (result.output["video"]["widthInPixel"], result.output["video"]["heightInPixel"]) == (120, 160)
    preset["video"].update(maxWidthInPixel=1280, maxHeightInPixel=720, autoAdjustResolution=True)
    result = transcode(req(f"out/auto-{source}", preset, source=source), storage)
    assert (result.output["video"]["widthInPixel"], result.output["video"]["heightInPixel"]) == (240, 320)


def test_preset_clip_and_job_clip(storage):
    preset = {"container": "mp4", "video": VIDEO, "audio": AUDIO, "clip": {"startTimeInSecond": 0.5,
                                                                           "durationInSecond": 1}}  # fmt: skip
    transcode(req("out/clip.mp4", preset), storage)
    assert abs(probe(storage, "out/clip.mp4")["durationInMillisecond"] - 1000) <= 80
    plain = {"container": "mp4", "video": VIDEO, "audio": AUDIO}
    transcode(req("out/jobclip.mp4", plain, start_s=1.0, duration_s=0.6), storage)
    assert abs(probe(storage, "out/jobclip.mp4")["durationInMillisecond"] - 600) <= 80


def test_two_clips_are_joined(storage):
    preset = {"container": "mp4", "video": VIDEO, "audio": AUDIO}
    r = TranscodeRequest("job-c", [ClipInput("src", "in.mp4", 0, 1), ClipInput("src", "portrait.mp4")], "dst",
                         "out/joined.mp4", preset, [])  # fmt: skip
    result = transcode(r, storage)
    assert abs(probe(storage, "out/joined.mp4")["durationInMillisecond"] - 2000) <= 100
    assert (result.output["video"]["widthInPixel"], result.output["video"]["heightInPixel"]) == (160, 120)


def test_transmux_copies_streams(storage):
    result = transcode(req("out/copy.flv", {"container": "flv", "transmux": True}), storage)
    info = probe(storage, "out/copy.flv")
    assert info["container"] == "flv" and info["video"]["widthInPixel"] == 320 and info["audio"]["codec"] == "aac"
    assert result.output["video"]["widthInPixel"] == 320


def test_watermark_lands_in_the_requested_corner(storage):
    preset = {"container": "mp4", "video": {"bitRateInBps": 2_000_000}}
    wm = {"bucket": "src", "key": "logo.png", "horizontalAlignment": "right", "verticalAlignment": "bottom",
          "horizontalOffsetInPixel": 10, "verticalOffsetInPixel": 5}  # fmt: skip
    transcode(req("out/plain.mp4", preset), storage)
    transcode(req("out/marked.mp4", preset, watermarks=[wm]), storage)
    plain, w, h = rgb_frame(storage.object_path("dst", "out/plain.mp4"))
    marked, _, _ = rgb_frame(storage.object_path("dst", "out/marked.mp4"))
    # The logo (40x30, red) sits 10 px from the right and 5 px from the bottom of the 320x240 frame.
    r, g, b = region_mean(marked, w, w - 10 - 35, h - 5 - 25, w - 10 - 5, h - 5 - 5)
    assert r > 180 and g < 80 and b < 80
    assert region_mean(marked, w, 5, 5, 40, 30) == pytest.approx(region_mean(plain, w, 5, 5, 40, 30), abs=12)
    # Outside its timeline the watermark is not drawn.
    wm_late = dict(wm, timeline={"startTimeInMillisecond": 1500, "durationInMillisecond": 400})
    transcode(req("out/late.mp4", preset, watermarks=[wm_late]), storage)
    late, _, _ = rgb_frame(storage.object_path("dst", "out/late.mp4"), at=0.5)
    assert region_mean(late, w, w - 45, h - 30, w - 15, h - 10) == pytest.approx(
        region_mean(plain, w, w - 45, h - 30, w - 15, h - 10), abs=15
    )


def test_hls_aes128_segments_need_the_key(storage, tmp_path):
    preset = {"container": "hls", "video": VIDEO, "audio": AUDIO, "encryption": {"strategy": "Fixed"},
              "extraCfg": {"segmentDurationInSecond": 1}}  # fmt: skip
    result = transcode(req("enc/e.m3u8", preset, key=KEY), storage)
    playlist = storage.read_bytes("dst", "enc/e.m3u8").decode()
    key_line = next(line for line in playlist.splitlines() if line.startswith("#EXT-X-KEY"))
    assert "METHOD=AES-128" in key_line and KEY not in playlist
    assert not any(k.endswith(".key") for k in result.keys)  # the key itself is never published
    iv = key_line.split("IV=0x")[1][:32] if "IV=0x" in key_line else "0" * 32
    segment = storage.object_path("dst", result.keys[1])
    with pytest.raises(EngineError):  # encrypted bytes are not media without the key
        probe_media(segment)
    decrypted = probe_media_crypto(segment, KEY.encode().hex(), iv)
    assert "Video: h264" in decrypted and "160x120" in decrypted
    assert result.output["video"]["widthInPixel"] == 160


def probe_media_crypto(path, key_hex, iv_hex) -> str:
    return subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-key", key_hex, "-iv", iv_hex, "-i", f"crypto:{path}"],
        capture_output=True, text=True,
    ).stderr  # fmt: skip


# Valid for MCT, but libmp3lame cannot encode 96 kHz: fails only when ffmpeg runs.
MP3_96K = {"container": "mp3", "audio": {"bitRateInBps": 128_000, "sampleRateInHz": 96000}}
RENDITIONS = [(320, 240), (256, 192), (160, 120), (128, 96)]


def rendition_presets():
    return [{"container": "mp4", "video": {"maxWidthInPixel": w, "maxHeightInPixel": h}, "audio": {}}
            for w, h in RENDITIONS]  # fmt: skip


def test_shared_decode_matches_separate_runs_with_one_process(storage):
    separate = [transcode(req(f"sep/{n}.mp4", p), storage) for n, p in enumerate(rendition_presets())]
    procs = []
    shared = transcode_many([req(f"shr/{n}.mp4", p) for n, p in enumerate(rendition_presets())], storage,
                            on_process=procs.append)  # fmt: skip
    assert len(procs) == 1
    dims = [(r.output["video"]["widthInPixel"], r.output["video"]["heightInPixel"]) for r in shared]
    assert dims == [(r.output["video"]["widthInPixel"], r.output["video"]["heightInPixel"]) for r in separate]
    assert dims == RENDITIONS
    assert [r.keys for r in shared] == [[f"shr/{n}.mp4"] for n in range(4)]
    for n in range(4):
        assert probe(storage, f"shr/{n}.mp4")["audio"]["codec"] == "aac"


def test_shared_decode_isolates_bad_requests(storage):
    presets = rendition_presets()
    runtime_bad = MP3_96K
    reqs = [req("iso/0.mp4", presets[0]), req("iso/bad.mp3", runtime_bad), req("iso/2.mp4", presets[2]),
            req("iso/missing.mp4", presets[3], source="nope.mp4"),
            req("iso/invalid.mp4", {"container": "mp4", "video": {"codec": "vp9"}}),
            req("iso/tm.flv", {"container": "flv", "transmux": True})]  # fmt: skip
    procs = []
    results = transcode_many(reqs, storage, on_process=procs.append)
    assert [type(r).__name__ for r in results] == [
        "TranscodeResult", "EngineError", "TranscodeResult", "EngineError", "EngineError", "TranscodeResult"
    ]  # fmt: skip
    assert results[1].code == "TranscodeFailed"
    assert results[3].code == "SourceNotFound" and results[4].code == "InvalidPreset"
    assert not storage.exists("dst", "iso/bad.mp3")
    # combined run (3 outputs) failed -> 3 separate runs, plus the transmux job alone
    assert len(procs) == 1 + 3 + 1


def test_failures_give_engine_errors_and_leave_nothing(storage):
    preset = {"container": "mp4", "video": VIDEO}
    with pytest.raises(EngineError) as err:
        transcode(req("fail/a.mp4", preset, source="missing.mp4"), storage)
    assert (err.value.code, err.value.message) == ("SourceNotFound", "bos object: missing.mp4 does not exist")
    with pytest.raises(EngineError) as err:
        transcode(req("fail/b.mp4", preset, source="notes.txt"), storage)
    assert err.value.code == "NotMedia"
    with pytest.raises(EngineError) as err:
        transcode(req("fail/c.mp3", MP3_96K), storage)
    assert err.value.code == "TranscodeFailed" and err.value.message
    with pytest.raises(EngineError) as err:
        transcode(req("fail/d.mp4", preset, watermarks=[{"bucket": "src", "key": "nologo.png"}]), storage)
    assert err.value.code == "SourceNotFound" and "nologo.png" in err.value.message
    assert not any(k.startswith("fail/") for k in storage.iter_keys("dst"))
    assert [p for p in storage.tmp_root.rglob("*") if p.name != "mct-engine"] == []  # work folders always removed


def test_on_process_sees_a_killable_process(storage):
    preset = {"container": "mp4", "video": VIDEO}
    with pytest.raises(EngineError) as err:
        transcode(req("kill/a.mp4", preset), storage, on_process=lambda p: p.kill())
    assert err.value.code == "TranscodeFailed" and "signal" in err.value.message
    assert not storage.exists("dst", "kill/a.mp4")


def test_shared_decode_with_watermarks_and_encryption(storage):
    wm = {"bucket": "src", "key": "logo.png", "horizontalAlignment": "right", "verticalAlignment": "bottom"}
    marked = {"container": "mp4", "video": {"bitRateInBps": 2_000_000}}
    small = {"container": "mp4", "video": {"maxWidthInPixel": 160}}
    enc = {"container": "hls", "video": {"maxWidthInPixel": 160}, "audio": {}, "encryption": {"strategy": "Fixed"}}
    reqs = [req("mix/marked.mp4", marked, watermarks=[wm]), req("mix/small.mp4", small, watermarks=[wm]),
            req("mix/enc.m3u8", enc, key=KEY), req("mix/plain.mp4", marked)]  # fmt: skip
    procs = []
    results = transcode_many(reqs, storage, on_process=procs.append)
    assert len(procs) == 1 and all(hasattr(r, "output") for r in results)
    frame, w, h = rgb_frame(storage.object_path("dst", "mix/marked.mp4"))
    r, g, b = region_mean(frame, w, w - 35, h - 25, w - 5, h - 5)
    assert r > 180 and g < 80 and b < 80
    frame, w, h = rgb_frame(storage.object_path("dst", "mix/small.mp4"))
    assert (w, h) == (160, 120)
    r, g, b = region_mean(frame, w, w - 35, h - 25, w - 5, h - 5)  # the logo keeps its pixel size
    assert r > 180 and g < 80 and b < 80
    plain, w, h = rgb_frame(storage.object_path("dst", "mix/plain.mp4"))
    assert region_mean(plain, w, w - 35, h - 25, w - 5, h - 5)[1] > 80  # no logo there
    playlist = storage.read_bytes("dst", "mix/enc.m3u8").decode()
    assert "METHOD=AES-128" in playlist
    with pytest.raises(EngineError):
        probe_media(storage.object_path("dst", results[2].keys[1]))


def test_killed_shared_run_is_not_retried(storage):
    procs = []

    def kill(proc):
        procs.append(proc)
        proc.kill()

    results = transcode_many([req(f"killed/{n}.mp4", p) for n, p in enumerate(rendition_presets())], storage, kill)
    assert len(procs) == 1  # stopping means stopping: no one-by-one retry
    assert all(isinstance(r, EngineError) and "signal" in r.message for r in results)
    assert not any(k.startswith("killed/") for k in storage.iter_keys("dst"))


def test_missing_target_bucket(storage):
    r = TranscodeRequest("job-t", [ClipInput("src", "in.mp4")], "no-such-bucket", "a.mp4", {"container": "mp4"}, [])
    with pytest.raises(EngineError) as err:
        transcode(r, storage)
    assert err.value.code == "TranscodeFailed" and "no-such-bucket" in err.value.message
