"""Decoded JSON -> msgspec Structs, with every problem named by path, value and fix.

msgspec does the typing, limits and unknown-field checks (lax: 3, 3.0 and "3" are all 3; "true" is true) and
stops at the first problem. Users fixing a config want every problem at once, so when the one-call fast path
fails, `decode` walks the input along the model (structs and lists only; each leaf is still converted by msgspec)
and collects every problem, in plain words. Measured: msgspec adds ~5 ms to a cold start, pydantic ~70-140 ms.

Checks msgspec cannot express live in the models: a `field_checks` ClassVar ({field: check}, run by check_fields
in __post_init__, each failure reported at its field) and ValueError from __post_init__ for a rule across fields
(reported at the struct).
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import msgspec

_MISSING: Any = object()


class Secret:
    """A string that keeps out of reprs and logs; read it with get_secret_value()."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def hint(text: str) -> dict[str, str]:
    """msgspec.Meta(extra=hint("...")): the message shown instead of "must match <regex>"."""
    return {"hint": text}


class FieldProblems(ValueError):
    """Raised by a model's __post_init__: [(field, message), ...], each reported at its field."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems


def check_fields(obj: Any) -> None:
    """Call in __post_init__: runs the class's `field_checks` ({field: check}, a ClassVar) on each field that is
    set; a check raises ValueError with a message that says how to fix it. Raises FieldProblems listing them all."""
    problems = []
    for field, check in getattr(type(obj), "field_checks", {}).items():
        message = _failed_check(check, getattr(obj, field))
        if message:
            problems.append((field, message))
    if problems:
        raise FieldProblems(problems)


def _failed_check(check: typing.Callable[[Any], Any], value: Any) -> str | None:
    if value is None:
        return None
    try:
        check(value)
    except ValueError as exc:
        return str(exc)
    return None


class Problem:
    __slots__ = ("loc", "kind", "message", "value")

    def __init__(self, loc: tuple[str | int, ...], kind: str, message: str, value: Any = _MISSING) -> None:
        self.loc = loc
        self.kind = kind  # "missing" | "unknown" | "invalid"
        self.message = message
        self.value = value  # the input as written (not for "missing")

    @property
    def path(self) -> str:
        return ".".join(str(p) for p in self.loc)

    @property
    def has_value(self) -> bool:
        return self.value is not _MISSING

    def __repr__(self) -> str:
        return f"Problem({self.path or '(top level)'}: {self.message})"


class Invalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.path or '(top level)'}: {p.message}" for p in problems))
        self.problems = problems


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _dec_hook(tp: Any, value: Any) -> Any:
    if tp is Secret:
        if isinstance(value, str):
            return Secret(value)
        raise TypeError("must be a string")
    raise NotImplementedError


def decode(data: Any, model: type[Any]) -> Any:
    """Build `model` from decoded JSON, or raise Invalid listing every problem with its path."""
    try:
        return msgspec.convert(data, model, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        first = exc
    problems: list[Problem] = []
    relaxed = _walk(model, data, (), problems)
    if not problems:
        try:  # booleans written as yes/no/on/off were the only problem
            return msgspec.convert(relaxed, model, strict=False, dec_hook=_dec_hook)
        except msgspec.ValidationError as exc:  # the walk missed it: report msgspec's own words
            first = exc
        _record(model, data, (), first, problems)
    raise Invalid(problems)


# ----- the walk that collects every problem --------------------------------------------------------------------


def _unwrap(tp: Any) -> Any:
    """Annotated[X, Meta] -> X."""
    return typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp


def _members(tp: Any) -> tuple[Any, ...]:
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        return tuple(_unwrap(a) for a in typing.get_args(tp))
    return (tp,)


def _walk(tp: Any, value: Any, loc: tuple[str | int, ...], problems: list[Problem]) -> Any:
    """Record the problems of `value` as a `tp`; return value with yes/no text in boolean places made booleans."""
    members = _members(tp)
    struct = next((m for m in members if isinstance(m, type) and issubclass(m, msgspec.Struct)), None)
    listed = next((m for m in members if typing.get_origin(m) is list), None)
    before = len(problems)
    if struct is not None and isinstance(value, dict):
        value = _walk_struct(struct, value, loc, problems)
    elif listed is not None and isinstance(value, list | tuple):
        (item_tp,) = typing.get_args(listed)
        value = [_walk(item_tp, item, (*loc, i), problems) for i, item in enumerate(value)]
    elif bool in members and isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if len(problems) == before:  # the parts are fine: now the whole (limits, __post_init__ rules)
        try:
            msgspec.convert(value, tp, strict=False, dec_hook=_dec_hook)
        except msgspec.ValidationError as exc:
            _record(tp, value, loc, exc, problems)
    return value


def _walk_struct(struct: Any, value: dict, loc: tuple[str | int, ...], problems: list[Problem]) -> dict:
    out = dict(value)
    before = len(problems)
    fields = msgspec.structs.fields(struct)
    for f in fields:
        if f.encode_name in value:
            out[f.encode_name] = _walk(f.type, value[f.encode_name], (*loc, f.encode_name), problems)
        elif f.required:
            problems.append(Problem((*loc, f.encode_name), "missing", "required field is missing"))
    if len(problems) > before:  # __post_init__ will not run: the field checks of the well-typed fields now
        bad = {p.loc[len(loc)] for p in problems[before:]}
        for name, check in getattr(struct, "field_checks", {}).items():
            message = None if name in bad or name not in value else _failed_check(check, value[name])
            if message:
                problems.append(Problem((*loc, name), "invalid", message, value[name]))
    if struct.__struct_config__.forbid_unknown_fields:
        known = {f.encode_name for f in fields}
        for key in value:
            if key not in known:
                problems.append(Problem((*loc, key), "unknown", "unknown field", value[key]))
    return out


_AT = re.compile(r" - at `\$(.*)`$")
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _record(tp: Any, value: Any, loc: tuple[str | int, ...], exc: msgspec.ValidationError, problems: list) -> None:
    """Turn msgspec's error (about `value`, found at `loc`) into Problems."""
    text = str(exc)
    inner: tuple[str | int, ...] = ()
    at = _AT.search(text)
    if at:
        text = text[: at.start()]
        inner = tuple(key if key else int(index) for key, index in _STEP.findall(at.group(1)))
    where = (*loc, *inner)
    node = _at(value, inner)
    cause = exc.__cause__
    if isinstance(cause, FieldProblems):
        for field, message in cause.problems:
            field_value = node.get(field, _MISSING) if isinstance(node, dict) else _MISSING
            problems.append(Problem((*where, field), "invalid", message, field_value))
        return
    if cause is None:  # msgspec's own words; dec_hook and __post_init__ messages are ours already
        field = re.match(r"Object (missing required|contains unknown) field `(.*)`$", text)
        if field:
            missing = field.group(1).startswith("missing")
            kind, message = ("missing", "required field is missing") if missing else ("unknown", "unknown field")
            field_value = _MISSING if missing else _at(node, (field.group(2),))
            problems.append(Problem((*where, field.group(2)), kind, message, field_value))
            return
        text = _plain_words(text, tp if not inner else None)
    problems.append(Problem(where, "invalid", text, node))


def _at(value: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


_KINDS = {
    "int": "a whole number, e.g. 3",
    "float": "a number, e.g. 1.5",
    "str": "a string",
    "bool": "true or false",
    "object": "an object {...}",
    "array": "a list [...]",
}
_LIMITS = {">": "must be greater than", ">=": "must be at least", "<": "must be less than", "<=": "must be at most"}


def _plain_words(text: str, tp: Any) -> str:
    """msgspec's message -> what to write instead. `tp` is the field's type when the message is about it."""
    m = re.match(r"Expected `([^`]*)`, got `[^`]*`$", text)
    if m:
        kinds = [_KINDS.get(k, k) for k in m.group(1).split(" | ") if k != "null"]
        return "must be " + " or ".join(kinds)
    m = re.match(r"Expected `\w+` (>=|<=|>|<) (\S+)$", text)
    if m:
        number = float(m.group(2))
        return f"{_LIMITS[m.group(1)]} {int(number) if number.is_integer() else number}"
    m = re.match(r"Expected `array` of length (\d+), got \d+$", text)
    if m:
        return f"must be a list [...] of {m.group(1)} entries"
    m = re.match(r"Expected `(\w+)` of length >= (\d+)$", text)
    if m:
        if m.group(1) == "str":
            return "must not be empty" if m.group(2) == "1" else f"needs at least {m.group(2)} characters"
        return f"needs at least {m.group(2)} entr{'y' if m.group(2) == '1' else 'ies'}"
    m = re.match(r"Expected `str` matching regex '(.*)'$", text)
    if m:
        return _hint_of(tp) or f"must match {m.group(1)}"
    if text.startswith("Invalid enum value") and tp is not None:
        choices = [a for member in _members(tp) if typing.get_origin(member) is typing.Literal
                   for a in typing.get_args(member)]  # fmt: skip
        return "must be one of " + ", ".join(repr(a) for a in choices)
    return text


def _hint_of(tp: Any) -> str | None:
    candidates = [tp, *typing.get_args(tp)] if typing.get_origin(tp) in (types.UnionType, typing.Union) else [tp]
    for member in candidates:
        if typing.get_origin(member) is typing.Annotated:
            for meta in typing.get_args(member)[1:]:
                if isinstance(meta, msgspec.Meta) and meta.extra and "hint" in meta.extra:
                    return meta.extra["hint"]
    return None
