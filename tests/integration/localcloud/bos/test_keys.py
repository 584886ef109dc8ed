"""Keys localcloud BOS cannot store answer 400 InvalidObjectName to the real BosClient (never a 500 it retries)."""

from __future__ import annotations

import pytest
from baidubce.exception import BceError, BceHttpClientError, BceServerError

from localcloud.bos import BosService
from localcloud.serve import serve_in_thread
from tests.integration.localcloud.bos.test_sdk import Recorder, client_for


class CountingApp:
    """The service's ASGI app, counting the requests that reach it (to see whether the SDK retried)."""

    def __init__(self, app):
        self.app = app
        self.requests: list[tuple[str, str]] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.requests.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)


@pytest.fixture
def setup(tmp_path):
    recorder = Recorder()
    service = BosService(tmp_path / "data", on_event=recorder)
    app = CountingApp(service.app)
    server = serve_in_thread(app)
    client = client_for(server)
    client.create_bucket("media")
    yield client, app, recorder, service
    server.stop()


def server_error(call) -> BceServerError:
    with pytest.raises(BceError) as exc:
        call()
    err = exc.value
    return err.last_error if isinstance(err, BceHttpClientError) else err


@pytest.mark.parametrize(
    "key,says",
    [
        ("incoming/" + "x" * 900 + ".mp4", "904 bytes"),  # one segment longer than a file name (issue 12)
        ("incoming/" + "视" * 100 + ".mp4", "304 bytes"),  # 100 CJK characters: 300 bytes of UTF-8
        ("a/" * 400 + "b" * 300, "1100 bytes; BOS allows at most 1024"),  # over BOS's own limit
    ],
)
def test_unstorable_key_is_a_400_the_sdk_does_not_retry(setup, key, says):
    client, app, recorder, service = setup
    before = len(app.requests)
    error = server_error(lambda: client.put_object_from_string("media", key, "data"))
    assert error.status_code == 400 and error.code == "InvalidObjectName"
    assert says in str(error)
    assert len(app.requests) == before + 1  # a 4xx is final: no retry
    assert recorder.records() == []  # nothing stored, no event
    assert [k.key for k in client.list_objects("media").contents] == []
    for call in (
        lambda: client.get_object_meta_data("media", key),
        lambda: client.initiate_multipart_upload("media", key),
        lambda: client.copy_object("media", "nothing.mp4", "media", key),
    ):
        assert server_error(call).status_code in (400, 404)  # (head answers 400 without a body the SDK can read)


def test_long_keys_within_the_limits_round_trip(setup):
    client, app, recorder, service = setup
    key = "/".join(["s" * 250] * 4) + "/" + "e" * 19  # 1023 bytes, every segment a legal file name
    assert len(key.encode()) == 1023
    client.put_object_from_string("media", key, "kept")
    assert client.get_object_as_string("media", key) == b"kept"
    assert [r["content"]["object"] for r in recorder.records()] == [key]
