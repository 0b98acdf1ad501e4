"""Building blocks for the per-provider cattrs converters.

Each provider builds its own converter with `make_converter` (never the global one)
and decodes with `decode`. Decoding is lenient where providers drift and strict
where data would be wrong:

- a value of an "open" enum (``SomeEnum | str``) that the enum does not list is kept
  as its raw string;
- unknown keys are ignored;
- primitives are checked, not coerced: ``"12"`` is not an ``int``, ``12`` is not a ``str``;
- datetimes are ISO 8601, returned timezone-aware (naive values are taken as UTC), and
  fractions past the microsecond are rounded half up (as msgspec does, see `_msgspec`).

Decoding runs a fast converter first; only when it fails is the document decoded again
with cattrs' detailed validation, to name every offending field in the error.

The providers' 200 bodies are validated first by a msgspec mirror of the models
(`_msgspec`), falling back to `Decoder` (this module) whenever msgspec refuses a body,
so every error message is this module's. The mirror accepts nothing these converters
refuse, with one documented exception: values it *skips*, those of unknown keys, are
only checked for JSON syntax, where orjson refuses a body outright. So a body is
accepted despite, under a key the model does not know, a number too large for a float
(``1e999``), invalid UTF-8 (in the value or in the key itself), or nesting deeper than
orjson's 1,024 levels (on Python 3.10 and 3.11 only when ``sys.getrecursionlimit()`` is
raised past ~1,024; Python 3.13's C recursion limit lets it through by default).
Known fields, free-form objects (``dict[str, Any]``, parsed by orjson) and everything
the model reads follow the rules above exactly.
"""

from __future__ import annotations

import enum
import re
import typing
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Generic, TypeVar

import attrs
import cattrs
import orjson
from cattrs.cols import list_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from .deep import plain
from .errors import SchemaError
from .fastgen import make_fast_structure_fn
from .typeinfo import is_simple_optional, open_enum

__all__ = ["Decoder", "SchemaError", "make_converter", "parse_datetime", "wire"]

T = TypeVar("T")

_NoneType = type(None)


def wire(name: str) -> dict[str, str]:
    """Field metadata that sets the wire name when camelCase of the field name is not it."""
    return {"wire": name}


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _wire_name(field: attrs.Attribute[Any]) -> str:
    return str(field.metadata.get("wire") or _camel(field.name))


_ISO_FALLBACK = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:[.,](?P<frac>\d+))?(?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


# A seventh fraction digit of 5 or more: the microsecond rounds up.
_ROUND_UP = re.compile(r"[.,]\d{6}[5-9]")
_MICROSECOND = timedelta(microseconds=1)
_LATEST = datetime.max


def parse_datetime(value: str) -> datetime:
    """Parse an ISO 8601 timestamp into an aware datetime (naive means UTC).

    Fractions of any length are rounded half up to the microsecond (``.1234565`` is
    ``.123457``; ``23:59:59.9999995`` is midnight of the next day), as msgspec's parser
    does, except past the latest representable microsecond of year 9999 (.NET's
    ``DateTime.MaxValue``), which stays that microsecond. ``Z`` and offsets are kept.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        # Python 3.10's fromisoformat takes neither "Z" nor fractions other than 3 or 6 digits.
        match = _ISO_FALLBACK.match(value)
        if match is None:
            raise ValueError(f"not an ISO 8601 date-time: {value[:64]!r}") from None
        frac = (match["frac"] or "")[:6].ljust(6, "0")
        tz = match["tz"] or ""
        if tz in ("Z", "z"):
            tz = "+00:00"
        elif tz and ":" not in tz and len(tz) == 5:
            tz = f"{tz[:3]}:{tz[3:]}"
        time_part = match["time"] if match["time"].count(":") == 2 else f"{match['time']}:00"
        parsed = datetime.fromisoformat(f"{match['date']}T{time_part}.{frac}{tz}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if _ROUND_UP.search(value) is not None and parsed.replace(tzinfo=None) < _LATEST:
        parsed += _MICROSECOND
    return parsed


def _structure_datetime(value: object, _: object) -> datetime:
    if type(value) is not str:
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    return parse_datetime(value)


def _strict(kind: type[Any]) -> Callable[[object, object], Any]:
    name = kind.__name__

    def hook(value: object, _: object) -> Any:
        if type(value) is kind:
            return value
        raise TypeError(f"expected {name}, got {type(value).__name__}")

    return hook


def _structure_number(value: object, _: object) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _structure_object(value: object, _: object) -> dict[str, Any]:
    if type(value) is dict:
        return value
    raise TypeError(f"expected an object, got {type(value).__name__}")


def _open_enum_hook(tp: Any) -> Callable[[object, object], Any]:
    parts = open_enum(tp)
    assert parts is not None
    enum_cls, allow_none = parts
    members = {member.value: member for member in enum_cls}

    def hook(value: object, _: object) -> Any:
        if type(value) is str:
            return members.get(value, value)
        if value is None and allow_none:
            return None
        raise TypeError(f"expected a string, got {type(value).__name__}")

    return hook


def make_converter(*, detailed_validation: bool = False) -> cattrs.Converter:
    """Return a new converter with taskbridge's strict, drift-tolerant hooks.

    attrs classes are structured from camelCase wire names (``last_updated_at`` from
    ``lastUpdatedAt``); a field can name its wire key with ``metadata=wire("self")``.
    """
    converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed_validation)
    for kind in (str, int, bool):
        converter.register_structure_hook(kind, _strict(kind))
    converter.register_structure_hook(float, _structure_number)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_structure_hook_func(lambda tp: tp == dict[str, Any], _structure_object)
    # Free-form JSON is JSON-ready already: copied without recursion (it may nest as
    # deep as a parser allows, far beyond what cattrs' recursive unstructure can walk).
    converter.register_unstructure_hook_func(lambda tp: tp == dict[str, Any], plain)

    def optional_hook(tp: Any) -> Callable[[Any, Any], Any]:
        # cattrs' own Optional hook dispatches on the inner type at every call, which
        # made it the largest cost of a decode; resolve the inner hook once instead.
        (inner,) = (arg for arg in typing.get_args(tp) if arg is not _NoneType)
        if inner in (str, int, bool):
            name = inner.__name__

            def primitive(value: object, _: object) -> Any:
                if value is None or type(value) is inner:
                    return value
                raise TypeError(f"expected {name}, got {type(value).__name__}")

            return primitive
        structure = converter.get_structure_hook(inner)

        def hook(value: object, _: object) -> Any:
            return None if value is None else structure(value, inner)

        return hook

    converter.register_structure_hook_factory(is_simple_optional, optional_hook)
    converter.register_structure_hook_factory(lambda tp: open_enum(tp) is not None, _open_enum_hook)

    def attrs_hook(cls: type[Any]) -> Callable[[Any, Any], Any]:
        if not detailed_validation:
            fast = make_fast_structure_fn(cls, converter, _wire_name, _structure_datetime)
            if fast is not None:
                return fast
        renames: dict[str, Any] = {
            f.name: override(rename=_wire_name(f)) for f in attrs.fields(cls)
        }
        structure = make_dict_structure_fn(cls, converter, **renames)

        def hook(value: object, tp: Any) -> Any:
            # The generated function tests keys with `in`, which a string or a list
            # answers too: "x" would silently become a model with every default.
            if type(value) is not dict:
                raise TypeError(f"expected an object, got {type(value).__name__}")
            return structure(value, tp)

        return hook

    def list_hook(tp: Any) -> Callable[[Any, Any], Any]:
        structure = list_structure_factory(tp, converter)

        def hook(value: object, tp: Any) -> Any:
            # A string is iterable: "" would otherwise become an empty list.
            if type(value) is not list:
                raise TypeError(f"expected an array, got {type(value).__name__}")
            return structure(value, tp)

        return hook

    converter.register_structure_hook_factory(attrs.has, attrs_hook)
    converter.register_structure_hook_factory(_is_list, list_hook)

    # Unstructuring is the way back to the wire: camelCase names, ISO 8601 strings and
    # enum values, so `structure(unstructure(x)) == x` (`UnifiedTask.to_dict`).
    def attrs_unstructure(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
        renames: dict[str, Any] = {
            f.name: override(rename=_wire_name(f)) for f in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, converter, **renames)

    converter.register_unstructure_hook(datetime, datetime.isoformat)
    converter.register_unstructure_hook_factory(
        lambda tp: open_enum(tp) is not None, lambda _: _enum_value
    )
    converter.register_unstructure_hook_factory(attrs.has, attrs_unstructure)
    return converter


def _enum_value(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value


def _is_list(tp: Any) -> bool:
    origin: Any = typing.get_origin(tp)
    return origin is list


def _format(exc: BaseException, tp: type | None) -> str:
    if isinstance(exc, TypeError) and str(exc).startswith("expected "):
        return f"invalid value ({exc})"
    return format_exception(exc, tp)


def _wire_errors(exc: BaseException, path: str) -> list[str]:
    """Like `cattrs.transform_error`, but the paths use the wire names (``$.data.createdAt``)."""
    located: list[tuple[BaseException, str, Any]]
    without: list[Exception]
    if isinstance(exc, cattrs.IterableValidationError):
        by_index, without = exc.group_exceptions()
        located = [(sub, f"{path}[{note.index!r}]", note.type) for sub, note in by_index]
    elif isinstance(exc, cattrs.ClassValidationError):
        names = {f.name: _wire_name(f) for f in attrs.fields(exc.cl)} if attrs.has(exc.cl) else {}
        by_field, without = exc.group_exceptions()
        located = [
            (sub, f"{path}.{names.get(note.name, note.name)}", note.type) for sub, note in by_field
        ]
    else:
        return [f"{_format(exc, None)} @ {path}"]
    errors: list[str] = []
    for sub, sub_path, tp in located:
        if isinstance(sub, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
            errors.extend(_wire_errors(sub, sub_path))
        else:
            errors.append(f"{_format(sub, tp)} @ {sub_path}")
    errors.extend(f"{_format(sub, None)} @ {path}" for sub in without)
    return errors


def _describe(exc: BaseException, detailed: cattrs.Converter, data: Any, cls: type[Any]) -> str:
    try:
        detailed.structure(data, cls)
    except Exception as again:
        if isinstance(again, (cattrs.BaseValidationError, cattrs.ForbiddenExtraKeysError)):
            return "; ".join(_wire_errors(again, "$"))
        return f"{type(again).__name__}: {again}"
    return f"{type(exc).__name__}: {exc}"


class Decoder(Generic[T]):
    """Decodes JSON bodies into ``cls`` with a fast converter, explaining failures.

    The structure hook is resolved once; a failure is decoded again with the detailed
    converter so that the `SchemaError` names every offending field.
    """

    __slots__ = ("_cls", "_detailed", "_hook")

    def __init__(self, cls: type[T], fast: cattrs.Converter, detailed: cattrs.Converter) -> None:
        self._cls = cls
        self._hook: Callable[[Any, Any], T] = fast.get_structure_hook(cls)
        self._detailed = detailed

    def __call__(self, body: bytes) -> T:
        """Parse JSON ``body`` into the model; raise `SchemaError` naming what is wrong."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise SchemaError(f"body is not valid JSON ({exc})") from exc
        if type(data) is not dict:
            raise SchemaError(f"expected a JSON object, got {type(data).__name__}")
        try:
            return self._hook(data, self._cls)
        except Exception as exc:
            raise SchemaError(_describe(exc, self._detailed, data, self._cls)) from exc
