"""One warm CFC function instance: a child process that imports the handler once and serves invocations.

Started by ``localcloud.cfc.pool`` with the function's environment as its whole environment (so functions never
see each other's variables or module state, as in CFC where each function has its own container). Stdlib only:
it must not import localcloud, which does not exist in CFC either.

Protocol: one JSON object per line. Parent → child on ``--request-fd``: ``{"requestId", "event", "deadline",
"context": {...}}``. Child → parent on ``--response-fd``: first ``{"ready": true}`` (or ``{"ready": false,
"error"}``), then per request ``{"requestId", "ok": true, "result"}`` or ``{"requestId", "ok": false, "error":
{"errorType", "errorMessage", "stackTrace"}}``. Stdout/stderr are the function's log.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback


class CfcContext:
    """The context object handlers receive. CFC's Python attribute names are [UNVERIFIED] (reference §4):
    these follow the brief and the CFC Go/Java runtimes; handlers adapt it in one place before Powertools."""

    def __init__(self, request_id, function_name, function_version, function_brn, memory_limit_in_mb, deadline):
        self.request_id = request_id
        self.function_name = function_name
        self.function_version = function_version
        self.function_brn = function_brn
        self.memory_limit_in_mb = memory_limit_in_mb
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))

    def __repr__(self):
        return f"CfcContext(request_id={self.request_id!r}, function_name={self.function_name!r})"


def _error(exc: BaseException) -> dict:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--request-fd", type=int, required=True)
    parser.add_argument("--response-fd", type=int, required=True)
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--handler", required=True)
    args = parser.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, args.code_dir)
    requests = os.fdopen(args.request_fd, "r", encoding="utf-8")
    responses = os.fdopen(args.response_fd, "w", encoding="utf-8")

    def reply(message: dict) -> None:
        try:
            line = json.dumps(message)
        except (TypeError, ValueError) as exc:
            line = json.dumps(
                {
                    "requestId": message.get("requestId"),
                    "ok": False,
                    "error": {"errorType": "ResultNotSerializable", "errorMessage": str(exc), "stackTrace": []},
                }
            )
        responses.write(line + "\n")
        responses.flush()

    module_name, _, func_name = args.handler.rpartition(".")
    try:
        if not module_name:
            raise ValueError(f"Handler {args.handler!r} must be module.function (e.g. index.handler)")
        handler = getattr(importlib.import_module(module_name), func_name)
    except BaseException as exc:  # an import error is the function's error, reported to the runtime
        traceback.print_exc()
        reply({"ready": False, "error": _error(exc)})
        return 1
    reply({"ready": True})

    for line in requests:
        message = json.loads(line)
        ctx = message["context"]
        context = CfcContext(
            message["requestId"],
            ctx["function_name"],
            ctx["function_version"],
            ctx["function_brn"],
            ctx["memory_limit_in_mb"],
            message["deadline"],
        )
        try:
            result = handler(message["event"], context)
        except BaseException as exc:
            traceback.print_exc()
            sys.stderr.flush()
            reply({"requestId": message["requestId"], "ok": False, "error": _error(exc)})
            continue
        sys.stdout.flush()
        reply({"requestId": message["requestId"], "ok": True, "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
