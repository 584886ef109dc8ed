"""Serve the console next to a running localcloud (`autotranscode up`, the demo)."""

from __future__ import annotations

from autotranscode.console.app import ConsoleSettings, build_app
from autotranscode.console.sources import sources_for_stack


def serve_for_stack(stack, host: str = "127.0.0.1", port: int = 0, settings: ConsoleSettings | None = None):
    """Start the console in a thread over ``stack``; -> localcloud.serve.RunningServer (``.url``, ``.stop()``)."""
    from localcloud.serve import serve_in_thread

    app = build_app(sources_for_stack(stack), settings or ConsoleSettings())
    return serve_in_thread(app, host=host, port=port)
