"""BOS through baidubce's BosClient (the real SDK), for the few calls the functions make: HLS master playlists
(get_text, sizes, put_text), and the sweep's listing and the version check (list_objects, current_etag: their errors
become BosError with `transient` saying whether trying again can help). The client is built on first use: most
invocations never touch BOS."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from handlers.services.ports import BosError, ListedObject, ObjectPage

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def parse_bos_time(text: str) -> datetime:
    """BOS listing time ("2026-12-01T13:59:18Z", maybe with a fraction) -> naive UTC."""
    # Python 3.10's fromisoformat takes only 3 or 6 fraction digits and no "Z".
    text = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "000000")[:6], text.strip().replace("Z", "+00:00"))
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


class SdkBos:
    def __init__(self, endpoint: str, access_key_id: str, secret_access_key: str, session_token: str | None = None,
                 timeout_seconds: float = 10) -> None:  # fmt: skip
        self.endpoint = endpoint
        self._settings = (endpoint, access_key_id, secret_access_key, session_token, timeout_seconds)
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from handlers.adapters import sdk_imports

                sdk_imports.prepare()
                from baidubce.auth.bce_credentials import BceCredentials
                from baidubce.bce_client_configuration import BceClientConfiguration
                from baidubce.retry.retry_policy import NoRetryPolicy
                from baidubce.services.bos.bos_client import BosClient

                endpoint, ak, sk, token, timeout = self._settings
                # No retries inside the SDK (its default backs off ~2 s per call): every BOS call here is retried
                # at a higher level already (the version check fails open, the sweep runs again, the master
                # playlist is written again with every delivery), and an upload must not wait on BOS.
                config = BceClientConfiguration(credentials=BceCredentials(ak, sk), endpoint=endpoint,
                                                security_token=token, retry_policy=NoRetryPolicy(),
                                                connection_timeout_in_mills=int(timeout * 1000))  # fmt: skip
                self._client = BosClient(config)
            return self._client

    # --- HLS master playlists ---
    def get_text(self, bucket: str, key: str) -> str:
        data = self.client.get_object_as_string(bucket, key)
        return data.decode("utf-8") if isinstance(data, bytes) else str(data)

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]:
        found: dict[str, int] = {}
        marker = None
        while True:
            page = self.client.list_objects(bucket, max_keys=1000, prefix=prefix, marker=marker)
            for item in page.contents or []:
                found[item.key] = int(item.size)
            if not getattr(page, "is_truncated", False) or not page.contents:
                return found
            marker = getattr(page, "next_marker", None) or page.contents[-1].key

    def put_text(self, bucket: str, key: str, text: str, content_type: str) -> None:
        self.client.put_object_from_string(bucket, key, text, content_type=content_type)

    # --- the sweep and the version check ---
    def _call(self, fn: Callable[[], Any], not_found: Any = BosError) -> Any:
        from baidubce.exception import BceError, BceHttpClientError, BceServerError

        try:
            return fn()
        except (BceHttpClientError, BceServerError) as exc:
            last = exc.last_error if isinstance(exc, BceHttpClientError) else exc
            if isinstance(last, BceServerError):
                if last.status_code == 404 and not_found is not BosError:
                    return not_found
                transient = last.status_code in TRANSIENT_STATUSES
                raise BosError(f"BOS answered {last.status_code} {last.code}: {last}", transient=transient) from None
            raise BosError(f"BOS unreachable: {last!r}", transient=True) from None
        except BceError as exc:
            raise BosError(f"BOS client error: {exc}") from None
        except OSError as exc:
            raise BosError(f"BOS unreachable: {exc!r}", transient=True) from None

    def list_objects(self, bucket: str, prefix: str, marker: str | None, max_keys: int) -> ObjectPage:
        resp = self._call(
            lambda: self.client.list_objects(bucket, max_keys=max_keys, prefix=prefix or None, marker=marker or None)
        )
        objects = [
            ListedObject(str(o.key), str(o.etag or "").strip('"'), int(o.size or 0), parse_bos_time(o.last_modified))
            for o in (resp.contents or [])
        ]
        truncated = bool(resp.is_truncated) and objects
        next_marker = (getattr(resp, "next_marker", None) or objects[-1].key) if truncated else None
        return ObjectPage(objects, next_marker)

    def current_etag(self, bucket: str, key: str) -> str | None:
        missing = object()
        resp = self._call(lambda: self.client.get_object_meta_data(bucket, key), not_found=missing)
        if resp is missing:
            return None
        return str(resp.metadata.etag or "").strip('"') or None
