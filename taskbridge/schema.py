"""JSON Schemas of `UnifiedTask.to_dict` data, for OpenAPI documents and FastAPI.

The schemas are generated from the attrs models (the same type rules the converters
decode by), so they cannot drift from them: wire names as ``to_dict`` writes them
(camelCase in ``detail``), every key required (``to_dict`` writes them all), ``null``
allowed exactly where the converter accepts it, an "open" enum as its listed values or
any other string, datetimes as ISO 8601 strings (``format: date-time``), free-form
objects as any object, no other keys. They are JSON Schema 2020-12 (OpenAPI 3.1, as
FastAPI writes it), self-contained (no ``$ref``), and a new copy on every call.

FastAPI, with the raw schema::

    @app.get("/tasks/{provider}/{task_id}", responses={
        200: {"content": {"application/json": {"schema": task_json_schema()}}}})
    async def get_task(...) -> Response: ...

or with `pydantic_task_type` as the response model (pydantic is imported only then)::

    @app.get("/tasks/cakewalk/{task_id}", response_model=pydantic_task_type("cakewalk"))
    async def get_task(...) -> Any:
        return await bridge.get("cakewalk", task_id)
"""

from __future__ import annotations

import copy
import enum
import functools
import types
import typing
from datetime import datetime
from typing import Any

import attrs

from ._base.errors import ConfigurationError
from ._base.models import UnifiedTask
from ._base.status import TaskStatus
from ._decode.convert import _wire_name
from ._decode.typeinfo import open_enum, split_optional
from .providers import get_spec, registered

__all__ = ["pydantic_task_type", "task_json_schema"]

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    datetime: {"type": "string", "format": "date-time"},
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str) and "enum" not in schema:
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _summary(cls: type[Any]) -> str:
    return (cls.__doc__ or "").strip().split("\n", 1)[0]


def _type_schema(tp: Any) -> dict[str, Any]:
    """The schema of a value of type ``tp``, as the converter unstructures it."""
    if (parts := open_enum(tp)) is not None:
        enum_cls, optional = parts
        listed = {"enum": [member.value for member in enum_cls], "title": enum_cls.__name__}
        schema: dict[str, Any] = {"anyOf": [listed, {"type": "string"}]}
        if optional:
            schema["anyOf"].append({"type": "null"})
        return schema
    inner, optional = split_optional(tp)
    schema = _inner_schema(inner)
    return _nullable(schema) if optional else schema


def _inner_schema(tp: Any) -> dict[str, Any]:
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return {"type": "array", "items": _type_schema(item)}
    if origin is dict or tp is dict:
        return {"type": "object"}  # free-form JSON, written as it came
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type_schema(arg) for arg in typing.get_args(tp)]}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [member.value for member in tp], "title": tp.__name__}
    if isinstance(tp, type) and attrs.has(tp):
        return _model_schema(tp)
    return {}  # a type the converters know no rule for (``Any``): any value


def _model_schema(cls: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties = {_wire_name(f): _type_schema(hints[f.name]) for f in attrs.fields(cls)}
    schema: dict[str, Any] = {"type": "object", "title": cls.__name__}
    if summary := _summary(cls):
        schema["description"] = summary
    schema |= {
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    return schema


def _date_or_null() -> dict[str, Any]:
    return {"type": ["string", "null"], "format": "date-time"}


@functools.cache
def _task_schema(provider: str) -> dict[str, Any]:
    detail_format = get_spec(provider).detail_format
    if detail_format is None:
        raise ConfigurationError(f"provider {provider!r} has no serialization (no detail_format)")
    detail_cls, _ = detail_format()
    properties = {
        "provider": {"const": provider},
        "id": {"type": "string"},
        "status": {"enum": [status.value for status in TaskStatus], "title": "TaskStatus"},
        "provider_status": {"type": "string"},
        "kind": {"type": ["string", "null"]},
        "created_at": _date_or_null(),
        "updated_at": _date_or_null(),
        "detail": _model_schema(detail_cls),
    }
    return {
        "type": "object",
        "title": f"UnifiedTask[{detail_cls.__name__}]",
        "description": f"`UnifiedTask.to_dict()` of a {provider} task.",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


@functools.cache
def _any_task_schema(providers: tuple[str, ...]) -> dict[str, Any]:
    return {
        "title": "UnifiedTask",
        "description": "`UnifiedTask.to_dict()` of a task of any provider.",
        "oneOf": [_task_schema(name) for name in providers],
    }


def task_json_schema(provider: str | None = None) -> dict[str, Any]:
    """Return the JSON Schema of `UnifiedTask.to_dict` data (a new dict each call).

    Args:
        provider: a provider's name (``"cakewalk"``): its tasks only, ``detail`` as
            its model; ``None``: a task of any registered provider that can be
            serialized (``oneOf``, told apart by ``provider``).

    Raises:
        ConfigurationError: ``provider`` is not registered, or its tasks have no
            ``to_dict`` form.

    Example:
        ```python
        import jsonschema
        jsonschema.validate(task.to_dict(), task_json_schema("cakewalk"))
        ```
    """
    if provider is not None:
        return copy.deepcopy(_task_schema(str(provider)))
    names = tuple(name for name, spec in registered().items() if spec.detail_format is not None)
    return copy.deepcopy(_any_task_schema(names))


def _as_data(value: object) -> object:
    return value.to_dict() if isinstance(value, UnifiedTask) else value


def pydantic_task_type(provider: str | None = None) -> Any:
    """Return a pydantic type (``Annotated[dict[str, Any], ...]``) of a task's
    `UnifiedTask.to_dict` data, whose JSON Schema is `task_json_schema` (``provider``).

    Use it as FastAPI's ``response_model`` (or a field of a pydantic model): a route
    may return the `UnifiedTask` itself, which becomes its ``to_dict()`` data, or
    that data. Needs pydantic 2 (imported by this call only; taskbridge does not
    depend on it).

    Raises:
        ConfigurationError: as `task_json_schema`.
    """
    from pydantic import BeforeValidator, WithJsonSchema

    schema = task_json_schema(provider)
    return typing.Annotated[dict[str, Any], BeforeValidator(_as_data), WithJsonSchema(schema)]
