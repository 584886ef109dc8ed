"""`autotranscode deliveries list|retry` as a user runs it (subprocess), against a SQLite store and a real app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from handlers.adapters.store import SqlStore
from handlers.domain.clock import utcnow
from handlers.domain.ids import upload_id_for
from handlers.domain.records import Delivery, Upload
from handlers.domain.statuses import DELIVERY_DELIVERED, DELIVERY_EXPIRED, DELIVERY_FAILED
from localcloud.serve import serve_in_thread
from tests.unit.handlers.receiver import Receiver

REPO = Path(__file__).resolve().parents[3]


def cli(*args: str, config: Path, store_url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRANSCODE_", "BCE_"))}
    return subprocess.run(
        [sys.executable, "-m", "autotranscode.cli", *args, "--config", str(config), "--store-url", store_url],
        capture_output=True, text=True, timeout=60, env=env, cwd=REPO,
    )  # fmt: skip


def test_deliveries_list_and_retry(tmp_path):
    receiver = Receiver()
    app = serve_in_thread(receiver)
    try:
        config = json.loads((REPO / "autotranscode.example.json").read_text())
        config["downstream"] = {"url": app.url + "/events", "secret": "cli-secret"}
        path = tmp_path / "autotranscode.json"
        path.write_text(json.dumps(config))
        store_url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        store = SqlStore(store_url)
        now = utcnow()
        ids = {}
        for key, status, next_at in (("incoming/a.mp4", DELIVERY_FAILED, now + timedelta(minutes=5)),
                                     ("incoming/b.mp4", DELIVERY_EXPIRED, None),
                                     ("incoming/c.mp4", DELIVERY_DELIVERED, None)):  # fmt: skip
            uid = upload_id_for("uploads", key, "e1")
            store.ensure_upload(Upload(uid, "uploads", key, "e1", "videos", 0, created_at=now))
            store.mark_upload_done(uid, now)
            store.ensure_delivery(uid, now)
            store.record_delivery(Delivery(uid, status, 3, 503, "HTTP 503", now, next_at))
            ids[key] = uid

        listed = cli("deliveries", "list", "--json", config=path, store_url=store_url)
        assert listed.returncode == 0, listed.stderr
        # (The functions' JSON log lines go to stdout too: "autotranscode ready".)
        rows = [row for row in map(json.loads, listed.stdout.splitlines()) if "level" not in row]
        assert {r["key"]: r["status"] for r in rows} == {"incoming/a.mp4": "FAILED", "incoming/b.mp4": "EXPIRED"}
        assert [r["next_attempt_at"] for r in rows if r["key"] == "incoming/a.mp4"] != [None]
        table = cli("deliveries", "list", "--status", "expired", config=path, store_url=store_url)
        assert "EXPIRED" in table.stdout and "incoming/b.mp4" in table.stdout and "a.mp4" not in table.stdout

        one = cli("deliveries", "retry", ids["incoming/b.mp4"][:16], config=path, store_url=store_url)
        assert one.returncode == 0, one.stderr
        assert "DELIVERED" in one.stdout and [json.loads(r["body"])["upload"]["key"] for r in receiver.requests] == [
            "incoming/b.mp4"
        ]
        rest = cli("deliveries", "retry", "--all", "--json", config=path, store_url=store_url)
        assert rest.returncode == 0, rest.stderr
        results = json.loads(rest.stdout[rest.stdout.index("[\n") :])
        assert [r["status"] for r in results] == ["DELIVERED"]
        assert store.get_delivery(ids["incoming/a.mp4"]).status == DELIVERY_DELIVERED
        assert len(receiver.requests) == 2  # the delivered one was not sent again

        empty = cli("deliveries", "list", config=path, store_url=store_url)
        assert empty.returncode == 0 and "every event was delivered" in empty.stderr
        missing = cli("deliveries", "retry", "nope", config=path, store_url=store_url)
        assert missing.returncode == 1 and "no single undelivered event" in missing.stderr
        store.dispose()
    finally:
        app.stop()
