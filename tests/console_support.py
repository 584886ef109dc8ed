"""A localcloud + the console, shared by the browser tests and the HLS master playlist test."""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path

from autotranscode.console.app import ConsoleSettings
from autotranscode.demo import TEMPLATE, DownstreamReceiver, demo_config
from tests.waiting import wait_for

HOSTILE_KEY = "incoming/<img src=x onerror=alert(1)>.mp4"
CONSOLE_TOKEN = "browser-test-console-token-" + secrets.token_hex(8)
# Two HLS renditions and the MP4 the console falls back to (outputs under transcoded/, not watched by the rule).
ABR_TARGETS = [
    {"name": "hls480", "preset": "bce.video_hls_854x480_800kbps", "key": "transcoded/{dir}/{stem}/{target}.{ext}"},
    {"name": "hls360", "preset": "bce.video_hls_640x360_600kbps", "key": "transcoded/{dir}/{stem}/{target}.{ext}"},
    {"name": "mp4360", "preset": "bce.video_mp4_640x360_600kbps", "key": "transcoded/{dir}/{stem}/{target}.{ext}"},
]


class ConsoleWorld:
    """A localcloud with the example rule (or `targets`), a downstream receiver, the console (actions on, with a
    token) and a read-only console; `upload()` puts the clip under `key` once (by default the hostile key)."""

    def __init__(self, tmp: Path, targets: list[dict] | None = None, clip_size=(640, 360), clip_seconds: float = 3,
                 key: str = HOSTILE_KEY):  # fmt: skip
        from autotranscode.commands.provision import provision_localcloud
        from autotranscode.console.serve import serve_for_stack
        from localcloud.cfc.template import load_template
        from localcloud.samples import make_sample_clip
        from localcloud.serve import free_port, serve_in_thread
        from localcloud.stack import LocalStack

        self.receiver = DownstreamReceiver(secrets.token_hex(8))
        self.downstream = serve_in_thread(self.receiver)
        ports = {"bos_port": free_port(), "mct_port": free_port(), "cfc_port": free_port()}
        config = demo_config(f"http://127.0.0.1:{ports['mct_port']}", f"{self.downstream.url}/done",
                             self.receiver.secret)  # fmt: skip
        if targets is not None:
            config["rules"][0]["targets"] = targets
        overrides = {name: {"AUTOTRANSCODE_CONFIG_JSON": json.dumps(config)} for name in load_template(TEMPLATE)}
        self.stack = LocalStack(tmp / "cloud", TEMPLATE, env_overrides=overrides, watch=False,
                                log_sink=lambda *_: None, **ports)  # fmt: skip
        self.stack.start()
        provision_localcloud(self.stack, lambda _: None)
        self.clip = make_sample_clip(tmp / "clip.mp4", seconds=clip_seconds, width=clip_size[0], height=clip_size[1])
        self.key = key
        self.console = serve_for_stack(self.stack, settings=ConsoleSettings(token=CONSOLE_TOKEN, actions=True))
        self.readonly = serve_for_stack(self.stack)
        self._uploaded = threading.Lock()
        self.upload_id: str | None = None

    def upload(self) -> str:
        from handlers.domain.ids import upload_id_for

        with self._uploaded:
            if self.upload_id is None:
                self.stack.bos_client().put_object_from_file("uploads", self.key, str(self.clip))
                etag = self.stack.storage.head("uploads", self.key).etag
                self.upload_id = upload_id_for("uploads", self.key, etag)
            return self.upload_id

    def wait_done(self, timeout: float = 120) -> str:
        from handlers.adapters.store import SqlStore

        upload_id = self.upload()
        store = SqlStore(f"sqlite:///{self.stack.data_dir / 'autotranscode.sqlite3'}")
        try:
            wait_for(lambda: (u := store.get_upload(upload_id)) is not None and u.status == "DONE", timeout=timeout,
                     what="the upload to be done")  # fmt: skip
            wait_for(lambda: store.delivery_attempts(upload_id), timeout=30, what="the done event's delivery")
        finally:
            store.dispose()
        return upload_id

    def last_event(self) -> dict:
        """The newest "upload done" event the downstream receiver got."""
        wait_for(lambda: self.receiver.events, timeout=30, what="the done event downstream")
        return self.receiver.events[-1][0]

    def close(self) -> None:
        for server in (self.console, self.readonly):
            server.stop()
        self.stack.stop()
        self.downstream.stop()
