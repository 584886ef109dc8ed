import pytest

from handlers.wire.downstream import app_answer


@pytest.mark.parametrize(
    "code, error, delivered, give_up, recorded",
    [
        (200, None, True, False, None),
        (204, None, True, False, None),
        (503, None, False, False, "HTTP 503"),
        (429, None, False, False, "HTTP 429"),
        (408, None, False, False, "HTTP 408"),
        (400, None, False, True, "HTTP 400"),
        (404, None, False, True, "HTTP 404"),
        (None, "ConnectionError: refused", False, False, "ConnectionError: refused"),
    ],
)
def test_what_the_apps_answer_means(code, error, delivered, give_up, recorded):
    answer = app_answer(code, error)
    assert (answer.delivered, answer.give_up, answer.error) == (delivered, give_up, recorded)
