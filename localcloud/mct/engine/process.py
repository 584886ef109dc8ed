"""How the engine starts ffmpeg and where it works, so that nothing outlives the service that started it.

- Every ffmpeg child runs in its own session (a Ctrl-C in the terminal reaches the service, which then stops its
  children itself; ffmpeg never fails a job on its own because of it) and, on Linux, asks the kernel for SIGKILL
  when its parent dies (``PR_SET_PDEATHSIG``): a ``kill -9`` of ``autotranscode up`` leaves no ffmpeg running.
  The kernel sends that signal when the *thread* that started the child ends; the engine starts ffmpeg from the
  scheduler's long-lived worker threads. Probes (``run_short``) only get their own session: they end within
  milliseconds, and the ``preexec_fn`` that asks for the signal makes Python fork the whole service instead of
  using vfork — ~12 ms of CPU per child in a service of ~150 MB, more than the probe itself.
- Work folders live under ``<data-dir>/tmp/mct-engine/`` (the storage's temp area, so finished files are moved,
  not copied, into buckets). Folders left there by a run that died are removed when the service starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

WORK_FOLDER = "mct-engine"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):  # no usable libc: children then only get their own session
        return None


_prctl = _load_prctl()  # loaded before any fork: the child only calls it


def _die_with_parent(parent_pid: int):
    def preexec() -> None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def _child_options() -> dict:
    options: dict = {"start_new_session": True}
    if _prctl is not None:
        options["preexec_fn"] = _die_with_parent(os.getpid())
    return options


def popen(argv: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen`` for an engine child (see the module docstring)."""
    return subprocess.Popen(argv, **_child_options(), **kwargs)


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run`` for an engine child (see the module docstring)."""
    return subprocess.run(argv, **_child_options(), **kwargs)


def run_short(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run`` for a child that ends within milliseconds (a probe): its own session, no death signal."""
    return subprocess.run(argv, start_new_session=True, **kwargs)


def work_root(storage) -> Path:
    return storage.tmp_root / WORK_FOLDER


def new_work_dir(storage) -> Path:
    """A fresh folder for one engine run, on the buckets' filesystem."""
    path = work_root(storage) / uuid.uuid4().hex
    path.mkdir(parents=True)
    return path


def remove_dead_runs(storage) -> int:
    """Remove the work folders of runs that died with an earlier process. Call before any job starts (one service
    owns a data dir). Returns how many were removed."""
    root = work_root(storage)
    if not root.is_dir():
        return 0
    leftovers = list(root.iterdir())
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if leftovers:
        log.info("removed %d work folder(s) left by an engine run that died", len(leftovers))
    return len(leftovers)
