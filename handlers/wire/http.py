"""HTTP requests in and out of the function: CFC HTTP-trigger / API-gateway v1 proxy events, API-gateway v2 events.

One plain `HttpRequest` for the use-cases, whatever carried it (the self-hosted ASGI app builds one directly), and
the `{statusCode, headers, body, isBase64Encoded}` answer CFC and API gateways expect. Parsed by hand: Powertools'
event-handler resolvers cost ~70 ms of imports at every cold start for two routes.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

JSON = "application/json"


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    # The body as text; None when it is not valid base64/UTF-8 (hostile or broken input, answered with a 400).
    body: str | None = ""


class NotAnHttpEvent(ValueError):
    """The event is neither a CFC HTTP-trigger / API-gateway v1 event nor a v2 event."""


def _text(body: Any, is_base64: bool) -> str | None:
    body = body or ""
    if not isinstance(body, str):
        return None
    if not is_base64 or not body:
        return body
    try:
        return base64.b64decode(body.encode("ascii"), validate=True).decode("utf-8")
    except (ValueError, UnicodeError):
        return None


def _str_dict(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def request_from_event(event: Any) -> HttpRequest:
    """-> HttpRequest; raises NotAnHttpEvent naming the missing field."""
    if not isinstance(event, dict):
        raise NotAnHttpEvent("event must be a JSON object (an HTTP trigger / API gateway proxy event)")
    body = _text(event.get("body"), bool(event.get("isBase64Encoded")))
    headers = _str_dict(event.get("headers"))
    if event.get("version") == "2.0" and "rawPath" in event:
        http = (event.get("requestContext") or {}).get("http") or {}
        query = _str_dict(event.get("queryStringParameters"))
        if not query and event.get("rawQueryString"):
            query = dict(parse_qsl(str(event["rawQueryString"]), keep_blank_values=True))
        method = http.get("method") or event.get("httpMethod") or "POST"
        return HttpRequest(str(method).upper(), str(event.get("rawPath") or "/"), headers, query, body)
    if "httpMethod" not in event:
        raise NotAnHttpEvent("httpMethod is missing: not an HTTP trigger / API gateway proxy event")
    query = _str_dict(event.get("queryStringParameters"))
    return HttpRequest(str(event["httpMethod"]).upper(), str(event.get("path") or "/"), headers, query, body)


def json_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }
