"""Upload events: PostEvent shape, one per create, watch mode for files dropped into bucket directories."""

from __future__ import annotations

import hashlib
import re
import time
import uuid

import pytest

from localcloud.bos import BosService
from localcloud.serve import serve_in_thread
from tests.integration.localcloud.bos.test_sdk import Recorder, client_for
from tests.waiting import wait_for


@pytest.fixture
def stack(tmp_path):
    recorder = Recorder()
    service = BosService(tmp_path / "data", on_event=recorder, watch=True, watch_interval=0.05, settle_seconds=0.2)
    service.start()
    server = serve_in_thread(service.app)
    client = client_for(server)
    client.create_bucket("media")
    yield service, client, recorder
    server.stop()
    service.stop()


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_put_event_has_documented_shape(stack):
    _service, client, recorder = stack
    client.put_object_from_string("media", "up/视频 1.mp4", "data", content_type="video/mp4")
    assert len(recorder.events) == 1
    body = recorder.events[0]
    assert set(body) == {"events"} and len(body["events"]) == 1
    event = body["events"][0]
    assert set(event) == {"version", "eventId", "eventOrigin", "eventTime", "eventType", "content"}
    assert event["version"] == "1.0" and event["eventOrigin"] == "bos:realtime" and event["eventType"] == "PutObject"
    uuid.UUID(event["eventId"])
    assert ISO.match(event["eventTime"])
    content = event["content"]
    assert content == {
        "userId": content["userId"],
        "domain": "bj.bcebos.com",
        "bucket": "media",
        "object": "up/视频 1.mp4",
        "eTag": hashlib.md5(b"data").hexdigest(),
        "contentType": "video/mp4",
        "filesize": 4,
        "lastModified": content["lastModified"],
        "xVars": "",
    }
    assert ISO.match(content["lastModified"]) and len(content["userId"]) == 32


def test_one_event_per_create_and_none_for_reads_deletes(stack, tmp_path):
    service, client, recorder = stack
    client.put_object_from_string("media", "a.txt", "a")
    client.copy_object("media", "a.txt", "media", "b.txt")
    client.append_object_from_string("media", "c.log", "line1\n")
    client.append_object_from_string("media", "c.log", "line2\n", offset=6)
    client.get_object_as_string("media", "a.txt")
    client.get_object_meta_data("media", "b.txt")
    client.list_objects("media")
    client.delete_object("media", "a.txt")
    types = [(r["eventType"], r["content"]["object"]) for r in recorder.records()]
    assert types == [
        ("PutObject", "a.txt"),
        ("CopyObject", "b.txt"),
        ("AppendObject", "c.log"),
        ("AppendObject", "c.log"),
    ]
    assert client.get_object_as_string("media", "c.log") == b"line1\nline2\n"
    # The watcher must not report the API's own writes a second time.
    assert service.watcher.wait_settled()
    assert len(recorder.records()) == 4


def test_watch_mode_emits_once_for_dropped_file(stack):
    service, client, recorder = stack
    target = service.storage.data_dir / "buckets" / "media" / "drop" / "clip.mp4"
    target.parent.mkdir(parents=True)
    with open(target, "wb") as fh:  # written in two steps, like a slow copy
        fh.write(b"x" * 1000)
        fh.flush()
        time.sleep(0.1)
        fh.write(b"y" * 1000)
    assert wait_for(lambda: len(recorder.records()) == 1)
    assert service.watcher.wait_settled()
    records = recorder.records()
    assert len(records) == 1
    content = records[0]["content"]
    assert records[0]["eventType"] == "PutObject"
    assert (content["object"], content["filesize"]) == ("drop/clip.mp4", 2000)
    assert content["eTag"] == hashlib.md5(b"x" * 1000 + b"y" * 1000).hexdigest()
    assert content["contentType"] == "video/mp4"
    # and the object is readable through the API with the same ETag
    assert client.get_object_meta_data("media", "drop/clip.mp4").metadata.etag == content["eTag"]


def test_watch_mode_reports_objects_written_by_other_services(stack):
    """MCT writes outputs straight into storage; BOS reports those as PutObject, as real BOS does."""
    service, _client, recorder = stack
    service.storage.put("media", "out/720p.mp4", b"transcoded", content_type="video/mp4")
    assert wait_for(lambda: len(recorder.records()) == 1)
    assert recorder.records()[0]["content"]["object"] == "out/720p.mp4"


def test_watch_ignores_files_present_at_start(tmp_path):
    data = tmp_path / "data"
    BosService(data).storage.create_bucket("media")
    (data / "buckets" / "media" / "old.mp4").write_bytes(b"old")
    recorder = Recorder()
    service = BosService(data, on_event=recorder, watch=True, watch_interval=0.05, settle_seconds=0.1)
    service.start()
    try:
        assert service.watcher.wait_settled()
        assert recorder.records() == []
    finally:
        service.stop()


def test_listener_failure_does_not_fail_upload(tmp_path):
    def broken(_event):
        raise RuntimeError("listener down")

    service = BosService(tmp_path / "d", on_event=broken)
    server = serve_in_thread(service.app)
    try:
        client = client_for(server)
        client.create_bucket("media")
        client.put_object_from_string("media", "k", "v")
        assert client.get_object_as_string("media", "k") == b"v"
    finally:
        server.stop()


def test_fault_redelivery_sends_the_same_event_again(tmp_path):
    from localcloud.faults import FaultConfig

    recorder = Recorder()
    service = BosService(tmp_path / "d", on_event=recorder, faults=FaultConfig.parse("bos_redeliveries=1"))
    server = serve_in_thread(service.app)
    try:
        client = client_for(server)
        client.create_bucket("media")
        client.put_object_from_string("media", "k", "v")
        records = recorder.records()
        assert len(records) == 2 and records[0] == records[1]
    finally:
        server.stop()
