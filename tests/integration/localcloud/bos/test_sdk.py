"""localcloud BOS against the real bce-python-sdk BosClient over HTTP."""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import time
from urllib.parse import unquote

import pytest
from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.exception import BceHttpClientError, BceServerError
from baidubce.services.bos.bos_client import BosClient

from localcloud import bce_auth
from localcloud.bos import BosService
from localcloud.bos.models import multipart_etag
from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.serve import serve_in_thread

ODD_KEYS = ["视频/上传 文件.mp4", "a b/c#d@e$f%g^h(i)j&k.txt", "plus+sign=eq;semi,comma'q.bin", "ü/ñ/é.txt"]


class Recorder:
    def __init__(self):
        self.events: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict) -> None:
        with self.lock:
            self.events.append(event)

    def records(self) -> list[dict]:
        with self.lock:
            return [e for body in self.events for e in body["events"]]


@pytest.fixture
def bos(tmp_path):
    recorder = Recorder()
    service = BosService(tmp_path / "data", on_event=recorder)
    service.start()
    server = serve_in_thread(service.app)
    service.recorder = recorder
    service.server = server
    yield service
    server.stop()
    service.stop()


def client_for(server, sk: str = DEFAULT_SECRET_KEY) -> BosClient:
    config = BceClientConfiguration(credentials=BceCredentials(DEFAULT_ACCESS_KEY, sk), endpoint=server.endpoint)
    return BosClient(config)


@pytest.fixture
def client(bos) -> BosClient:
    c = client_for(bos.server)
    c.create_bucket("media")
    return c


def server_error(exc_info) -> BceServerError:
    err = exc_info.value
    return err.last_error if isinstance(err, BceHttpClientError) else err


def test_buckets_create_list_exist_delete(bos):
    c = client_for(bos.server)
    assert not c.does_bucket_exist("alpha")
    c.create_bucket("alpha")
    c.create_bucket("beta-2")
    assert c.does_bucket_exist("alpha")
    names = [b.name for b in c.list_buckets().buckets]
    assert names == ["alpha", "beta-2"]
    with pytest.raises(BceHttpClientError) as exc:
        c.create_bucket("alpha")
    assert server_error(exc).code == "BucketAlreadyExists"
    c.put_object_from_string("alpha", "x", "1")
    with pytest.raises(BceHttpClientError) as exc:
        c.delete_bucket("alpha")
    assert server_error(exc).code == "BucketNotEmpty"
    c.delete_object("alpha", "x")
    c.delete_bucket("alpha")
    assert not c.does_bucket_exist("alpha")


def test_put_get_string_bytes_and_file(client, tmp_path):
    resp = client.put_object_from_string("media", "hello.txt", "hello world")
    assert resp.metadata.etag == hashlib.md5(b"hello world").hexdigest()
    assert client.get_object_as_string("media", "hello.txt") == b"hello world"

    data = os.urandom(300_000)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    client.put_object_from_file("media", "dir/file.bin", str(src))
    out = tmp_path / "out.bin"
    client.get_object_to_file("media", "dir/file.bin", str(out))
    assert out.read_bytes() == data
    head = client.get_object_meta_data("media", "dir/file.bin")
    assert int(head.metadata.content_length) == len(data)
    assert head.metadata.etag == hashlib.md5(data).hexdigest()


def test_range_reads(client, tmp_path):
    client.put_object_from_string("media", "r.txt", "0123456789")
    assert client.get_object_as_string("media", "r.txt", range=[2, 5]) == b"2345"
    assert client.get_object_as_string("media", "r.txt", range=[7, 100]) == b"789"
    out = tmp_path / "part"
    client.get_object_to_file("media", "r.txt", str(out), range=[0, 0])
    assert out.read_bytes() == b"0"
    with pytest.raises(BceHttpClientError) as exc:
        client.get_object_as_string("media", "r.txt", range=[50, 60])
    assert server_error(exc).status_code == 416


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_round_trip(client, key):
    client.put_object_from_string("media", key, f"content of {key}")
    assert client.get_object_as_string("media", key) == f"content of {key}".encode()
    keys = [o.key for o in client.list_objects("media").contents]
    assert key in keys
    assert [o.key for o in client.list_objects("media", prefix=key[:3]).contents] == [key]
    assert (
        client.get_object_meta_data("media", key).metadata.etag == hashlib.md5(f"content of {key}".encode()).hexdigest()
    )
    client.delete_object("media", key)
    assert key not in [o.key for o in client.list_objects("media").contents]


def test_user_metadata_and_content_type(client):
    client.put_object_from_string(
        "media", "m.mp4", "x", content_type="video/mp4", user_metadata={"owner": "ann", "title": "夏天"}
    )
    head = client.get_object_meta_data("media", "m.mp4")
    assert head.metadata.content_type == "video/mp4"
    assert head.metadata.bce_meta_owner == "ann"
    assert head.metadata.bce_meta_title == "夏天"  # UTF-8 header bytes, decoded by the SDK's header parser
    got = client.get_object("media", "m.mp4")
    got.data.read()
    # get_object's user_metadata reads raw (latin-1) header values: the SDK only decodes UTF-8 elsewhere.
    assert got.metadata.user_metadata["owner"] == "ann"
    assert got.metadata.user_metadata["title"].encode("latin-1").decode("utf-8") == "夏天"


def test_list_paging_prefix_delimiter(client):
    keys = [f"in/{i:02d}.mp4" for i in range(7)] + ["in/sub/a.mp4", "in/sub/b.mp4", "out/x.mp4", "root.txt"]
    for k in keys:
        client.put_object_from_string("media", k, k)
    page = client.list_objects("media", max_keys=3, prefix="in/")
    assert [o.key for o in page.contents] == ["in/00.mp4", "in/01.mp4", "in/02.mp4"]
    assert page.is_truncated and page.next_marker == "in/02.mp4"
    collected = list(o.key for o in client.list_all_objects("media", prefix="in/"))
    assert collected == sorted(k for k in keys if k.startswith("in/"))
    page = client.list_objects("media", delimiter="/")
    assert [p.prefix for p in page.common_prefixes] == ["in/", "out/"]
    assert [o.key for o in page.contents] == ["root.txt"]
    page = client.list_objects("media", prefix="in/", delimiter="/", marker="in/05.mp4")
    assert [o.key for o in page.contents] == ["in/06.mp4"]
    assert [p.prefix for p in page.common_prefixes] == ["in/sub/"]


def test_copy_object_keeps_or_replaces_metadata(client):
    client.put_object_from_string("media", "a.txt", "abc", user_metadata={"k": "v"})
    resp = client.copy_object("media", "a.txt", "media", "b.txt")
    assert resp.etag == hashlib.md5(b"abc").hexdigest()
    assert client.get_object_meta_data("media", "b.txt").metadata.bce_meta_k == "v"
    client.copy_object("media", "a.txt", "media", "c.txt", user_metadata={"n": "1"})
    head = client.get_object_meta_data("media", "c.txt")
    assert head.metadata.bce_meta_n == "1" and head.metadata.bce_meta_k is None
    with pytest.raises(BceHttpClientError) as exc:
        client.copy_object("media", "a.txt", "media", "d.txt", etag="0" * 32)
    assert server_error(exc).code == "PreconditionFailed"


def test_multipart_super_object(client, tmp_path, bos):
    data = os.urandom(2 * 1024 * 1024 + 12345)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    assert client.put_super_object_from_file("media", "big/video.mp4", str(src), chunk_size=1, thread_num=3)
    assert client.get_object_as_string("media", "big/video.mp4") == data
    parts = [data[i : i + 1024 * 1024] for i in range(0, len(data), 1024 * 1024)]
    expected = multipart_etag([hashlib.md5(p).hexdigest() for p in parts])
    assert client.get_object_meta_data("media", "big/video.mp4").metadata.etag == expected
    assert list(client.list_all_multipart_uploads("media")) == []
    records = bos.recorder.records()
    assert [r["eventType"] for r in records] == ["CompleteMultipartUpload"]
    assert records[0]["content"]["filesize"] == len(data)


def test_multipart_step_by_step_list_and_abort(client, tmp_path):
    upload_id = client.initiate_multipart_upload("media", "mp/a.bin", content_type="video/mp4").upload_id
    src = tmp_path / "p"
    src.write_bytes(b"A" * 1000 + b"B" * 500)
    e1 = client.upload_part_from_file("media", "mp/a.bin", upload_id, 1, 1000, str(src), 0).metadata.etag
    e2 = client.upload_part_from_file("media", "mp/a.bin", upload_id, 2, 500, str(src), 1000).metadata.etag
    parts = client.list_parts("media", "mp/a.bin", upload_id)
    assert [(p.part_number, p.size) for p in parts.parts] == [(1, 1000), (2, 500)]
    assert [u.upload_id for u in client.list_all_multipart_uploads("media")] == [upload_id]
    with pytest.raises(BceHttpClientError) as exc:
        client.complete_multipart_upload("media", "mp/a.bin", upload_id, [{"partNumber": 1, "eTag": "f" * 32}])
    assert server_error(exc).code == "InvalidPart"
    done = client.complete_multipart_upload(
        "media", "mp/a.bin", upload_id, [{"partNumber": 1, "eTag": e1}, {"partNumber": 2, "eTag": e2}]
    )
    assert done.key == "mp/a.bin" and done.etag == multipart_etag([e1, e2])
    assert client.get_object_meta_data("media", "mp/a.bin").metadata.content_type == "video/mp4"

    other = client.initiate_multipart_upload("media", "mp/b.bin").upload_id
    client.abort_multipart_upload("media", "mp/b.bin", other)
    with pytest.raises(BceHttpClientError) as exc:
        client.list_parts("media", "mp/b.bin", other)
    assert server_error(exc).code == "NoSuchUpload"


def test_errors_surface_as_sdk_errors(client):
    with pytest.raises(BceHttpClientError) as exc:
        client.get_object_as_string("media", "missing.txt")
    err = server_error(exc)
    assert err.code == "NoSuchKey" and err.status_code == 404 and err.request_id
    with pytest.raises(BceHttpClientError) as exc:
        client.get_object_as_string("nobucket", "x")
    assert server_error(exc).code == "NoSuchBucket"
    with pytest.raises(BceHttpClientError) as exc:
        client.get_object_meta_data("media", "missing.txt")
    assert server_error(exc).status_code == 404
    with pytest.raises(BceHttpClientError) as exc:
        client.delete_object("media", "missing.txt")
    assert server_error(exc).code == "NoSuchKey"


def test_bad_signature_rejected(bos):
    bad = client_for(bos.server, sk="wrong-secret")
    with pytest.raises(BceHttpClientError) as exc:
        bad.list_buckets()
    assert server_error(exc).code == "SignatureDoesNotMatch"


def raw_request(server, method: str, raw_path: str, body: bytes = b"") -> tuple[int, bytes]:
    """A correctly signed request with a hand-made path (the SDK refuses '..' keys itself)."""
    host = server.endpoint
    now = bce_auth.format_timestamp(time.time())
    headers = {"host": host, "content-length": str(len(body)), "x-bce-date": now}
    headers["authorization"] = bce_auth.sign(
        DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, method, unquote(raw_path), [], headers
    )
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request(method, raw_path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


@pytest.mark.parametrize("path", ["/media/a/../../escape.txt", "/media/%2e%2e/escape.txt", "/media/x/./y"])
def test_traversal_rejected(client, bos, path):
    status, body = raw_request(bos.server, "PUT", path, b"evil")
    assert status == 400, body
    assert b"InvalidObjectName" in body, body
    assert not (bos.storage.data_dir / "buckets" / "escape.txt").exists()
    assert not (bos.storage.data_dir / "escape.txt").exists()


def test_location_unsupported_and_bad_digest(client):
    assert client.get_bucket_location("media") == "bj"
    with pytest.raises(BceHttpClientError) as exc:
        client.get_bucket_acl("media")
    assert server_error(exc).status_code == 501
    with pytest.raises(BceHttpClientError) as exc:
        client.put_object_from_string("media", "k", "data", content_md5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert server_error(exc).code == "BadDigest"
    assert not client.list_objects("media").contents


def test_pre_signed_url_download(client):
    import urllib.error
    import urllib.request

    client.put_object_from_string("media", "shared/clip 1.mp4", "shared bytes")
    url = client.generate_pre_signed_url("media", "shared/clip 1.mp4", expiration_in_seconds=60).decode()
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"shared bytes"
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(url.replace("shared/clip", "shared/other"), timeout=10)
    assert exc.value.code in (400, 403)


def test_put_into_missing_bucket_leaves_no_temp_file(client, bos):
    with pytest.raises(BceHttpClientError) as exc:
        client.put_object_from_string("nobucket", "k", "x" * 100_000)
    assert server_error(exc).code == "NoSuchBucket"
    assert list((bos.storage.data_dir / "tmp").iterdir()) == []
