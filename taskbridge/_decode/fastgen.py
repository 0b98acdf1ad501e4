"""Generated structure hooks for attrs models: the converters' fast path.

cattrs' generated functions call one hook per field, and its Optional handling
dispatches on every call; on a full Cakewalk task that was most of the decode time.
These hooks check primitives, optionals, open enums and datetimes inline and call a
hook only for nested models and lists. They are registered in the provider's own
cattrs converter, which still resolves nested types; when they fail, decoding runs
again through cattrs' detailed validation to name the field (see `_convert.Decoder`).
"""

from __future__ import annotations

import linecache
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
import cattrs

from .._base.slots import fills_slots, slot_fill_lines
from .typeinfo import rule

__all__ = ["make_fast_structure_fn", "return_new"]

_counter = iter(range(1 << 62))


def return_new(cls: type[Any], names: dict[str, Any]) -> list[str]:
    """The generated lines that return a new ``cls`` from the locals ``a_<field>``:
    its slots filled directly where the class allows it (`_base.slots.fills_slots`), else
    through its ``__init__``."""
    if fills_slots(cls):
        return slot_fill_lines(cls, names, lambda f: f"a_{f.name}")
    names["__cl"] = cls
    fields = attrs.fields(cls)
    return [f"  return __cl({', '.join(f'{f.alias}=a_{f.name}' for f in fields)})"]


def _fail(kind: str) -> str:
    return f"raise TypeError('expected {kind}, got ' + type(v).__name__)"


def make_fast_structure_fn(
    cls: type[Any],
    converter: cattrs.Converter,
    wire_name: Callable[[attrs.Attribute[Any]], str],
    structure_datetime: Callable[[object, object], datetime],
) -> Callable[[Any, Any], Any] | None:
    """Return a structure hook for ``cls``, or ``None`` if it has a field this can't do.

    Every field must be required or default to ``None``.
    """
    fields = attrs.fields(attrs.resolve_types(cls))
    names: dict[str, Any] = {
        "__cl": cls,
        "__dt": structure_datetime,
        "__new": object.__new__,
    }
    lines = [
        "def structure(o, _):",
        "  if type(o) is not dict:",
        "    raise TypeError('expected an object, got ' + type(o).__name__)",
        "  g = o.get",
    ]
    for f in fields:
        required = f.default is attrs.NOTHING
        if not required and f.default is not None:
            return None
        key = wire_name(f)
        field_rule = rule(f.type)
        inner, optional = field_rule.inner, field_rule.optional
        fetch = f"o[{key!r}]" if required else f"g({key!r})"
        var = f"a_{f.name}"
        lines.append(f"  v = {fetch}")
        guard = "if v is not None and " if optional else "if "
        if field_rule.kind == "primitive":
            lines += [f"  {guard}type(v) is not {inner.__name__}:", f"    {_fail(inner.__name__)}"]
            lines.append(f"  {var} = v")
        elif (members := field_rule.enum) is not None:
            # An "open" enum: a value the spec does not list stays its raw string.
            names[f"m_{f.name}"] = {m.value: m for m in members}
            lookup = f"{var} = m_{f.name}.get(v, v)"
            if optional:
                lines += ["  if v is None:", f"    {var} = None", "  elif type(v) is str:"]
                lines += [f"    {lookup}", "  else:", f"    {_fail('a string')}"]
            else:
                lines += ["  if type(v) is not str:", f"    {_fail('a string')}", f"  {lookup}"]
        elif field_rule.kind == "datetime":
            # The converter's parser (it rounds fractions past the microsecond, as msgspec
            # does); it checks the type too.
            call = "__dt(v, None)"
            lines.append(
                f"  {var} = None if v is None else {call}" if optional else f"  {var} = {call}"
            )
        else:
            names[f"h_{f.name}"] = converter.get_structure_hook(inner)
            names[f"t_{f.name}"] = inner
            call = f"h_{f.name}(v, t_{f.name})"
            lines.append(
                f"  {var} = None if v is None else {call}" if optional else f"  {var} = {call}"
            )
    lines += return_new(cls, names)
    source = "\n".join(lines) + "\n"
    filename = f"<taskbridge structure {cls.__qualname__} {next(_counter)}>"
    namespace: dict[str, Any] = dict(names)
    exec(compile(source, filename, "exec"), namespace)
    # Registered so tracebacks and profilers can show the generated source.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    fn: Callable[[Any, Any], Any] = namespace["structure"]
    return fn
