"""The one retry policy of the use-cases (tenacity): transient errors are retried with exponential backoff
(backoff, 2*backoff, 4*backoff, ...), anything else is raised at once. `sleep` is injectable so tests drive time.

(tenacity costs ~3 ms of import once Powertools is loaded.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from handlers.services.ports import MctError

T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, MctError) and exc.transient


def retrying(
    *,
    attempts: int,
    backoff: float,
    retry_on: Callable[[BaseException], bool] = is_transient,
    sleep: Callable[[float], None] = time.sleep,
) -> Retrying:
    """A tenacity Retrying: at most `attempts` calls, waits backoff * 2**(n-1), the last error re-raised."""
    return Retrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential(multiplier=backoff, exp_base=2, min=0),
        retry=retry_if_exception(retry_on),
        sleep=sleep,
        reraise=True,
    )


def with_retries(
    call: Callable[[], T], *, attempts: int, backoff: float, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run `call`, retrying transient MctErrors with exponential backoff."""
    return retrying(attempts=attempts, backoff=backoff, sleep=sleep)(call)
