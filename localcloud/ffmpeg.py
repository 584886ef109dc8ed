"""The one place that decides which ffmpeg binary localcloud runs.

Order: ``$AUTOTRANSCODE_FFMPEG`` (explicit path) → ``ffmpeg`` on PATH → the binary shipped inside the
``imageio-ffmpeg`` wheel (so a fresh machine without root or system ffmpeg still transcodes).
There is no ffprobe in that wheel, so media is probed by reading ``ffmpeg -i`` output (see ``localcloud.mct``).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass

log = logging.getLogger(__name__)

ENV_VAR = "AUTOTRANSCODE_FFMPEG"


class FFmpegNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class FFmpegBinary:
    path: str
    source: str  # "$AUTOTRANSCODE_FFMPEG", "PATH" or "imageio-ffmpeg"

    @functools.cached_property
    def version(self) -> str:
        """First line of ``ffmpeg -version``, e.g. ``ffmpeg version 7.1 ...``."""
        out = subprocess.run([self.path, "-version"], capture_output=True, text=True, check=False).stdout
        return out.splitlines()[0].strip() if out else "unknown version"

    def describe(self) -> str:
        return f"{self.path} (from {self.source}; {self.version})"


def _locate() -> FFmpegBinary:
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise FFmpegNotFound(f"{ENV_VAR}={explicit!r} is not an executable file; unset it or point it at ffmpeg")
        return FFmpegBinary(explicit, f"${ENV_VAR}")
    on_path = shutil.which("ffmpeg")
    if on_path:
        return FFmpegBinary(on_path, "PATH")
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise FFmpegNotFound(
            "no ffmpeg found: install one on PATH, set AUTOTRANSCODE_FFMPEG, or `pip install imageio-ffmpeg` "
            "(make test / make demo install it into .venv)"
        ) from exc
    return FFmpegBinary(imageio_ffmpeg.get_ffmpeg_exe(), "imageio-ffmpeg")


@functools.lru_cache(maxsize=1)
def ffmpeg() -> FFmpegBinary:
    """The ffmpeg binary to use (located once per process, logged once)."""
    binary = _locate()
    log.info("using ffmpeg %s", binary.describe())
    return binary


def ffmpeg_path() -> str:
    return ffmpeg().path
