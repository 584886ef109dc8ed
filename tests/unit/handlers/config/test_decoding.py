"""handlers.config.decoding on shapes the config does not use yet: unions and tuples report a problem with its path
(the hand-written checker it replaced raised a raw ValueError for `int | str` and a KeyError for `tuple[...]`)."""

from __future__ import annotations

import msgspec
import pytest

from handlers.config.decoding import Invalid, decode


class Shape(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    either: int | str = 0
    pair: tuple[int, int] = (0, 0)
    flags: list[bool] = msgspec.field(default_factory=list)


def problems(data) -> list[str]:
    with pytest.raises(Invalid) as info:
        decode(data, Shape)
    return [f"{p.path}: {p.message}" for p in info.value.problems]


def test_unions_and_tuples_decode():
    assert decode({"either": "x", "pair": [1, 2]}, Shape) == Shape(either="x", pair=(1, 2))
    assert decode({"either": 3, "flags": ["yes", "off", True]}, Shape).flags == [True, False, True]


def test_unions_and_tuples_name_the_problem():
    assert problems({"either": [1], "pair": [1, 2, 3], "flags": ["maybe"], "extra": 1}) == [
        "either: must be a whole number, e.g. 3 or a string",
        "pair: must be a list [...] of 2 entries",
        "flags.0: must be true or false",
        "extra: unknown field",
    ]
