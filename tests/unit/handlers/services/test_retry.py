import pytest

from handlers.services.ports import MctError
from handlers.services.retry import with_retries


def flaky(failures, error):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return len(calls)

    return call, calls


def test_transient_errors_are_retried_with_doubling_waits():
    call, _ = flaky(2, MctError("busy", status=503, transient=True))
    sleeps = []
    assert with_retries(call, attempts=4, backoff=0.3, sleep=sleeps.append) == 3
    assert sleeps == [0.3, 0.6]


def test_the_last_transient_error_is_raised_after_the_attempts():
    call, calls = flaky(10, MctError("busy", status=503, transient=True))
    sleeps = []
    with pytest.raises(MctError, match="busy"):
        with_retries(call, attempts=3, backoff=0.1, sleep=sleeps.append)
    assert len(calls) == 3 and sleeps == [0.1, 0.2]


def test_a_permanent_error_is_raised_at_once():
    call, calls = flaky(10, MctError("bad preset", status=400))
    with pytest.raises(MctError, match="bad preset"):
        with_retries(call, attempts=5, backoff=0.1, sleep=lambda s: pytest.fail("slept"))
    assert len(calls) == 1
