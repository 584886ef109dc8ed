"""preset -> ffmpeg argv (pure; nothing is run)."""

from pathlib import Path

import pytest

from localcloud.mct.engine.args import (
    OutputSpec,
    SourceSpec,
    WatermarkSpec,
    effective_clips,
    even,
    output_frame_rate,
    overlay_enable,
    overlay_position,
    plan_transcode,
    target_size,
)
from localcloud.mct.engine.types import EngineError

HD = {
    "container": "mp4",
    "durationInMillisecond": 10000,
    "video": {"codec": "h264", "widthInPixel": 1920, "heightInPixel": 1080, "frameRate": 30, "rotate": 0},
    "audio": {"codec": "aac", "sampleRateInHz": 48000, "channels": 2},
}
SILENT = {"container": "mp4", "video": dict(HD["video"])}


def src(info=HD, start=None, dur=None, path="/in/a.mp4"):
    return SourceSpec(path, info, start, dur)


def out(preset, name="out.mp4", n=0, **kw):
    return OutputSpec(preset, Path(f"/tmp/o{n}"), name, aux_dir=Path(f"/tmp/x{n}"), job_id="job-1", **kw)


def plan(preset, sources=None, name="out.mp4", **kw):
    return plan_transcode(sources or [src()], [out(preset, name, **kw)], ffmpeg="ffmpeg", threads=2)


def opt(argv, flag):
    return argv[argv.index(flag) + 1]


def graph(argv):
    return opt(argv, "-filter_complex") if "-filter_complex" in argv else ""


# ----- sizes and rates -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "src_size, box, policy, expected",
    [
        ((1920, 1080), (1280, 720), "keep", (1280, 720, 1280, 720)),
        ((1920, 1080), (854, 480), "keep", (852, 480, 852, 480)),  # even, aspect kept
        ((320, 240), (1280, 720), "keep", (320, 240, 320, 240)),  # never upscale
        ((1920, 1080), (640, None), "keep", (640, 360, 640, 360)),  # one side only
        ((1080, 1920), (1280, 720), "keep", (404, 720, 404, 720)),  # portrait fits inside a landscape box
        ((1920, 1080), (640, 640), "shrinkToFit", (640, 360, 640, 640)),  # padded to the box
        ((320, 240), (640, 480), "shrinkToFit", (320, 240, 640, 480)),  # not enlarged, just padded
        ((1920, 1080), (641, 479), "stretch", (640, 478, 640, 478)),  # exact box, even
        ((1921, 1081), (None, None), "keep", (1920, 1080, 1920, 1080)),
    ],
)
def test_target_size(src_size, box, policy, expected):
    assert target_size(*src_size, *box, policy) == expected


def test_auto_adjust_turns_the_box_for_portrait_sources():
    assert target_size(1080, 1920, 1280, 720, "keep", auto_adjust=True) == (720, 1280, 720, 1280)


def test_even_and_frame_rate_cap():
    assert [even(x) for x in (1, 3, 5.4, 853.3, 854)] == [2, 2, 4, 852, 854]
    assert output_frame_rate(60, 30) == 30
    assert output_frame_rate(25, 30) is None  # never raised above the source
    assert output_frame_rate(None, 30) == 30
    assert output_frame_rate(30, None) is None


def test_invalid_sizing_policy_names_the_field():
    with pytest.raises(EngineError) as err:
        target_size(100, 100, 50, 50, "squash")
    assert err.value.code == "InvalidPreset" and "video.sizingPolicy" in err.value.message


# ----- containers --------------------------------------------------------------------------------------------
def test_mp4_h264_defaults():
    argv = plan(
        {
            "container": "mp4",
            "video": {
                "bitRateInBps": 2_000_000,
                "maxWidthInPixel": 1280,
                "maxHeightInPixel": 720,
                "codecOptions": {"profile": "main"},
            },
            "audio": {"bitRateInBps": 128000, "sampleRateInHz": 44100, "channels": 1},
        }
    ).argv
    assert argv[0] == "ffmpeg" and argv.count("-i") == 1 and argv[-1] == "/tmp/o0/out.mp4"
    assert opt(argv, "-c:v") == "libx264" and opt(argv, "-preset") == "veryfast"
    assert opt(argv, "-profile:v") == "main" and opt(argv, "-b:v") == "2000000" and opt(argv, "-threads") == "2"
    assert opt(argv, "-movflags") == "+faststart" and opt(argv, "-f") == "mp4"
    assert opt(argv, "-c:a") == "aac" and opt(argv, "-b:a") == "128000"
    assert opt(argv, "-ar") == "44100" and opt(argv, "-ac") == "1"
    assert "scale=1280:720" in graph(argv) and "fps=" not in graph(argv)


def test_frame_rate_cap_only_when_source_is_faster():
    assert "fps=25" in graph(plan({"container": "mp4", "video": {"maxFrameRate": 25}}).argv)
    assert "fps=" not in graph(plan({"container": "mp4", "video": {"maxFrameRate": 60}}).argv)
    assert "fps=30000/1001" in graph(plan({"container": "mp4", "video": {"maxFrameRate": 29.97}}).argv)


def test_h265_and_flv_codec_rules():
    argv = plan({"container": "mp4", "video": {"codec": "h265"}}).argv
    assert opt(argv, "-c:v") == "libx265" and opt(argv, "-tag:v") == "hvc1"
    with pytest.raises(EngineError) as err:
        plan({"container": "flv", "video": {"codec": "h265"}}, name="o.flv")
    assert "video.codec" in err.value.message
    assert opt(plan({"container": "flv", "video": {}, "audio": {}}, name="o.flv").argv, "-f") == "flv"


def test_hls_segments_and_keyframes():
    p = plan(
        {"container": "hls", "video": {}, "audio": {}, "extraCfg": {"segmentDurationInSecond": 6.66}}, name="movie.m3u8"
    )
    argv = p.argv
    assert opt(argv, "-f") == "hls" and opt(argv, "-hls_time") == "6.66"
    assert opt(argv, "-hls_segment_filename") == "/tmp/o0/movie-%05d.ts"
    assert opt(argv, "-force_key_frames") == "expr:gte(t,n_forced*6.66)"
    assert p.main_files == [Path("/tmp/o0/movie.m3u8")] and not p.aux_files


def test_hls_aes128_writes_key_and_keyinfo():
    p = plan(
        {"container": "hls", "video": {}, "audio": {}, "encryption": {"strategy": "Fixed"}},
        name="movie.m3u8",
        aes_key=b"abcdefghij123456",
    )
    info_file = Path(opt(p.argv, "-hls_key_info_file"))
    assert p.aux_files[Path("/tmp/x0/movie.key")] == b"abcdefghij123456"
    uri, key_path = p.aux_files[info_file].decode().splitlines()
    assert uri == "/v3/transcoding/key/job-1" and key_path == "/tmp/x0/movie.key"
    with pytest.raises(EngineError) as err:
        plan({"container": "hls", "video": {}, "encryption": {"strategy": "Fixed"}}, name="m.m3u8")
    assert "encryption.aesKey" in err.value.message
    with pytest.raises(EngineError):
        plan({"container": "mp4", "video": {}, "encryption": {"strategy": "Fixed"}}, aes_key=b"a" * 16)


def test_dash_manifest_and_segment_names():
    argv = plan({"container": "dash", "video": {}, "audio": {}}, name="m.mpd").argv
    assert opt(argv, "-f") == "dash" and opt(argv, "-seg_duration") == "10"
    assert opt(argv, "-init_seg_name") == "m-init-$RepresentationID$.m4s"
    assert opt(argv, "-adaptation_sets") == "id=0,streams=v id=1,streams=a"


@pytest.mark.parametrize(
    "container, codec, fmt", [("mp3", "libmp3lame", "mp3"), ("m4a", "aac", "mp4"), ("a-hls", "aac", "hls")]
)
def test_audio_only_containers_drop_video(container, codec, fmt):
    argv = plan({"container": container, "audio": {"bitRateInBps": 64000}}, name="a.x").argv
    assert "-vn" in argv and opt(argv, "-c:a") == codec and opt(argv, "-f") == fmt
    assert "-c:v" not in argv and "split" not in graph(argv)


def test_audio_only_container_needs_source_audio():
    with pytest.raises(EngineError) as err:
        plan({"container": "mp3", "audio": {}}, sources=[src(SILENT)], name="a.mp3")
    assert err.value.code == "TranscodeFailed"


def test_video_only_source_gives_video_only_output():
    argv = plan({"container": "mp4", "video": {}, "audio": {}}, sources=[src(SILENT)]).argv
    assert "-an" in argv and "-c:a" not in argv


@pytest.mark.parametrize(
    "preset, field",
    [
        ({"container": "avi"}, "container"),
        ({"container": "mp4", "video": {"codecOptions": {"profile": "baseline1"}}}, "video.codecOptions.profile"),
        ({"container": "mp4", "video": {"bitRateInBps": 10}}, "video.bitRateInBps"),
        ({"container": "mp4", "audio": {"sampleRateInHz": 12345}}, "audio.sampleRateInHz"),
        ({"container": "mp4", "audio": {"channels": 6}}, "audio.channels"),
        ({"container": "mp3", "audio": {"codec": "aac"}}, "audio.codec"),
    ],
)
def test_invalid_presets_name_the_field(preset, field):
    with pytest.raises(EngineError) as err:
        plan(preset)
    assert err.value.code == "InvalidPreset" and field in err.value.message


# ----- clips, transmux, watermarks ---------------------------------------------------------------------------
def test_preset_clip_folds_into_the_job_clip():
    srcs, rng = effective_clips([src(start=2, dur=5)], {"clip": {"startTimeInSecond": 1, "durationInSecond": 10}})
    assert (srcs[0].start_s, srcs[0].duration_s, rng) == (3, 4, (0.0, None))
    argv = plan({"container": "mp4", "video": {}, "clip": {"startTimeInSecond": 1, "durationInSecond": 2}}).argv
    i = argv.index("-i")
    assert argv[i - 4 : i] == ["-ss", "1", "-t", "2"]


def test_several_clips_are_concatenated():
    argv = plan(
        {"container": "mp4", "video": {}, "audio": {}}, sources=[src(start=1, dur=2), src(SILENT, path="/in/b.mp4")]
    ).argv
    assert argv.count("-i") == 2
    g = graph(argv)
    assert "concat=n=2:v=1:a=1" in g and "anullsrc" in g  # the silent clip gets a silent track


def test_transmux_is_stream_copy_without_filters():
    argv = plan({"container": "flv", "transmux": True}, name="o.flv").argv
    assert opt(argv, "-c") == "copy" and "-filter_complex" not in argv
    with pytest.raises(EngineError) as err:
        plan(
            {"container": "flv", "transmux": True},
            name="o.flv",
            watermarks=[WatermarkSpec("/wm.png", {"watermarkId": "wmk-1"})],
        )
    assert "Transmux" in err.value.message


def test_watermark_overlay_position_and_timeline():
    wm = {
        "horizontalAlignment": "right",
        "verticalAlignment": "bottom",
        "horizontalOffsetInPixel": 10,
        "verticalOffsetInPixel": 20,
        "timeline": {"startTimeInMillisecond": 1000, "durationInMillisecond": 500},
    }
    assert overlay_position(wm) == ("main_w-overlay_w-10", "main_h-overlay_h-20")
    assert overlay_position({}) == ("0", "0")
    assert overlay_enable(wm) == "between(t\\,1\\,1.5)"
    argv = plan({"container": "mp4", "video": {}}, watermarks=[WatermarkSpec("/wm.png", wm)]).argv
    assert argv.count("-i") == 2 and "/wm.png" in argv
    assert "[1:v:0]overlay=x=main_w-overlay_w-10:y=main_h-overlay_h-20" in graph(argv)
    with pytest.raises(EngineError):
        overlay_position({"horizontalAlignment": "middle"})


def test_shared_decode_plan_reads_the_source_once():
    presets = [{"container": "mp4", "video": {"maxHeightInPixel": h}, "audio": {}} for h in (1080, 720, 480, 360)]
    outs = [out(p, f"r{n}.mp4", n) for n, p in enumerate(presets)]
    p = plan_transcode([src()], outs, threads=2)
    assert p.argv.count("-i") == 1
    g = graph(p.argv)
    assert "split=4" in g and "asplit=4" in g and "scale=640:360" in g and "scale=1280:720" in g
    assert [str(m) for m in p.main_files] == [f"/tmp/o{n}/r{n}.mp4" for n in range(4)]
    assert [a for a in p.argv if a.endswith(".mp4") and a.startswith("/tmp")] == [str(m) for m in p.main_files]


def test_shared_decode_cascades_scaling_from_the_nearest_larger_size():
    sizes = [(1280, 720), (640, 360), (1920, 1080), (854, 480), (640, 360)]
    presets = [{"container": "mp4", "video": {"maxWidthInPixel": w, "maxHeightInPixel": h}} for w, h in sizes]
    g = graph(plan_transcode([src()], [out(p, f"r{n}.mp4", n) for n, p in enumerate(presets)]).argv)
    chains = g.split(";")
    scales = [c for c in chains if "scale=" in c]
    assert len(scales) == 3  # 1080p needs none; the two 360p outputs share one scale
    assert scales[0].startswith("[vs") and "scale=1280:720" in scales[0]  # from the source
    assert scales[1].startswith("[vn0s") and "scale=852:480" in scales[1]  # from 720p
    assert scales[2].startswith("[vn1s") and "scale=640:360" in scales[2]  # from 480p


def test_clip_starting_after_the_end_of_the_source_is_rejected():
    with pytest.raises(EngineError) as err:
        plan({"container": "mp4", "video": {}}, sources=[src(start=10)])
    assert "clips[].startTimeInSecond=10" in err.value.message
    with pytest.raises(EngineError) as err:
        plan({"container": "mp4", "video": {}, "clip": {"startTimeInSecond": 4}}, sources=[src(start=7)])
    assert "clip.startTimeInSecond=11" in err.value.message and "10 s" in err.value.message


def test_segment_names_are_safe_in_playlists():
    argv = plan({"container": "hls", "video": {}}, name="my clip 50%$.m3u8").argv
    assert argv[-1] == "/tmp/o0/my clip 50%$.m3u8"  # the playlist keeps the target key's name
    assert opt(argv, "-hls_segment_filename") == "/tmp/o0/my_clip_50__-%05d.ts"
