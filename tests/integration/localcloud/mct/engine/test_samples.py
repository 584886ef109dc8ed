import subprocess

from localcloud.ffmpeg import ffmpeg_path
from localcloud.samples import make_sample_clip


def _describe(path) -> str:
    return subprocess.run([ffmpeg_path(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def test_default_clip_is_small_h264_aac_mp4(tmp_path):
    out = make_sample_clip(tmp_path / "clip.mp4")
    info = _describe(out)
    assert "Duration: 00:00:02.00" in info
    assert "Video: h264" in info and "320x240" in info and "25 fps" in info
    assert "Audio: aac" in info and "stereo" in info


def test_portrait_and_h265_and_no_audio(tmp_path):
    info = _describe(make_sample_clip(tmp_path / "p.mp4", portrait=True, codec="h265", audio=False, seconds=1))
    assert "Video: hevc" in info and "240x320" in info
    assert "Audio:" not in info


def test_rotation_tag_and_audio_only(tmp_path):
    assert "rotation of -90.00 degrees" in _describe(make_sample_clip(tmp_path / "r.mp4", rotate=90, seconds=1))
    info = _describe(make_sample_clip(tmp_path / "a.mp3", seconds=1))
    assert "Audio: mp3" in info and "Video:" not in info
