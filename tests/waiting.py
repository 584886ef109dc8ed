"""Waiting in tests: until a condition holds, or until the system has nothing left to do. Never a fixed sleep.

An absence check ("no second done event arrived") is only meaningful once nothing that could still produce the
absent thing is in flight: work in flight always leaves a count somewhere (an MCT outbox row, a queued or running
transcode, a pending callback hint, a queued function invocation). `wait_idle` waits until every such count is zero
on several consecutive looks; the check that follows can then fail for real.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns something truthy (returned) or `timeout` seconds pass (TimeoutError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached after {timeout}s")
        time.sleep(interval)


def wait_idle(*outstanding: Callable[[], int], timeout: float = 60.0, settle: int = 5, what: str = "the system"):
    """Wait until every `outstanding()` count is 0 on `settle` consecutive looks (50 ms apart)."""
    quiet = 0

    def idle() -> bool:
        nonlocal quiet
        quiet = quiet + 1 if all(count() == 0 for count in outstanding) else 0
        return quiet >= settle

    wait_for(idle, timeout=timeout, what=f"{what} idle")


def pending_hints(store) -> int:
    """Callbacks the self-hosted webhook accepted and has not verified yet (handlers.services.inbox)."""
    from handlers.domain.clock import utcnow

    return len(store.due_hints(utcnow() + timedelta(days=1), 10_000))


def mct_outstanding(service) -> int:
    """localcloud MCT: transcodes queued or running, plus callbacks not yet delivered (or given up)."""
    return service.scheduler.queued() + service.scheduler.running_processes() + service.notifier.pending()


def stack_outstanding(stack) -> int:
    """A LocalStack: its MCT's work plus function invocations queued or running."""
    runtime = stack.runtime.outstanding() if stack.runtime is not None else 0
    return runtime + (mct_outstanding(stack.mct) if stack.mct is not None else 0)
