"""The one retry policy of the use-cases (tenacity): transient errors are retried with exponential backoff
(backoff, 2*backoff, 4*backoff, ...), anything else is raised at once. `sleep` is injectable so tests drive time.

(tenacity costs ~3 ms of import once Powertools is loaded, so it is imported when a first attempt has failed: a cold
start whose calls succeed never pays for it.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from handlers.services.ports import MctError

if TYPE_CHECKING:
    from tenacity import Retrying

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
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

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
    try:  # the first attempt directly; tenacity drives the rest (waits backoff, then 2*backoff, 4*backoff, ...)
        return call()
    except Exception as exc:
        if attempts <= 1 or not is_transient(exc):
            raise
    sleep(backoff)
    return retrying(attempts=attempts - 1, backoff=2 * backoff, sleep=sleep)(call)
