"""BOS through baidubce's BosClient (the real SDK), for the few calls the functions make (HLS master playlists).
The client is built on first use: most invocations never touch BOS."""

from __future__ import annotations

import threading
from typing import Any


class SdkBos:
    def __init__(self, endpoint: str, access_key_id: str, secret_access_key: str, session_token: str | None = None,
                 timeout_seconds: float = 10) -> None:  # fmt: skip
        self._settings = (endpoint, access_key_id, secret_access_key, session_token, timeout_seconds)
        self._client: Any = None
        self._lock = threading.Lock()

    def _bos(self) -> Any:
        with self._lock:
            if self._client is None:
                from handlers.adapters import sdk_imports

                sdk_imports.prepare()
                from baidubce.auth.bce_credentials import BceCredentials
                from baidubce.bce_client_configuration import BceClientConfiguration
                from baidubce.services.bos.bos_client import BosClient

                endpoint, ak, sk, token, timeout = self._settings
                config = BceClientConfiguration(credentials=BceCredentials(ak, sk), endpoint=endpoint,
                                                security_token=token,
                                                connection_timeout_in_mills=int(timeout * 1000))  # fmt: skip
                self._client = BosClient(config)
            return self._client

    def get_text(self, bucket: str, key: str) -> str:
        data = self._bos().get_object_as_string(bucket, key)
        return data.decode("utf-8") if isinstance(data, bytes) else str(data)

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]:
        found: dict[str, int] = {}
        marker = None
        while True:
            page = self._bos().list_objects(bucket, max_keys=1000, prefix=prefix, marker=marker)
            for item in page.contents or []:
                found[item.key] = int(item.size)
            if not getattr(page, "is_truncated", False) or not page.contents:
                return found
            marker = getattr(page, "next_marker", None) or page.contents[-1].key

    def put_text(self, bucket: str, key: str, text: str, content_type: str) -> None:
        self._bos().put_object_from_string(bucket, key, text, content_type=content_type)
