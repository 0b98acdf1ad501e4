"""The decoding rules of a field type, in one place: the detailed converter (`_convert`)
and the generated fast hooks (`_fastgen`) both read them from here."""

from __future__ import annotations

import enum
import types
import typing
from datetime import datetime
from typing import Any, Literal

import attrs

__all__ = ["PRIMITIVES", "FieldRule", "is_simple_optional", "open_enum", "rule", "split_optional"]

_NoneType = type(None)
PRIMITIVES = (str, int, bool)
"""Types decoded by an exact type check (no ``bool`` for ``int``, no coercion)."""


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def split_optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)`` (``X`` a union when several); else ``(tp, False)``."""
    if _is_union(tp):
        args = typing.get_args(tp)
        if _NoneType in args:
            rest = tuple(a for a in args if a is not _NoneType)
            return (rest[0] if len(rest) == 1 else typing.Union[rest]), True  # noqa: UP007
    return tp, False


def is_simple_optional(tp: Any) -> bool:
    """``X | None`` for a single ``X`` (wider unions keep cattrs' own handling)."""
    return _is_union(tp) and len(typing.get_args(tp)) == 2 and _NoneType in typing.get_args(tp)


def open_enum(tp: Any) -> tuple[type[enum.Enum], bool] | None:
    """For an "open" enum ``E | str`` (or ``E | str | None``): ``(E, allows None)``.

    A value the enum does not list is kept as its raw string.
    """
    inner, optional = split_optional(tp)
    if not _is_union(inner):
        return None
    args = set(typing.get_args(inner))
    if str not in args or len(args) != 2:
        return None
    (other,) = args - {str}
    if isinstance(other, type) and issubclass(other, enum.Enum):
        return other, optional
    return None


@attrs.frozen
class FieldRule:
    """How one field type decodes: its kind, the type under ``None``, whether ``None``
    is allowed, and an open enum's class."""

    kind: Literal["primitive", "open_enum", "datetime", "nested"]
    inner: Any
    optional: bool
    enum: type[enum.Enum] | None = None


def rule(tp: Any) -> FieldRule:
    """The decoding rule of a field of type ``tp``."""
    if (parts := open_enum(tp)) is not None:
        return FieldRule("open_enum", tp, parts[1], parts[0])
    inner, optional = split_optional(tp)
    if inner in PRIMITIVES:
        return FieldRule("primitive", inner, optional)
    if inner is datetime:
        return FieldRule("datetime", inner, optional)
    return FieldRule("nested", inner, optional)
