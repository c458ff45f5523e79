"""What every config dataclass shares: strict loading, copying, and checks made at construction.

A config is checked where it is made, so a bad value never reaches the code that would trip on it
(a zero `checkpoint_every` dividing by zero mid-run, a negative learning rate training backwards).
Each field is first checked against its type annotation (a value of the wrong type is refused by
name; an integer is accepted where a float is expected), then against the class's own rules in
`validate`. Every failure is a `ValueError` whose message names the field, the value and what is
allowed.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal, Self


def _describe(kind: Any) -> str:
    if kind is type(None):
        return "null"
    if typing.get_origin(kind) is Literal:
        return " or ".join(repr(v) for v in typing.get_args(kind))
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        kind, getattr(kind, "__name__", str(kind))
    )


def _matches(value: Any, kind: Any) -> bool:
    if kind is type(None):
        return value is None
    if typing.get_origin(kind) is Literal:
        return value in typing.get_args(kind)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


class ConfigBase:
    """Copying, serialising, strict loading and construction-time checks of a config dataclass."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            kind = hints[f.name]
            options = (
                typing.get_args(kind)
                if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union
                else (kind,)
            )
            if not any(_matches(value, option) for option in options):
                allowed = " or ".join(_describe(option) for option in options)
                raise ValueError(f"{f.name} must be {allowed}, got {value!r}")
            if float in options and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))  # 1 means 1.0
        self.validate()

    def validate(self) -> None:
        """The class's own rules (ranges, combinations), after the type checks."""

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (checked again)."""
        unknown = sorted(set(changes) - self.field_names())
        if unknown:
            raise ValueError(f"unknown {type(self).__name__} field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict, refusing unknown keys (a typo must not be silently ignored)."""
        if not isinstance(data, dict):
            raise ValueError(f"a {cls.__name__} must be a table of settings, got {data!r}")
        unknown = sorted(set(data) - cls.field_names())
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
        return cls(**data)


# ------------------------------------------------------------------------------- rule helpers
def at_least(name: str, value: float | None, low: float) -> None:
    """`value` (unless None) must be >= low."""
    if value is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")


def greater_than(name: str, value: float | None, low: float) -> None:
    """`value` (unless None) must be > low."""
    if value is not None and not value > low:
        raise ValueError(f"{name} must be > {low}, got {value!r}")


def in_range(name: str, value: float, low: float, high: float, *, closed: bool = False) -> None:
    """low <= value < high (or <= high when `closed`)."""
    ok = low <= value <= high if closed else low <= value < high
    if not ok:
        bracket = "]" if closed else ")"
        raise ValueError(f"{name} must be in [{low}, {high}{bracket}, got {value!r}")


def one_of(name: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
