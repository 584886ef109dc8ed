"""Test helpers: a real MCT service on a free port and a real Baidu ``MediaClient`` pointed at it.

mct = running_mct(tmp_path)              # or: with running_mct(tmp_path) as (service, server, client): ...
service, server, client = mct
client.create_pipeline("p1", "in", "out")
mct.stop()
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.services.media.media_client import MediaClient

from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from localcloud.mct.service import MctService
from localcloud.serve import RunningServer, serve_in_thread
from localcloud.storage import LocalStorage


def media_client(endpoint: str, access_key: str = DEFAULT_ACCESS_KEY, secret_key: str = DEFAULT_SECRET_KEY):
    """A real ``MediaClient`` for ``endpoint`` (``host:port``)."""
    config = BceClientConfiguration(credentials=BceCredentials(access_key, secret_key), endpoint=endpoint)
    return MediaClient(config)


class RunningMct(NamedTuple):
    service: MctService
    server: RunningServer
    client: MediaClient

    def stop(self) -> None:
        self.server.stop()
        self.service.close()

    def __enter__(self) -> RunningMct:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def running_mct(
    data_dir: str | os.PathLike[str],
    storage: LocalStorage | None = None,
    start: bool = True,
    buckets: tuple[str, ...] = (),
    **service_kwargs,
) -> RunningMct:
    """Start an ``MctService`` over HTTP (scheduler + notifier too unless ``start=False``); ``buckets`` are created."""
    service = MctService(data_dir, storage=storage, **service_kwargs)
    for bucket in buckets:
        service.storage.create_bucket(bucket, exist_ok=True)
    server = serve_in_thread(service.app)
    service.server_name = server.endpoint
    if start:
        service.start()
    return RunningMct(service, server, media_client(server.endpoint))


TERMINAL = ("SUCCESS", "FAILED")


def wait_for_job(client: MediaClient, job_id: str, timeout: float = 60, thumbnail: bool = False):
    """Poll ``get_job`` (or ``get_thumbnail_job``) until the job is SUCCESS/FAILED; returns the last response."""
    get = client.get_thumbnail_job if thumbnail else client.get_job
    deadline = time.monotonic() + timeout
    while True:
        job = get(job_id)
        if job.job_status in TERMINAL:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job.job_status} after {timeout}s")
        time.sleep(0.05)


def signed_request(
    base_url: str,
    method: str,
    path: str,
    body: dict | None = None,
    params: dict | None = None,
    access_key: str = DEFAULT_ACCESS_KEY,
    secret_key: str = DEFAULT_SECRET_KEY,
):
    """A bce-auth-v1 signed raw HTTP request (for API fields the Python SDK cannot send, e.g. notification
    ``type``/``token``). Returns the ``requests.Response``."""
    import json
    from urllib.parse import urlsplit

    import requests

    from localcloud import bce_auth

    data = json.dumps(body).encode("utf-8") if body is not None else b""
    headers = {
        "host": urlsplit(base_url).netloc,
        "content-length": str(len(data)),
        "x-bce-date": bce_auth.format_timestamp(time.time()),
    }
    if body is not None:
        headers["content-type"] = "application/json; charset=utf-8"
    pairs = list((params or {}).items())
    headers["authorization"] = bce_auth.sign(access_key, secret_key, method, path, pairs, headers)
    return requests.request(method, base_url + path, params=pairs, data=data, headers=headers, timeout=30)
