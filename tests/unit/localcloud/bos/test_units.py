"""BOS pieces without HTTP: event builder, range parsing, multipart ETag rule, watcher settling."""

from __future__ import annotations

import hashlib

import pytest

from localcloud.bos import events as ev
from localcloud.bos.exceptions import InvalidRange
from localcloud.bos.models import BosBackend, multipart_etag
from localcloud.bos.responses import _parse_range
from localcloud.bos.watcher import BucketWatcher
from localcloud.storage import LocalStorage, ObjectInfo


def test_event_builder_rejects_unknown_type():
    info = ObjectInfo("b", "k", 1, "e", 0.0)
    with pytest.raises(ValueError, match="DeleteObject"):
        ev.object_created_event(info, "DeleteObject", region="bj")


def test_event_builder_includes_credentials_only_when_given():
    info = ObjectInfo("b", "k", 1, "e", 0.0)
    plain = ev.object_created_event(info, "PutObject", region="gz", now=0)["events"][0]
    assert "credentials" not in plain["content"] and plain["content"]["domain"] == "gz.bcebos.com"
    assert plain["eventTime"] == "1970-01-01T00:00:00Z"
    creds = {"accessKeyId": "a", "secretAccessKey": "s", "sessionToken": "t", "expiration": "x"}
    with_creds = ev.object_created_event(info, "PutObject", region="bj", credentials=creds)["events"][0]
    assert with_creds["content"]["credentials"] == creds


@pytest.mark.parametrize(
    "header,expected",
    [("bytes=0-0", (0, 0)), ("bytes=2-5", (2, 5)), ("bytes=7-", (7, 9)), ("bytes=-3", (7, 9)), ("bytes=5-99", (5, 9))],
)
def test_range_parsing(header, expected):
    assert _parse_range(header, 10) == expected


@pytest.mark.parametrize("header", ["bytes=10-12", "bytes=5-2", "items=0-1", "bytes=-", "bytes=a-b"])
def test_bad_ranges(header):
    with pytest.raises(InvalidRange):
        _parse_range(header, 10)


def test_multipart_etag_is_md5_of_part_digests():
    parts = [hashlib.md5(b"a").hexdigest(), hashlib.md5(b"b").hexdigest()]
    expected = hashlib.md5(hashlib.md5(b"a").digest() + hashlib.md5(b"b").digest()).hexdigest()
    assert multipart_etag(parts) == expected and len(expected) == 32


def test_watcher_waits_for_settle_and_emits_once(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.create_bucket("media")
    seen = []
    backend = BosBackend(storage, on_event=seen.append)
    watcher = BucketWatcher(backend, settle_seconds=1.0)
    watcher._known = watcher.scan()
    backend.track_writes = True
    (storage.buckets_root / "media" / "f.mp4").write_bytes(b"abc")
    assert watcher.poll_once(now=100.0) == 0  # first sight: pending
    assert watcher.poll_once(now=100.5) == 0  # not settled yet
    assert watcher.poll_once(now=101.1) == 1
    assert watcher.poll_once(now=105.0) == 0
    assert [e["events"][0]["content"]["object"] for e in seen] == ["f.mp4"]


def test_watcher_skips_api_writes(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.create_bucket("media")
    seen = []
    backend = BosBackend(storage, on_event=seen.append)
    watcher = BucketWatcher(backend, settle_seconds=0.0)
    watcher._known = watcher.scan()
    backend.track_writes = True
    tmp = storage.new_temp_path()
    tmp.write_bytes(b"abc")
    backend.put_object("media", "api.mp4", tmp, hashlib.md5(b"abc").hexdigest(), None, {})
    assert len(seen) == 1
    watcher.poll_once(now=1.0)
    watcher.poll_once(now=2.0)
    assert len(seen) == 1
