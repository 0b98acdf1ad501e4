"""Deeply nested task data, shown and serialized without recursion.

Alumio's ``entityData`` and ``context`` are free-form JSON: a valid task may nest them
a thousand levels deep (orjson parses up to 1024). Python's ``repr``, ``attrs.asdict``
and orjson's encoder (255 levels) each give up long before that; these helpers do not.
"""

from __future__ import annotations

import enum
import reprlib
from typing import Any

import attrs
import orjson

__all__ = ["json_object", "plain", "safe_repr", "to_json"]

_SHORT = reprlib.Repr()
_SHORT.maxlevel = 12
_SHORT.maxdict = _SHORT.maxlist = 50
_SHORT.maxstring = _SHORT.maxother = 200


def safe_repr(value: object) -> str:
    """``repr(value)``, or an abridged one when it nests too deeply for ``repr``."""
    try:
        return repr(value)
    except RecursionError:
        return _SHORT.repr(value)


def plain(value: Any) -> Any:
    """Like ``attrs.asdict(value, recurse=True)``, at any depth: attrs instances
    become dicts of their fields; dicts, lists and tuples are copied; the rest is kept."""
    result: list[Any] = [None]
    # (container to fill, key or index, value to convert)
    stack: list[tuple[Any, Any, Any]] = [(result, 0, value)]
    while stack:
        into, key, item = stack.pop()
        if attrs.has(type(item)):
            fields = attrs.fields(type(item))
            out: Any = dict.fromkeys(f.name for f in fields)  # keeps the field order
            stack.extend((out, f.name, getattr(item, f.name)) for f in fields)
        elif isinstance(item, dict):
            out = dict.fromkeys(item)
            stack.extend((out, k, v) for k, v in item.items())
        elif isinstance(item, (list, tuple)):
            out = [None] * len(item)
            stack.extend((out, i, v) for i, v in enumerate(item))
        else:
            out = item
        into[key] = out
    return result[0]


def _leaf(value: Any) -> bytes:
    if isinstance(value, enum.Enum):
        value = value.value
    return orjson.dumps(value)


def to_json(data: Any, *, indent: bool) -> bytes:
    """orjson's output (``OPT_INDENT_2`` when ``indent``), newline-ended, at any depth."""
    try:
        option = orjson.OPT_INDENT_2 if indent else 0
        return orjson.dumps(data, option=option | orjson.OPT_APPEND_NEWLINE)
    except (TypeError, RecursionError) as exc:
        if "ecursion" not in str(exc) and not isinstance(exc, RecursionError):
            raise
    parts: list[bytes] = []
    # Work items: bytes to write as they are, or (value, depth) to encode.
    stack: list[bytes | tuple[Any, int]] = [(data, 0)]
    while stack:
        item = stack.pop()
        if isinstance(item, bytes):
            parts.append(item)
            continue
        value, depth = item
        if isinstance(value, dict) and value:
            entries = list(value.items())
            pad = b"\n" + b"  " * (depth + 1) if indent else b""
            todo: list[bytes | tuple[Any, int]] = [b"{"]
            for n, (key, child) in enumerate(entries):
                sep = b": " if indent else b":"
                todo += [
                    (b"," if n else b"") + pad + orjson.dumps(str(key)) + sep,
                    (child, depth + 1),
                ]
            todo.append((b"\n" + b"  " * depth if indent else b"") + b"}")
            stack.extend(reversed(todo))
        elif isinstance(value, (list, tuple)) and value:
            pad = b"\n" + b"  " * (depth + 1) if indent else b""
            todo = [b"["]
            for n, child in enumerate(value):
                todo += [(b"," if n else b"") + pad, (child, depth + 1)]
            todo.append((b"\n" + b"  " * depth if indent else b"") + b"]")
            stack.extend(reversed(todo))
        elif isinstance(value, dict):
            parts.append(b"{}")
        elif isinstance(value, (list, tuple)):
            parts.append(b"[]")
        else:
            parts.append(_leaf(value))
    parts.append(b"\n")
    return b"".join(parts)


def json_object(body: bytes) -> dict[str, Any] | None:
    """``body`` parsed as a JSON object, or ``None`` (not JSON, or not an object)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return data if type(data) is dict else None
