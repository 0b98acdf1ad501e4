"""Building attrs instances by filling their slots directly (generated code).

A frozen attrs ``__init__`` sets each field through ``object.__setattr__``, which costs
about twice as much as the slot's own setter; the fast decoders and the engine's
per-request objects use these instead, for the classes that allow it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["direct_constructor", "fills_slots", "slot_fill_lines"]


def fills_slots(cls: type[Any]) -> bool:
    """Whether ``cls`` can be built by filling its slots directly: a slotted attrs class
    whose fields have no validator or converter and nothing to run at init."""
    return (
        "__slots__" in cls.__dict__
        and not hasattr(cls, "__attrs_post_init__")
        and not hasattr(cls, "__attrs_pre_init__")
        and all(f.validator is None and f.converter is None and f.init for f in attrs.fields(cls))
    )


def slot_fill_lines(
    cls: type[Any], names: dict[str, Any], value_of: Callable[[attrs.Attribute[Any]], str]
) -> list[str]:
    """Generated lines that return a new ``cls`` whose slots are filled with the
    expressions ``value_of(field)``; the setters they call go into ``names``.

    A frozen attrs ``__init__`` sets each field through ``object.__setattr__``, which
    costs about twice as much. Only for a class `fills_slots` accepts.
    """
    names["__new"], names["__cl"] = object.__new__, cls
    lines = ["  i = __new(__cl)"]
    for f in attrs.fields(cls):
        names[f"s_{f.name}"] = cls.__dict__[f.name].__set__
        lines.append(f"  s_{f.name}(i, {value_of(f)})")
    lines.append("  return i")
    return lines


def direct_constructor(cls: type[Any]) -> Callable[..., Any]:
    """Return ``make(*fields)`` that builds ``cls`` by filling its slots directly.

    One is built per request. Every field is passed (defaults are not applied).
    """
    if not fills_slots(cls):
        raise TypeError(f"{cls.__name__} cannot be built by filling its slots")
    namespace: dict[str, Any] = {}
    lines = [f"def make({', '.join(f.name for f in attrs.fields(cls))}):"]
    lines += slot_fill_lines(cls, namespace, lambda f: f.name)
    exec("\n".join(lines), namespace)
    make: Callable[..., Any] = namespace["make"]
    return make
