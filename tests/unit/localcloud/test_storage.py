import io
import os

import pytest

from localcloud.storage import InvalidKey, LocalStorage, NoSuchBucket, NoSuchKey


@pytest.fixture
def store(tmp_path):
    s = LocalStorage(tmp_path)
    s.create_bucket("media")
    return s


@pytest.mark.parametrize("key", ["plain.mp4", "dir/sub/a b.mp4", "视频/片段 1.mp4", "odd/#@$%^()&.mp4"])
def test_put_head_read_roundtrip(store, key):
    info = store.put("media", key, b"hello", content_type="video/mp4", user_metadata={"owner": "zoë"})
    assert info.etag == "5d41402abc4b2a76b9719d911017c592"  # md5("hello")
    head = store.head("media", key)
    assert (head.size, head.etag, head.content_type, head.user_metadata) == (
        5,
        info.etag,
        "video/mp4",
        {"owner": "zoë"},
    )
    assert store.read_bytes("media", key) == b"hello"
    assert key in list(store.iter_keys("media"))


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/abs", "a//b", "", "a/./b", "nul\x00"])
def test_traversal_and_malformed_keys_are_rejected(store, key):
    with pytest.raises(InvalidKey):
        store.put("media", key, b"x")
    assert not any(store.data_dir.parent.glob("escape"))


def test_file_dropped_into_bucket_dir_is_an_object(store):
    path = store.bucket_path("media") / "dropped" / "clip.mp4"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"hello")
    assert store.head("media", "dropped/clip.mp4").etag == "5d41402abc4b2a76b9719d911017c592"
    path.write_bytes(b"changed!")  # rewritten behind our back: metadata follows
    os.utime(path, ns=(1, 1))
    assert store.head("media", "dropped/clip.mp4").size == 8


def test_list_with_prefix_marker_delimiter(store):
    for key in ["a/1", "a/2", "b/1", "c", "d/x/y"]:
        store.put("media", key, io.BytesIO(b"x"))
    res = store.list("media", delimiter="/")
    assert [o.key for o in res.objects] == ["c"]
    assert res.common_prefixes == ["a/", "b/", "d/"]
    page = store.list("media", max_keys=2)
    assert [o.key for o in page.objects] == ["a/1", "a/2"] and page.is_truncated and page.next_marker == "a/2"
    rest = store.list("media", marker=page.next_marker)
    assert [o.key for o in rest.objects] == ["b/1", "c", "d/x/y"] and not rest.is_truncated
    assert [o.key for o in store.list("media", prefix="a/").objects] == ["a/1", "a/2"]


def test_delete_copy_and_missing(store):
    store.put("media", "x/y.mp4", b"1")
    store.create_bucket("out")
    copied = store.copy("media", "x/y.mp4", "out", "z.mp4")
    assert copied.etag == store.head("media", "x/y.mp4").etag
    store.delete("media", "x/y.mp4")
    assert not (store.bucket_path("media") / "x").exists()
    with pytest.raises(NoSuchKey):
        store.head("media", "x/y.mp4")
    with pytest.raises(NoSuchBucket):
        store.put("nope", "k", b"")
