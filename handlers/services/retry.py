"""The one retry policy of the use-cases: transient MctErrors are retried with exponential backoff."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from handlers.services.ports import MctError

T = TypeVar("T")


def with_retries(
    call: Callable[[], T], *, attempts: int, backoff: float, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run `call`, retrying transient MctErrors with exponential backoff (backoff, 2*backoff, ...)."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except MctError as exc:
            if not exc.transient or attempt == attempts:
                raise
            sleep(backoff * (2 ** (attempt - 1)))
    raise AssertionError("unreachable")


# --- the real SDK -----------------------------------------------------------------------------------------------------
