"""HTTP POST for the downstream delivery (requests, imported on first use)."""

from __future__ import annotations


def requests_post(url: str, data: bytes, headers: dict[str, str], timeout: float) -> int:
    import requests

    return requests.post(url, data=data, headers=headers, timeout=timeout).status_code
