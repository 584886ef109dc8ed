"""Decoded JSON -> small read-only records, checked field by field (what pydantic did here, minus ~200 ms of cold
start).

    class Target(Model):
        preset: str = spec(check=_preset_name)     # required, then a custom check
        width: int | None = spec(None, gt=0)        # optional, with a limit
        bucket: str | None = None                   # optional

A Model's fields are its annotations, in order; the class attribute is the default (or spec(...) with the default,
limits and checks). Types understood: str, int, float, bool, Secret, Literal[...], list[X], dict[str, Any], X | None
and nested Models. Invariants across fields go in __post_init__ (raise ValueError). `Model.from_dict(data)` collects
every problem with its path, so one run reports all the mistakes in a config file, and raises Invalid.

Model is a frozen, keyword-only record like @dataclass(frozen=True, kw_only=True), but built without generating
code at import: dataclass() costs ~1.5 ms per class, and cold start pays it for every model.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

_MISSING: Any = object()
_FAILED: Any = object()


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


class Spec:
    """How one field is defaulted and checked; see spec()."""

    __slots__ = ("default", "default_factory", "gt", "ge", "le", "pattern", "min_length", "before", "check", "doc")

    def __init__(self, default: Any = _MISSING, **kw: Any) -> None:
        self.default = default
        for name in self.__slots__[1:]:
            setattr(self, name, kw.get(name))
        if self.pattern is not None:
            self.pattern = re.compile(self.pattern)

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.default_factory is None


def spec(
    default: Any = _MISSING,
    *,
    default_factory: Callable[[], Any] | None = None,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    pattern: str | None = None,
    min_length: int | None = None,
    before: Callable[[Any], Any] | None = None,
    check: Callable[[Any], Any] | None = None,
    doc: str = "",
) -> Any:
    """A field with limits. `before` reshapes the raw input; `check` gets the typed value and returns it (possibly
    normalised) or raises ValueError with a message that says how to fix it. `doc` documents the field."""
    return Spec(default, default_factory=default_factory, gt=gt, ge=ge, le=le, pattern=pattern,
                min_length=min_length, before=before, check=check, doc=doc)  # fmt: skip


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


class Model:
    """Base of the config and event models (see the module docstring)."""

    # Unknown keys in from_dict input: errors (a typo in a config must fail loudly) or ignored (events).
    _forbid_extra = True
    _specs: dict[str, Spec] = {}
    _types: dict[str, Any] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs = dict(cls._specs)  # inherited fields first
        for name in cls.__dict__.get("__annotations__", {}):
            value = cls.__dict__.get(name, _MISSING)
            specs[name] = value if isinstance(value, Spec) else Spec(value)
        cls._specs = specs
        cls._types = None

    def __init__(self, **values: Any) -> None:
        for name, s in self._specs.items():
            if name in values:
                value = values.pop(name)
            elif s.default_factory is not None:
                value = s.default_factory()
            elif s.default is not _MISSING:
                value = s.default
            else:
                raise TypeError(f"{type(self).__name__}() needs the keyword argument {name!r}")
            object.__setattr__(self, name, value)
        if values:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s) {sorted(values)}")
        self.__post_init__()

    def __post_init__(self) -> None:
        """Invariants across fields: raise ValueError. Normalise a field with object.__setattr__."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only (cannot delete {name!r})")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._specs)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._specs)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._values() == self._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    @classmethod
    def from_dict(cls, data: Any) -> Any:
        """Build this model from decoded JSON, or raise Invalid listing every problem with its path."""
        problems: list[Problem] = []
        value = _Parser(problems).value(cls, data, ())
        if problems:
            raise Invalid(problems)
        return value

    @classmethod
    def field_types(cls) -> dict[str, Any]:
        # Annotations are strings (from __future__ import annotations): resolve them once, at first use.
        if cls._types is None:
            hints: dict[str, Any] = {}
            for klass in reversed(cls.__mro__):
                scope = vars(sys.modules[klass.__module__])
                for name, tp in klass.__dict__.get("__annotations__", {}).items():
                    if name in cls._specs:
                        hints[name] = eval(tp, scope) if isinstance(tp, str) else tp
            cls._types = {name: hints[name] for name in cls._specs}
        return cls._types


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


class _Parser:
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems

    def fail(self, loc: tuple[str | int, ...], message: str, value: Any, kind: str = "invalid") -> Any:
        self.problems.append(Problem(loc, kind, message, value))
        return _FAILED

    def value(self, tp: Any, v: Any, loc: tuple[str | int, ...], s: Spec | None = None) -> Any:
        if isinstance(tp, type) and issubclass(tp, Model):
            return self.parse_model(tp, v, loc)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (types.UnionType, typing.Union):  # X | None
            if v is None:
                return None
            (tp,) = (a for a in args if a is not type(None))
            return self.value(tp, v, loc, s)
        if origin is list:
            return self.parse_list(args[0], v, loc, s)
        if origin is dict:
            return dict(v) if isinstance(v, dict) else self.fail(loc, "must be an object {...}", v)
        if origin is typing.Literal:
            if any(v == a and type(v) is type(a) for a in args):
                return v
            return self.fail(loc, "must be one of " + ", ".join(repr(a) for a in args), v)
        if tp is Any:
            return v
        out = _SCALARS[tp](v)
        if out is _FAILED:
            return self.fail(loc, _TYPE_MESSAGES[tp], v)
        return self.limits(out, v, loc, s)

    def limits(self, v: Any, raw: Any, loc: tuple[str | int, ...], s: Spec | None) -> Any:
        """Check the typed value `v`; problems show `raw`, the value as written."""
        if s is None:
            return v
        # Written as "not v > gt" so NaN fails too.
        if s.gt is not None and not v > s.gt:
            return self.fail(loc, f"must be greater than {s.gt}", raw)
        if s.ge is not None and not v >= s.ge:
            return self.fail(loc, f"must be at least {s.ge}", raw)
        if s.le is not None and not v <= s.le:
            return self.fail(loc, f"must be at most {s.le}", raw)
        if s.min_length is not None and len(v) < s.min_length:
            what = "must not be empty" if isinstance(v, str) else f"needs at least {s.min_length} entry"
            return self.fail(loc, what, raw)
        if s.pattern is not None and not s.pattern.match(v):
            return self.fail(loc, f"must match {s.pattern.pattern}", raw)
        return v

    def parse_list(self, item_tp: Any, v: Any, loc: tuple[str | int, ...], s: Spec | None) -> Any:
        if not isinstance(v, list | tuple):
            return self.fail(loc, "must be a list [...]", v)
        before = len(self.problems)
        items = [self.value(item_tp, item, (*loc, i)) for i, item in enumerate(v)]
        if len(self.problems) > before:
            return _FAILED
        return self.limits(items, v, loc, s)

    def parse_model(self, model: type[Model], v: Any, loc: tuple[str | int, ...]) -> Any:
        if isinstance(v, model):
            return v
        if not isinstance(v, dict):
            return self.fail(loc, "must be an object {...}", v)
        before = len(self.problems)
        kwargs = {}
        for name, tp in model.field_types().items():
            s = model._specs[name]
            floc = (*loc, name)
            if name not in v:
                if s.required:
                    self.fail(floc, "required field is missing", _MISSING, kind="missing")
                continue
            raw = v[name]
            if s.before is not None:
                raw = s.before(raw)
            out = self.value(tp, raw, floc, s)
            if out is _FAILED:
                continue
            if s.check is not None and out is not None:
                try:
                    out = s.check(out)
                except ValueError as exc:
                    self.fail(floc, str(exc), raw)
                    continue
            kwargs[name] = out
        if model._forbid_extra:
            for key in v:
                if key not in model._specs:
                    self.fail((*loc, key), "unknown field", v[key], kind="unknown")
        if len(self.problems) > before:
            return _FAILED
        try:
            return model(**kwargs)
        except ValueError as exc:  # an invariant across fields (__post_init__)
            return self.fail(loc, str(exc), v)


def _to_str(v: Any) -> Any:
    return v if isinstance(v, str) else _FAILED


def _to_secret(v: Any) -> Any:
    return Secret(v) if isinstance(v, str) else _FAILED


def _to_int(v: Any) -> Any:
    # Lax like the JSON configs people write: 3, 3.0 and "3" are all 3; 2.5 is not a whole number.
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            v = _to_float(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return _FAILED


def _to_float(v: Any) -> Any:
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return _FAILED
    return _FAILED


def _to_bool(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    return _FAILED


_SCALARS: dict[Any, Callable[[Any], Any]] = {
    str: _to_str,
    Secret: _to_secret,
    int: _to_int,
    float: _to_float,
    bool: _to_bool,
}
_TYPE_MESSAGES = {
    str: "must be a string",
    Secret: "must be a string",
    int: "must be a whole number, e.g. 3",
    float: "must be a number, e.g. 1.5",
    bool: "must be true or false",
}
