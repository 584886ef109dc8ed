"""Run transcoding jobs: resolve sources in storage, run ffmpeg into a temp dir, commit outputs on success.

``transcode_many`` is the shared-decode fast path: requests that read the same clips (transmux aside) run as ONE
ffmpeg process with several outputs (the source is decoded once); anything else runs alone, and a failed
combined run falls back to separate runs so one bad preset cannot fail the others.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from localcloud.ffmpeg import ffmpeg_path
from localcloud.mct.engine import args as A
from localcloud.mct.engine import process
from localcloud.mct.engine.probe import probe_media
from localcloud.mct.engine.types import EngineError, TranscodeRequest, TranscodeResult
from localcloud.storage import StorageError

log = logging.getLogger(__name__)

OnProcess = Callable[[subprocess.Popen], None] | None
# ffmpeg's follow-on lines after the real cause (the cascade of a failed encoder/filter, option listings); the
# job error message is the last stderr line that is none of these.
GENERIC_STDERR = (
    "Conversion failed!",
    "Error opening output file",
    "Error opening input file",
    "Error while filtering",
    "Error while opening encoder",
    "Error sending frames to consumers",
    "Task finished with error code",
    "Terminating thread with return code",
    "Could not open encoder before EOF",
    "Nothing was written into output file",
    "Exiting normally",
    "Supported ",
)
NO_OUTPUT_MESSAGE = "ffmpeg wrote no playable output (does the clip lie inside the source?)"
_POINTER = re.compile(r" @ 0x[0-9a-f]+\]")


def ffmpeg_threads() -> int:
    """Encoder threads per ffmpeg run: every core (x264 is the bottleneck; the scheduler limits concurrency)."""
    return os.cpu_count() or 2


def source_missing(key: str) -> EngineError:
    return EngineError("SourceNotFound", f"bos object: {key} does not exist")


@dataclass
class _Prepared:
    req: TranscodeRequest
    sources: list[A.SourceSpec]
    watermarks: list[A.WatermarkSpec]


def _prepare(req: TranscodeRequest, storage, probe_cache: dict[str, dict]) -> _Prepared:
    if not req.clips:
        raise EngineError("InvalidPreset", "source: a job needs sourceKey or at least one clip")
    sources = []
    for clip in req.clips:
        if not storage.exists(clip.bucket, clip.key):
            raise source_missing(clip.key)
        path = str(storage.object_path(clip.bucket, clip.key))
        if path not in probe_cache:
            probe_cache[path] = probe_media(path)
        sources.append(A.SourceSpec(path, probe_cache[path], clip.start_s, clip.duration_s))
    watermarks = []
    for wm in req.watermarks or []:
        bucket, key = wm.get("bucket"), wm.get("key")
        if not bucket or not key or not storage.exists(bucket, key):
            raise source_missing(key)
        watermarks.append(A.WatermarkSpec(str(storage.object_path(bucket, key)), wm))
    A.container_of(req.preset)
    if not storage.bucket_exists(req.target_bucket):
        raise EngineError("TranscodeFailed", f"Bucket {req.target_bucket} doesn't exist or isn't in bj region")
    return _Prepared(req, sources, watermarks)


def _aes_key(req: TranscodeRequest) -> bytes | None:
    key = req.encryption_key or (req.preset.get("encryption") or {}).get("aesKey")
    return key.encode("ascii") if key else None


def _output_spec(p: _Prepared, tmp: Path, n: int) -> A.OutputSpec:
    out_dir = tmp / f"out{n}"
    aux_dir = tmp / f"aux{n}"
    out_dir.mkdir()
    aux_dir.mkdir()
    req = p.req
    return A.OutputSpec(
        preset=req.preset,
        out_dir=out_dir,
        name=PurePosixPath(req.target_key).name,
        watermarks=p.watermarks,
        aes_key=_aes_key(req),
        aux_dir=aux_dir,
        job_id=req.job_id,
    )


def transcode(req: TranscodeRequest, storage, on_process: OnProcess = None) -> TranscodeResult:
    """Transcode one job; raises EngineError. Nothing appears at the target key unless everything worked."""
    prepared = _prepare(req, storage, {})
    result = _run_group([prepared], storage, on_process)[0]
    if isinstance(result, EngineError):
        raise result
    return result


def transcode_many(reqs: list[TranscodeRequest], storage, on_process: OnProcess = None) -> list:
    """Results (TranscodeResult or EngineError) in input order; shares one decode among compatible requests."""
    results: list = [None] * len(reqs)
    probe_cache: dict[str, dict] = {}
    groups: dict[tuple, list[int]] = {}
    prepared: dict[int, _Prepared] = {}
    for i, req in enumerate(reqs):
        try:
            p = _prepare(req, storage, probe_cache)
            # Validate the preset alone (pure) so an invalid one never joins a shared run.
            _validate(p)
        except EngineError as exc:
            results[i] = exc
            continue
        prepared[i] = p
        groups.setdefault(_share_key(p, i), []).append(i)
    for members in groups.values():
        batch = [prepared[i] for i in members]
        outcome = _run_group(batch, storage, on_process) if len(batch) > 1 else None
        if outcome is None or any(isinstance(r, _CombinedFailure) for r in outcome):
            outcome = [_run_group([p], storage, on_process)[0] for p in batch]
        for i, r in zip(members, outcome, strict=True):
            results[i] = r
    return results


def _validate(p: _Prepared) -> None:
    dummy = A.OutputSpec(p.req.preset, Path("/nonexistent"), "x", p.watermarks, _aes_key(p.req), Path("/nonexistent"))
    A.plan_transcode(p.sources, [dummy])


def _share_key(p: _Prepared, i: int) -> tuple:
    """Requests with equal keys can share one ffmpeg run; unshareable ones get a unique key.

    Watermarks and HLS encryption are per output (an overlay input / a key file each), so they share fine;
    transmux copies packets and never decodes, so there is nothing to share."""
    if p.req.preset.get("transmux"):
        return ("alone", i)
    return ("shared", A.clip_signature(p.sources, p.req.preset))


class _CombinedFailure(EngineError):
    """The combined run failed: the caller retries each request alone."""


class _Killed(EngineError):
    """ffmpeg was stopped by a signal (the service cancelling or shutting down): never retried."""


def _run_group(batch: list[_Prepared], storage, on_process: OnProcess) -> list:
    tmp = process.new_work_dir(storage)
    try:
        outputs = [_output_spec(p, tmp, n) for n, p in enumerate(batch)]
        try:
            plan = A.plan_transcode(batch[0].sources, outputs, ffmpeg=ffmpeg_path(), threads=ffmpeg_threads())
            for path, data in plan.aux_files.items():
                path.write_bytes(data)
            run = _run_ffmpeg(plan.argv, on_process)
        except EngineError as exc:
            if len(batch) > 1 and not isinstance(exc, _Killed):
                log.info("shared-decode run of %d jobs failed (%s); retrying them one by one", len(batch), exc)
                return [_CombinedFailure(exc.code, exc.message)] * len(batch)
            return [EngineError(exc.code, exc.message)] * len(batch)

        def finish(p: _Prepared, out: A.OutputSpec, main: Path):
            try:
                result = _finish(p.req, out, main, storage)
            except EngineError as exc:
                return exc
            result.ffmpeg_runs.append(run)
            return result

        finished = zip(batch, outputs, plan.main_files, strict=True)
        if len(batch) == 1:
            return [finish(*args) for args in finished]
        # Each output is probed by its own ffmpeg process: side by side, not one after another.
        with ThreadPoolExecutor(len(batch), thread_name_prefix="mct-finish") as pool:
            return list(pool.map(lambda args: finish(*args), finished))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_ffmpeg(argv: list[str], on_process: OnProcess) -> tuple[float, float]:
    """Run ffmpeg to the end; returns its (start, end) wall-clock times (benchmarks subtract them)."""
    log.debug("ffmpeg: %s", " ".join(argv))
    started = time.time()
    proc = process.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if on_process is not None:
        on_process(proc)
    _, err = proc.communicate()
    ended = time.time()
    if proc.returncode != 0:
        text = err.decode("utf-8", "replace")
        if proc.returncode < 0:
            raise _Killed("TranscodeFailed", f"ffmpeg was stopped by signal {-proc.returncode}")
        raise EngineError("TranscodeFailed", last_meaningful_line(text) or f"ffmpeg exited with {proc.returncode}")
    return started, ended


def last_meaningful_line(stderr: str) -> str:
    """The line that says why ffmpeg failed, without memory addresses."""
    lines = [_POINTER.sub("]", ln).strip() for ln in stderr.splitlines() if ln.strip()]
    for line in reversed(lines):
        if any(g in line for g in GENERIC_STDERR) or line.startswith(("frame=", "size=")):
            continue
        if re.fullmatch(r"(\[[^]]*\] *)*[\w. ]{0,12}", line):  # an indented list item such as "[lame]   44100"
            continue
        return line[:500]
    return lines[-1][:500] if lines else ""


def _finish(req: TranscodeRequest, out: A.OutputSpec, main: Path, storage) -> TranscodeResult:
    if not main.is_file():
        raise EngineError("TranscodeFailed", "ffmpeg wrote no output file")
    files = sorted(p for p in out.out_dir.iterdir() if p.is_file())
    output = describe_output(main, files, A.container_of(req.preset), out)
    prefix = str(PurePosixPath(req.target_key).parent)
    prefix = "" if prefix == "." else prefix + "/"
    # Segments first, the main file (playlist/manifest) last: a reader never finds a playlist whose parts are missing.
    ordered = [f for f in files if f != main] + [main]
    for f in ordered:
        key = req.target_key if f == main else prefix + f.name
        try:
            storage.commit_file(req.target_bucket, key, f)
        except StorageError as exc:
            raise EngineError("TranscodeFailed", f"cannot write {key} to bucket {req.target_bucket}: {exc}") from None
    keys = [req.target_key] + [prefix + f.name for f in ordered if f != main]
    return TranscodeResult(output=output, keys=keys)


def describe_output(main: Path, files: list[Path], container: str, out: A.OutputSpec) -> dict:
    """The wire ``output`` object (reference §2.3) from the finished files."""
    try:
        info = _probe_output(main, container, out)
    except EngineError:
        raise EngineError("TranscodeFailed", NO_OUTPUT_MESSAGE) from None
    total = sum(f.stat().st_size for f in files)
    duration_ms = info.get("durationInMillisecond") or 0
    result: dict = {}
    video = info.get("video")
    if video:
        v = {
            "durationInSeconds": int(duration_ms / 1000 + 0.5),
            "sizeInKiloByte": round(total / 1024, 6),
            "widthInPixel": video.get("widthInPixel"),
            "heightInPixel": video.get("heightInPixel"),
            "frameRate": int(round(video.get("frameRate") or 0)),
        }
        if container == "mp4":
            moov = mp4_moov_size(main)
            if moov:
                v["mp4MoovSize"] = moov
        result["video"] = v
    else:
        result["video"] = {"durationInSeconds": int(duration_ms / 1000 + 0.5), "sizeInKiloByte": round(total / 1024, 6)}
    audio = info.get("audio")
    if audio:
        result["audio"] = {"sampleRateInHz": audio.get("sampleRateInHz"), "channels": audio.get("channels")}
    if duration_ms:
        result["bitRateInKBps"] = f"{total * 8 / duration_ms:.2f}"  # bytes*8/ms == kbit/s
    return result


def _probe_output(main: Path, container: str, out: A.OutputSpec) -> dict:
    if container == "pcm":  # headerless samples: tell ffmpeg their layout
        fmt, rate, channels = A.pcm_layout(out.preset.get("audio") or {})
        return probe_media(main.resolve(), ("-f", fmt, "-ar", str(rate), "-ac", str(channels)))
    if container in ("hls", "a-hls") and out.preset.get("encryption") and out.aux_dir is not None:
        # Probe a private copy of the playlist whose key URI points at the local key file.
        key_file = out.aux_dir / f"{A.segment_stem(out.name)}.key"
        text = main.read_text()
        lines = []
        for line in text.splitlines():
            if line.startswith("#EXT-X-KEY"):
                head, _, rest = line.partition('URI="')
                line = head + f'URI="{key_file}"' + rest.split('"', 1)[1]
            elif line and not line.startswith("#"):
                line = str(main.parent / line)
            lines.append(line)
        copy = out.aux_dir / "probe.m3u8"
        copy.write_text("\n".join(lines) + "\n")
        return probe_media(copy, ("-allowed_extensions", "ALL"))
    return probe_media(main.resolve())


def mp4_moov_size(path: Path) -> int | None:
    """Size in bytes of the top-level ``moov`` box of an MP4 file."""
    with open(path, "rb") as fh:
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return None
            size = int.from_bytes(header[:4], "big")
            kind = header[4:8]
            if size == 1:
                size = int.from_bytes(fh.read(8), "big")
                body = size - 16
            elif size == 0:
                return None
            else:
                body = size - 8
            if kind == b"moov":
                return size
            fh.seek(body, 1)
