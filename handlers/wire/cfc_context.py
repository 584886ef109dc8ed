"""The one adapter from a CFC context to what Powertools' inject_lambda_context reads.

[UNVERIFIED] CFC documents its Python `context` as "usually a dict" without naming the keys; Baidu's open-source
FaaS engine (EasyFaaS) passes `requestid`, `accessKey`, `secretKey`, `securityToken`, `clientContext`. So the
context may be a dict or an object: we read keys or attributes named request_id / requestid / requestId /
bce_request_id / aws_request_id, function_name / functionName, function_version, function_brn /
invoked_function_arn, memory_limit_in_mb and get_remaining_time_in_millis(), tolerating missing ones and None.
The BCE_USER_* fallbacks are the runtime's env vars seen in Baidu's Go/Java runtimes (reference
events-and-templates §4).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT_MS = 300_000  # CFC max run time


def _attr(context: Any, *names: str) -> Any:
    """The first non-empty value among `names`, read as dict keys or as attributes."""
    for name in names:
        if isinstance(context, Mapping):
            value = context.get(name)
        else:
            value = getattr(context, name, None) if context is not None else None
        if callable(value) and not name.startswith("get_"):
            continue
        if value not in (None, ""):
            return value
    return None


@dataclass
class LambdaContextAdapter:
    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)
    _source: Any = field(default=None, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        getter = getattr(self._source, "get_remaining_time_in_millis", None)
        if callable(getter):
            try:
                value = getter()
                if value is not None:
                    return int(value)
            except Exception:
                pass
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def adapt_context(context: Any) -> LambdaContextAdapter:
    """Any CFC (or Lambda, or None) context -> an object with the Lambda context attributes."""
    if isinstance(context, LambdaContextAdapter):
        return context
    env = os.environ
    name = _attr(context, "function_name", "functionName") or env.get("BCE_USER_FUNCTION_NAME") or "autotranscode-local"
    version = _attr(context, "function_version", "functionVersion") or env.get("BCE_USER_FUNCTION_VERSION") or "$LATEST"
    brn = _attr(context, "function_brn", "functionBrn", "invoked_function_arn", "invoked_function_brn") or env.get(
        "BCE_USER_FUNCTION_BRN", f"brn:local:cfc:function:{name}"
    )
    memory = _attr(context, "memory_limit_in_mb", "memoryLimitInMB") or env.get("BCE_USER_FUNCTION_MEMSIZE") or 128
    request_id = _attr(context, "request_id", "requestid", "requestId", "bce_request_id", "aws_request_id") or env.get(
        "_REQUEST_ID"
    )
    try:
        memory = int(memory)
    except (TypeError, ValueError):
        memory = 128
    return LambdaContextAdapter(
        function_name=str(name),
        function_version=str(version),
        invoked_function_arn=str(brn),
        memory_limit_in_mb=memory,
        # Not uuid4(): importing uuid (and platform with it) costs ~6 ms of every cold start.
        aws_request_id=str(request_id or f"local-{os.urandom(16).hex()}"),
        _deadline=time.monotonic() + DEFAULT_TIMEOUT_MS / 1000,
        _source=context,
    )
