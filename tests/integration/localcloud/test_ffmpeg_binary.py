import subprocess

from autotranscode.cli import main
from localcloud.ffmpeg import ffmpeg


def test_ffmpeg_is_found_and_runs_without_system_install():
    binary = ffmpeg()
    assert binary.source in {"$AUTOTRANSCODE_FFMPEG", "PATH", "imageio-ffmpeg"}
    out = subprocess.run([binary.path, "-hide_banner", "-encoders"], capture_output=True, text=True, check=True)
    assert "libx264" in out.stdout and "aac" in out.stdout


def test_version_says_which_ffmpeg(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert "autotranscode" in out and ffmpeg().path in out
