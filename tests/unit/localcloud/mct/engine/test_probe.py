"""The ffmpeg -i parser on captured outputs (no ffmpeg run here)."""

import pytest

from localcloud.mct.engine.probe import parse_ffmpeg_info
from localcloud.mct.engine.types import EngineError

MP4_ROTATED = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'r.mp4':
  Metadata:
    major_brand     : isom
    minor_version   : 512
    compatible_brands: isomiso2avc1mp41
    encoder         : Lavf63.1.102
  Duration: 00:00:02.00, start: 0.000000, bitrate: 796 kb/s
  Stream #0:0[0x1](und): Video: h264 (Constrained Baseline) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), \
1920x1080 [SAR 1:1 DAR 16:9], 720 kb/s, 29.97 fps, 29.97 tbr, 12800 tbn (default)
    Metadata:
      handler_name    : VideoHandler
      encoder         : Lavc63.1.102 libx264
    Side data:
      Display Matrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, 5.1(side), fltp, 384 kb/s (default)
    Metadata:
      handler_name    : SoundHandler
At least one output file must be specified
"""

MP3_WITH_COVER = """\
Input #0, mp3, from 'a.mp3':
  Metadata:
    encoder         : Lavf63.1.102
  Duration: 00:03:25.51, start: 0.025057, bitrate: 321 kb/s
  Stream #0:0: Audio: mp3 (mp3float), 44100 Hz, stereo, fltp, 320 kb/s
  Stream #0:1: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 500x500, 90k tbr, 90k tbn (attached pic)
At least one output file must be specified
"""

MKV_NTSC_LEGACY_ROTATE = """\
Input #0, matroska,webm, from 'z.mkv':
  Metadata:
    ENCODER         : Lavf63.1.102
  Duration: 00:00:01.00, start: 0.000000, bitrate: 815 kb/s
  Stream #0:0: Video: hevc (Main), yuv420p(tv, progressive), 320x240, 29.97 tbr, 1k tbn
    Metadata:
      rotate          : 270
      DURATION        : 00:00:01.001000000
  Stream #0:1: Audio: opus, 48000 Hz, mono, fltp
"""

FLV_NO_STREAM_BITRATE = """\
Input #0, flv, from 'f.flv':
  Metadata:
    encoder         : Lavf63.1.102
  Duration: 00:00:02.02, start: 0.000000, bitrate: 788 kb/s
  Stream #0:0: Video: h264 (Constrained Baseline), yuv420p(progressive), 320x240 [SAR 1:1 DAR 4:3], 25 fps, 25 tbr, \
1k tbn, start 0.023000
  Stream #0:1: Audio: aac (LC), 44100 Hz, mono, fltp, 64 kb/s
"""

M4A = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.m4a':
  Metadata:
    major_brand     : M4A
    minor_version   : 512
  Duration: 00:00:02.00, start: 0.000000, bitrate: 102 kb/s
  Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 22050 Hz, 4 channels, fltp, 96 kb/s (default)
"""

NOT_MEDIA = """\
[in#0 @ 0x564e31093cc0] Error opening input: Invalid data found when processing input
Error opening input file t.txt.
Error opening input files: Invalid data found when processing input
"""


def test_rotated_mp4_with_surround_audio():
    info = parse_ffmpeg_info(MP4_ROTATED, file_size=1234, suffix=".mp4")
    assert info["container"] == "mp4" and info["type"] == "video" and info["fileSizeInByte"] == 1234
    assert info["durationInSecond"] == 2 and info["durationInMillisecond"] == 2000
    v = info["video"]
    assert (v["codec"], v["widthInPixel"], v["heightInPixel"]) == ("h264", 1920, 1080)
    assert v["frameRate"] == 29.97 and v["bitRateInBps"] == 720000
    assert v["rotate"] == 90 and v["dar"] == "9:16"  # dar of the displayed (upright) picture
    assert info["audio"] == {"codec": "aac", "sampleRateInHz": 48000, "channels": 6, "bitRateInBps": 384000}


def test_mp3_cover_art_is_not_video():
    info = parse_ffmpeg_info(MP3_WITH_COVER, suffix=".mp3")
    assert info["type"] == "audio" and "video" not in info
    assert info["container"] == "mp3"
    assert info["durationInSecond"] == 206 and info["durationInMillisecond"] == 205510
    assert info["audio"]["channels"] == 2 and info["audio"]["bitRateInBps"] == 320000


def test_mkv_tbr_legacy_rotate_tag_and_no_bitrate():
    info = parse_ffmpeg_info(MKV_NTSC_LEGACY_ROTATE, suffix=".mkv")
    assert info["container"] == "mkv"
    v = info["video"]
    assert v["codec"] == "hevc" and v["frameRate"] == 29.97 and v["rotate"] == 270
    assert "bitRateInBps" not in v and v["dar"] == "3:4"
    assert info["audio"] == {"codec": "opus", "sampleRateInHz": 48000, "channels": 1}


def test_flv_and_m4a_containers():
    flv = parse_ffmpeg_info(FLV_NO_STREAM_BITRATE, suffix=".flv")
    assert flv["container"] == "flv" and flv["durationInMillisecond"] == 2020 and flv["video"]["frameRate"] == 25
    m4a = parse_ffmpeg_info(M4A, suffix="")
    assert m4a["container"] == "m4a" and m4a["audio"]["channels"] == 4 and m4a["audio"]["sampleRateInHz"] == 22050


@pytest.mark.parametrize("text", [NOT_MEDIA, "", "Input #0, tty, from 'x.txt':\n  Duration: 00:00:00.04, start: 0"])
def test_non_media_is_not_media(text):
    with pytest.raises(EngineError) as err:
        parse_ffmpeg_info(text)
    assert err.value.code == "NotMedia"
