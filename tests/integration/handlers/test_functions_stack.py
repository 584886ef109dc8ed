"""End to end through localcloud with the real template.yaml: BOS upload -> CFC OnUpload -> MCT (ffmpeg) ->
MCT notification -> CFC HTTP trigger -> OnNotification -> store says the upload is done."""

from __future__ import annotations

import time
from pathlib import Path

from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.services.bos.bos_client import BosClient

from handlers.adapters.store import SqlStore
from handlers.domain.statuses import SUCCESS, UPLOAD_DONE
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.mct.testing import media_client
from localcloud.samples import make_sample_clip
from localcloud.stack import LocalStack

REPO = Path(__file__).resolve().parents[3]
URL_TOKEN = "local-callback-token-change-me"  # autotranscode.example.json


def test_template_functions_end_to_end(tmp_path):
    logs: list[str] = []
    stack = LocalStack(tmp_path / "data", REPO / "template.yaml", bos_port=0, mct_port=0, cfc_port=0,
                       log_sink=lambda function, line: logs.append(f"{function}: {line}"))  # fmt: skip
    stack.start()
    try:
        mct = media_client(stack.mct_endpoint)
        mct.create_notification("autotranscode_cb", f"{stack.cfc_url}/mct/callback?token={URL_TOKEN}")
        mct.create_pipeline("autotranscode", "uploads", "uploads", pipeline_config={"notification": "autotranscode_cb"})
        bos = BosClient(BceClientConfiguration(BceCredentials(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY),
                                               endpoint=stack.bos_endpoint))  # fmt: skip
        clip = make_sample_clip(tmp_path / "clip.mp4", seconds=1)
        bos.put_object_from_file("uploads", "incoming/holiday clip.mp4", str(clip))

        store = SqlStore(f"sqlite:///{stack.data_dir / 'autotranscode.sqlite3'}")
        deadline = time.monotonic() + 120
        uploads = []
        while time.monotonic() < deadline:
            uploads = [u for _, u in store.list_jobs()]
            if uploads and all(u.status == UPLOAD_DONE for u in uploads):
                break
            time.sleep(0.2)
        assert uploads and uploads[0].status == UPLOAD_DONE, "\n".join(logs[-30:])
        jobs = store.jobs_for_upload(uploads[0].upload_id)
        assert {j.status for j in jobs} == {SUCCESS}, [(j.target, j.status, j.result) for j in jobs]
        keys = {j.request["target"].get("targetKey") for j in jobs if j.kind == "transcode"}
        assert keys == {"transcoded/incoming/holiday clip/360p.mp4"}  # 320x240 source: smallest rendition kept
        assert bos.get_object_meta_data("uploads", "transcoded/incoming/holiday clip/360p.mp4")
        assert any('"upload done"' in line for line in logs)
    finally:
        stack.stop()
