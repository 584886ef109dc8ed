"""The functions' BOS adapter (handlers/adapters/bos_sdk.py: the sweep's listing, an object's current etag) through
the real BosClient against localcloud BOS."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.adapters.bos_sdk import SdkBos, parse_bos_time
from handlers.domain.clock import utcnow
from handlers.services.ports import BosError
from handlers.wire.upload_events import parse_upload_event
from localcloud.bos import BosService
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.serve import free_port, serve_in_thread


@pytest.fixture
def bos(tmp_path):
    events: list[dict] = []
    service = BosService(tmp_path / "data", on_event=events.append)
    service.start()
    server = serve_in_thread(service.app)
    service.storage.create_bucket("uploads", exist_ok=True)
    adapter = SdkBos(server.url, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, timeout_seconds=5)
    yield adapter, service, events
    server.stop()
    service.stop()


def test_listing_pages_through_a_prefix_in_key_order(bos):
    adapter, _service, _ = bos
    keys = [f"incoming/{name}.mp4" for name in ("b", "a", "视频 1", "c d", "e+f", "g", "h")] + ["other/x.mp4"]
    for key in keys:
        adapter.client.put_object_from_string("uploads", key, f"bytes of {key}")
    pages, marker = [], None
    while True:
        page = adapter.list_objects("uploads", "incoming/", marker, 3)
        pages.append([o.key for o in page.objects])
        if page.next_marker is None:
            break
        marker = page.next_marker
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [k for p in pages for k in p] == sorted(k for k in keys if k.startswith("incoming/"))
    listed = adapter.list_objects("uploads", "", None, 1000).objects
    assert all(abs(o.last_modified - utcnow()) < timedelta(minutes=1) for o in listed)
    assert all(len(o.etag) == 32 and '"' not in o.etag for o in listed)


def test_current_etag_is_the_events_etag_and_none_when_gone(bos):
    adapter, _service, events = bos
    key = "incoming/clip.mp4"
    adapter.client.put_object_from_string("uploads", key, "first")
    adapter.client.put_object_from_string("uploads", key, "second")
    [*_, latest] = [r for body in events for r in parse_upload_event(body)]
    assert adapter.current_etag("uploads", key) == latest.etag  # the same spelling as the upload event's
    [listed] = adapter.list_objects("uploads", key, None, 10).objects
    assert listed.etag == latest.etag
    adapter.client.delete_object("uploads", key)
    assert adapter.current_etag("uploads", key) is None


def test_errors_say_whether_trying_again_can_help(bos):
    adapter, _service, _ = bos
    with pytest.raises(BosError) as missing_bucket:
        adapter.list_objects("no-such-bucket", "", None, 10)
    assert not missing_bucket.value.transient and "404" in str(missing_bucket.value)
    wrong_key = SdkBos(adapter.endpoint, DEFAULT_ACCESS_KEY, "wrong-secret", timeout_seconds=5)
    with pytest.raises(BosError) as refused:
        wrong_key.current_etag("uploads", "incoming/x.mp4")
    assert not refused.value.transient
    nobody = SdkBos(f"http://127.0.0.1:{free_port()}", DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, timeout_seconds=2)
    with pytest.raises(BosError) as unreachable:
        nobody.list_objects("uploads", "", None, 10)
    assert unreachable.value.transient


def test_bos_time_forms():
    assert parse_bos_time("2026-12-01T13:59:18Z").isoformat() == "2026-12-01T13:59:18"
    assert parse_bos_time("2026-12-01T13:59:18.250Z").isoformat() == "2026-12-01T13:59:18.250000"
    assert parse_bos_time("2026-12-01T13:59:18.5Z").isoformat() == "2026-12-01T13:59:18.500000"
    assert parse_bos_time("2026-12-01T21:59:18+08:00").isoformat() == "2026-12-01T13:59:18"
