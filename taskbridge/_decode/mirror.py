"""Eager validation in C: msgspec Struct mirrors of the providers' attrs records.

`FastDecoder` derives, once per record class, a msgspec ``Struct`` for each attrs class
it reaches, from the attrs fields and the one source of decoding rules
(`_typeinfo.rule`): the same field names (``rename`` gives the wire names), unknown keys
ignored, required fields required, ``X | None = None`` optional, ``str``/``int``/``bool``
exact (``int`` within int64, where orjson reads ints; ``float`` takes ints), an open
enum ``E | str`` as ``str``, ``datetime`` as msgspec's RFC 3339 datetime, nested attrs
classes as nested Structs, ``list[X]``, and free-form ``dict[str, Any]`` as
`msgspec.Raw`, parsed eagerly by ``orjson.loads`` (so its values follow orjson's rules).

The mirror is only a fast path: an adapter that gets any exception from it decodes the
body again with the converters (`_convert.Decoder`), whose answer (or `SchemaError`
message) is the one returned. So the mirror must be *sound*: whatever it accepts, the
converters accept too, into an equal model (``tests/test_decode_mirror.py`` checks it). It is
more lenient than orjson only inside values it skips (those of unknown keys); see
`_convert` for the list.

`FastDecoder.builder` returns, per attrs class, the cattrs structure hook (generated
code, registered in the decoder's own converter) that builds the model from its
validated Struct: primitives as they are, open enums through the enum's members,
naive datetimes as UTC, nested Structs through their own hooks; slots are filled
directly where the class allows it (as `_fastgen` does). A `UnifiedTask` calls it the
first time its ``detail`` is read (`_models.PendingDetail`).
"""

from __future__ import annotations

import linecache
import typing
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any, Generic, NoReturn, TypeVar

import attrs
import cattrs
import msgspec
import orjson

from .convert import _wire_name
from .fastgen import return_new
from .typeinfo import rule

__all__ = ["FastDecoder", "aware"]

T = TypeVar("T")
M = TypeVar("M")

# orjson reads integers outside [-2**63, 2**64 - 1] as floats, which an int field refuses;
# msgspec bounds must fit an int64 (the rest of orjson's range takes the fallback).
_INT = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_JSON = dict[str, Any]
_MISSING = msgspec.Raw()
_counter = iter(range(1 << 62))

Fix = Callable[[Any], Any]
"""Checks a decoded value further and returns it (parsed): raises when it does not fit."""


def _compile(source: str, names: dict[str, Any], what: str) -> Any:
    filename = f"<taskbridge msgspec {what} {next(_counter)}>"
    namespace = dict(names)
    exec(compile(source, filename, "exec"), namespace)
    # Registered so tracebacks and profilers can show the generated source.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return namespace


def _json_fix(optional: bool) -> Fix:
    def fix(raw: msgspec.Raw) -> Any:
        if not len(raw):  # the default: the key was absent
            return None
        value = orjson.loads(memoryview(raw))
        if type(value) is dict or (value is None and optional):
            return value
        return _not_object(value)

    return fix


def _not_object(value: object) -> NoReturn:
    raise TypeError(f"expected an object, got {type(value).__name__}")


def _list_fn(each: Fix) -> Fix:
    def apply(values: list[Any]) -> list[Any]:
        return [each(v) for v in values]

    return apply


def _optional(fn: Fix) -> Fix:
    def apply(value: Any) -> Any:
        return None if value is None else fn(value)

    return apply


class FastDecoder(Generic[T]):
    """The msgspec mirror of an attrs record class ``cls``.

    ``decode(body)`` returns the validated Struct (free-form objects parsed), or raises
    whatever msgspec or orjson raise; `builder` gives the hook that makes a model of it.

    Raises:
        TypeError: (at construction) a field type the mirror cannot express, or a
            default other than ``None``.
    """

    __slots__ = ("_converter", "_fix_specs", "_fixes", "_structs", "decode")

    def __init__(self, cls: type[T]) -> None:
        self._structs: dict[type[Any], type[msgspec.Struct]] = {}
        self._fixes: dict[type[Any], Fix | None] = {}
        self._fix_specs: dict[type[Any], dict[str, tuple[Fix, bool]]] = {}
        self._converter = cattrs.Converter()
        root = self._struct(cls)
        parse: Callable[[bytes], Any] = msgspec.json.Decoder(root).decode
        if self._fixes[cls] is None:
            self.decode = parse
        else:
            # One function: parse, then every fix inline (a call less per nested model).
            names: dict[str, Any] = {"__parse": parse}
            lines = ["def decode(b):", "  s = __parse(b)"]
            lines += self._fix_lines(cls, "s", "  ", names)
            lines.append("  return s")
            source = "\n".join(lines) + "\n"
            self.decode = _compile(source, names, f"decode {cls.__qualname__}")["decode"]

    def builder(self, cls: type[M]) -> Callable[[Any], M]:
        """The cattrs structure hook of ``cls`` from its Struct (called with one argument)."""
        hook: Any = self._converter.get_structure_hook(cls)
        return typing.cast("Callable[[Any], M]", hook)

    def _struct(self, cls: type[Any]) -> type[msgspec.Struct]:
        if cls in self._structs:
            return self._structs[cls]
        fields = attrs.fields(attrs.resolve_types(cls))
        specs: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        fixes: dict[str, tuple[Fix, bool]] = {}
        builds: dict[str, tuple[Fix, bool]] = {}
        for f in fields:
            required = f.default is attrs.NOTHING
            if not required and f.default is not None:
                raise TypeError(f"{cls.__name__}.{f.name}: only None defaults are mirrored")
            annotation, fix, build, optional = self._value(f.type, f"{cls.__name__}.{f.name}")
            # A None default on a type without None: the converters read an absent key
            # as null there, and refuse it; so does the mirror, by requiring the key.
            required = required or not rule(f.type).optional
            if not required:
                specs.append((f.name, annotation, _MISSING if annotation is msgspec.Raw else None))
            else:
                specs.append((f.name, annotation))
            if fix is not None:
                fixes[f.name] = (fix, optional)
            if build is not None:
                builds[f.name] = (build, optional)
        struct = msgspec.defstruct(
            f"{cls.__name__}Mirror",
            specs,
            kw_only=True,
            rename={f.name: _wire_name(f) for f in fields},
            module=__name__,
            gc=False,  # only strings, numbers, datetimes, lists and other mirrors: no cycles
        )
        self._structs[cls] = struct
        self._fix_specs[cls] = fixes
        self._fixes[cls] = self._make_fix(cls) if fixes else None
        self._converter.register_structure_hook(cls, self._make_build(cls, fields, builds))
        return struct

    def _value(self, tp: Any, where: str) -> tuple[Any, Fix | None, Fix | None, bool]:
        """A field or item type's Struct annotation, its fix and its build (None: as is)
        for a value that is not None, and whether None is allowed."""
        field_rule = rule(tp)
        inner, optional = field_rule.inner, field_rule.optional
        fix: Fix | None = None
        build: Fix | None = None
        if field_rule.kind == "primitive":
            annotation: Any = _INT if inner is int else inner
        elif field_rule.kind == "open_enum":
            assert field_rule.enum is not None
            members = {m.value: m for m in field_rule.enum}
            annotation, build = str, lambda v: members.get(v, v)
        elif field_rule.kind == "datetime":
            annotation, build = datetime, aware
        elif attrs.has(inner):
            annotation = self._struct(inner)
            fix, build = self._fixes[inner], self.builder(inner)
        elif typing.get_origin(inner) is list and len(typing.get_args(inner)) == 1:
            item, item_fix, item_build, item_optional = self._value(
                typing.get_args(inner)[0], where
            )
            annotation = list[item]  # type: ignore[valid-type]
            if item_fix is not None:
                fix = _list_fn(_optional(item_fix) if item_optional else item_fix)
            if item_build is not None:
                build = _list_fn(_optional(item_build) if item_optional else item_build)
        elif inner == _JSON:
            # None is checked by the fix: a Raw is never None (absent is an empty Raw).
            return msgspec.Raw, _json_fix(optional), None, False
        elif inner is float:
            annotation = float
        else:
            raise TypeError(f"{where}: no msgspec mirror for {inner!r}")
        return (annotation | None if optional else annotation), fix, build, optional

    def _make_fix(self, cls: type[Any]) -> Fix:
        names: dict[str, Any] = {}
        lines = ["def fix(s):", *self._fix_lines(cls, "s", "  ", names), "  return s"]
        fix: Fix = _compile("\n".join(lines) + "\n", names, f"fix {cls.__qualname__}")["fix"]
        return fix

    def _fix_lines(
        self, cls: type[Any], var: str, pad: str, names: dict[str, Any], depth: int = 1
    ) -> list[str]:
        """Code that fixes the Struct in ``var``: free-form JSON and nested models inline."""
        names.update(__loads=orjson.loads, __view=memoryview, __bad=_not_object)
        lines: list[str] = []
        fixes = self._fix_specs[cls]
        for f in attrs.fields(cls):
            if f.name not in fixes:
                continue
            fn, optional = fixes[f.name]
            field_rule = rule(f.type)
            v = f"v{depth}"
            if field_rule.inner == _JSON:
                allowed = f"{v} is not None" if field_rule.optional else "True"
                # Absent is an empty Raw; else orjson reads it (json_fix).
                lines += [
                    f"{pad}{v} = {var}.{f.name}",
                    f"{pad}if len({v}):",
                    f"{pad}  {v} = __loads(__view({v}))",
                    f"{pad}  if type({v}) is not dict and {allowed}:",
                    f"{pad}    __bad({v})",
                    f"{pad}else:",
                    f"{pad}  {v} = None",
                    f"{pad}{var}.{f.name} = {v}",
                ]
            elif attrs.has(field_rule.inner) and field_rule.inner in self._fix_specs:
                # A nested model, fixed in place.
                lines.append(f"{pad}{v} = {var}.{f.name}")
                if optional:
                    lines.append(f"{pad}if {v} is not None:")
                inner_pad = pad + "  " if optional else pad
                lines += self._fix_lines(field_rule.inner, v, inner_pad, names, depth + 1)
            else:
                names[f"f_{id(fn)}"] = fn
                call = f"f_{id(fn)}({v})"
                lines += [f"{pad}{v} = {var}.{f.name}"]
                if optional:
                    lines += [f"{pad}if {v} is not None:", f"{pad}  {var}.{f.name} = {call}"]
                else:
                    lines += [f"{pad}{var}.{f.name} = {call}"]
        return lines

    def _make_build(
        self,
        cls: type[Any],
        fields: tuple[attrs.Attribute[Any], ...],
        builds: dict[str, tuple[Fix, bool]],
    ) -> Callable[[Any, Any], Any]:
        names: dict[str, Any] = {"__cl": cls, "__new": object.__new__, "__utc": timezone.utc}
        lines = ["def build(s, _=None):"]
        for f in fields:
            field_rule, var = rule(f.type), f"a_{f.name}"
            if f.name not in builds:
                lines.append(f"  {var} = s.{f.name}")
                continue
            build, optional = builds[f.name]
            lines.append(f"  v = s.{f.name}")
            if field_rule.kind == "open_enum":
                assert field_rule.enum is not None
                names[f"m_{f.name}"] = {m.value: m for m in field_rule.enum}
                value = f"m_{f.name}.get(v, v)"
            elif field_rule.kind == "datetime":
                value = "v if v.tzinfo is not None else v.replace(tzinfo=__utc)"
            else:
                names[f"b_{f.name}"] = build
                value = f"b_{f.name}(v)"
            lines.append(
                f"  {var} = None if v is None else {value}" if optional else f"  {var} = {value}"
            )
        lines += return_new(cls, names)
        namespace = _compile("\n".join(lines) + "\n", names, f"build {cls.__qualname__}")
        fn: Callable[[Any, Any], Any] = namespace["build"]
        return fn


def aware(value: datetime) -> datetime:
    """``value``, naive taken as UTC (as `_convert.parse_datetime` does)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
