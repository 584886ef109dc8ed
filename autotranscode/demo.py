"""The end-to-end demo: localcloud up, provision, upload one clip with BosClient, watch it transcode, show results.

Every hop is the real one: Baidu's ``BosClient`` uploads over HTTP, localcloud BOS emits the BOS event, the CFC
runtime runs ``handlers.on_upload`` from ``template.yaml``, which creates MCT jobs with ``MediaClient``; MCT
transcodes with ffmpeg and calls back ``handlers.on_notification`` over HTTP, which records the results and POSTs the
signed "upload done" event to a receiver started here.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "template.yaml"
EXAMPLE_CONFIG = REPO_ROOT / "autotranscode.example.json"
TERMINAL = {"SUCCESS", "FAILED"}


@dataclass
class DemoOptions:
    data_dir: Path
    clip: Path | None = None  # None: generate a sample clip
    seconds: float = 10.0
    width: int = 1280
    height: int = 720
    timeout: float = 170.0
    upload_key: str | None = None  # default: incoming/demo/<clip name>
    show_function_logs: bool = False  # default: function logs go to <data_dir>/functions.log
    console: bool = True  # serve the web console over the demo's stack (result.console_url)
    console_port: int = 18083  # 0 or taken: any free port


@dataclass
class DemoResult:
    ok: bool
    upload_key: str
    rows: list[dict] = field(default_factory=list)  # one per rendition / thumbnail job
    downstream_event: dict | None = None
    downstream_verified: bool = False
    elapsed_s: float = 0.0
    console_url: str | None = None  # the upload's page in the console (served only while run_demo's hold runs)


class DownstreamReceiver:
    """The user's own app, as far as the demo is concerned: receives and verifies "upload done" events."""

    def __init__(self, secret: str):
        self.secret = secret
        self.events: list[tuple[dict, bool]] = []  # (event, signature valid)

    async def __call__(self, scope, receive, send):
        from handlers.wire.downstream import verify_downstream_signature

        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        valid = verify_downstream_signature(self.secret, headers, body)
        try:
            self.events.append((json.loads(body), valid))
        except ValueError:
            valid = False
        status = 200 if valid else 401
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    async def wait(self, timeout: float) -> None:  # pragma: no cover - convenience for async callers
        deadline = time.monotonic() + timeout
        while not self.events and time.monotonic() < deadline:
            await asyncio.sleep(0.1)


def demo_config(mct_url: str, downstream_url: str, downstream_secret: str) -> dict:
    """The example config, pointed at this localcloud and at the demo's downstream receiver."""
    config = json.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    config["mct"]["endpoint"] = mct_url
    config["downstream"] = {"url": downstream_url, "secret": downstream_secret}
    return config


def run_demo(
    options: DemoOptions, say: Callable[[str], None] = print, hold: Callable[[DemoResult], None] | None = None
) -> DemoResult:
    """Run the demo; ``hold(result)`` runs before anything stops (the console and localcloud still serve)."""
    from autotranscode.commands.provision import provision_localcloud
    from handlers.adapters.store import SqlStore
    from handlers.domain.ids import upload_id_for
    from localcloud.cfc.template import load_template
    from localcloud.samples import make_sample_clip
    from localcloud.serve import free_port, serve_in_thread
    from localcloud.stack import LocalStack

    started = time.monotonic()
    data_dir = options.data_dir.resolve()
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)

    secret = secrets.token_hex(16)
    receiver = DownstreamReceiver(secret)
    downstream = serve_in_thread(receiver)
    ports = {"bos_port": free_port(), "mct_port": free_port(), "cfc_port": free_port()}
    mct_url = f"http://127.0.0.1:{ports['mct_port']}"
    config = demo_config(mct_url, f"{downstream.url}/upload-done", secret)
    # Per function, as LocalStack's own config override is per function too (and would otherwise win).
    overrides = {name: {"AUTOTRANSCODE_CONFIG_JSON": json.dumps(config)} for name in load_template(TEMPLATE)}

    function_log = open(data_dir / "functions.log", "a", encoding="utf-8")  # noqa: SIM115 - closed below

    def log_sink(function: str, line: str) -> None:
        function_log.write(f"[{function}] {line}\n")
        function_log.flush()
        if options.show_function_logs:
            say(f"[{function}] {line}")

    stack = LocalStack(data_dir, TEMPLATE, env_overrides=overrides, watch=False, log_sink=log_sink, **ports)
    console = None
    try:
        say(f"localcloud: starting in {data_dir}")
        stack.start()
        say(f"  BOS {stack.bos_url}   MCT {stack.mct_url}   CFC {stack.cfc_url}   downstream {downstream.url}")
        say(f"  function logs: {data_dir / 'functions.log'}")
        any_function = next(iter(stack.runtime.functions))
        store_url = stack.runtime.function_env(any_function)["AUTOTRANSCODE_STORE_URL"]  # the store they all share
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # this process only: keep the output readable
        provision_localcloud(stack, say)

        clip = options.clip
        if clip is None:
            clip = data_dir / "sample.mp4"
            say(f"generating a {options.seconds:g} s {options.width}x{options.height} sample clip ...")
            make_sample_clip(clip, seconds=options.seconds, width=options.width, height=options.height)
        elif not clip.is_file():
            raise FileNotFoundError(f"--clip {clip}: no such file")
        rule = config["rules"][0]
        bucket = rule["bucket"]
        key = options.upload_key or f"{rule['prefixes'][0]}demo/{clip.name}"
        say(f"uploading {clip} ({clip.stat().st_size / 1e6:.1f} MB) to bos://{bucket}/{key} with BosClient")
        stack.bos_client().put_object_from_file(bucket, key, str(clip))
        etag = stack.storage.head(bucket, key).etag
        upload_id = upload_id_for(bucket, key, etag)

        store = SqlStore(store_url)
        try:
            _watch(stack, store, upload_id, receiver, options.timeout, started, say)
            pipeline = stack.mct_client().get_pipeline(config["mct"]["pipeline"])
            rows = _result_rows(stack, store, upload_id, default_bucket=pipeline.target_bucket)
        finally:
            store.dispose()
        event, verified = receiver.events[-1] if receiver.events else (None, False)
        ok = bool(rows) and all(r["status"] == "SUCCESS" for r in rows) and verified
        result = DemoResult(ok, key, rows, event, verified, time.monotonic() - started)
        if options.console:
            console = _start_console(stack, options.console_port)
            result.console_url = f"{console.url}/uploads/{upload_id}"
        if hold is not None:
            hold(result)
        return result
    finally:
        if console is not None:
            console.stop()
        stack.stop()
        downstream.stop()
        function_log.close()


def _start_console(stack, port: int):
    """The read-only console over the demo's stack, on ``port`` when it is free."""
    from autotranscode.console.serve import serve_for_stack
    from localcloud.stack import PortInUse, check_port_free

    try:
        check_port_free("console", "127.0.0.1", port)
    except PortInUse:
        port = 0
    return serve_for_stack(stack, port=port)


def _watch(stack, store, upload_id, receiver, timeout, started, say) -> None:
    """Print each job's MCT status as it changes until the "upload done" event arrives (or time runs out)."""
    mct = stack.mct_client()
    last: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = store.jobs_for_upload(upload_id)
        for job in jobs:
            status = job.status
            if job.job_id:
                try:
                    live = mct.get_thumbnail_job(job.job_id) if job.kind == "thumbnail" else mct.get_job(job.job_id)
                    status = live.job_status
                except Exception:  # the store's view is enough to show progress
                    pass
            if last.get(job.target) != status:
                last[job.target] = status
                say(f"  [{time.monotonic() - started:6.1f}s] {job.target:<10} {job.job_id or '-':<22} {status}")
        if receiver.events:
            return
        delivery = store.get_delivery(upload_id)
        if delivery is not None and delivery.status == "FAILED":
            raise RuntimeError(
                f"the 'upload done' event could not be delivered after {delivery.attempts} attempts: "
                f"{delivery.last_error or delivery.last_status_code}"
            )
        time.sleep(0.3)
    raise TimeoutError(f"no 'upload done' event within {timeout:.0f} s; last job states: {last}")


def _result_rows(stack, store, upload_id, default_bucket: str) -> list[dict]:
    """Rows for the results table; outputs without a targetBucket went to the pipeline's target bucket."""
    from localcloud.mct.engine import probe_media

    rows = []
    for job in store.jobs_for_upload(upload_id):
        target = job.request.get("target", {})
        row = {"target": job.target, "kind": job.kind, "status": job.status, "job_id": job.job_id}
        if job.kind == "thumbnail":
            keys = job.result.get("keys") or []
            row.update(bucket=target.get("targetBucket") or default_bucket, keys=keys, path=", ".join(keys))
        else:
            bucket, key = target.get("targetBucket") or default_bucket, target.get("targetKey")
            row.update(bucket=bucket, key=key, path=f"{bucket}/{key}")
            path = stack.storage.object_path(bucket, key) if bucket and key else None
            if job.status == "SUCCESS" and path and path.is_file():
                info = probe_media(path)
                video, audio = info.get("video") or {}, info.get("audio") or {}
                row.update(
                    container=info.get("container"),
                    codecs="/".join(c for c in (video.get("codec"), audio.get("codec")) if c),
                    resolution=f"{video.get('widthInPixel')}x{video.get('heightInPixel')}" if video else "-",
                    duration_s=info.get("durationInMillisecond", 0) / 1000.0,
                    size_bytes=info.get("fileSizeInByte"),
                )
        if job.status != "SUCCESS":
            row["error"] = job.result.get("error") or job.last_error
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    header = ("rendition", "status", "container/codec", "resolution", "duration", "size", "output")
    lines = [header]
    for r in rows:
        if r["kind"] == "thumbnail":
            lines.append((r["target"], r["status"], "thumbnail", "", "", "", r.get("path", "")))
            continue
        size = r.get("size_bytes")
        lines.append(
            (
                r["target"],
                r["status"],
                f"{r.get('container', '-')}/{r.get('codecs', '-')}",
                r.get("resolution", "-"),
                f"{r['duration_s']:.2f} s" if "duration_s" in r else "-",
                f"{size / 1024:.0f} KiB" if size else "-",
                r.get("path", ""),
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)
