"""Self-contained JSON Schemas for the 200 bodies, built from the vendored OpenAPI specs.

`hypothesis_jsonschema.from_schema` wants plain JSON Schema, so the OpenAPI documents are
rewritten: every ``$ref`` to ``components/schemas`` is inlined (the specs hold no
recursive schema) and single-entry ``allOf`` wrappers are unwrapped; OpenAPI 3.0
``nullable: true`` becomes ``type: [T, "null"]`` (``anyOf`` with null where there is no
type); ``format: uuid`` also gets a ``pattern`` so any validator knows it is a UUID, and
`CUSTOM_FORMATS` generates it (a regex strategy costs ~15 ms a draw); ``format: int32``
becomes bounds; free objects (Alumio ``entityData``/``context``) and unknown keys are
narrowed to a few JSON scalars, so generation stays fast and every value survives
``orjson.dumps`` (no integer beyond 64 bits).
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

__all__ = [
    "CUSTOM_FORMATS",
    "SMALL_JSON",
    "UUID_PATTERN",
    "alumio_task_result",
    "body_strategy",
    "cakewalk_task_record",
]

SPECS = Path(__file__).resolve().parents[1] / "specs"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# A JSON scalar that orjson can always serialize, small enough to generate quickly.
SMALL_JSON: dict[str, Any] = {
    "type": ["null", "boolean", "integer", "string"],
    "minimum": -(2**53),
    "maximum": 2**53,
    "maxLength": 8,
}
SMALL_OBJECT: dict[str, Any] = {
    "type": "object",
    "maxProperties": 3,
    "additionalProperties": SMALL_JSON,
}


def _mixed_case(value: uuid.UUID, mask: int) -> str:
    return "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(str(value)))


# Canonical UUIDs in either case (the spec says "format: uuid", nothing about case).
CUSTOM_FORMATS: dict[str, st.SearchStrategy[str]] = {
    "uuid": st.builds(_mixed_case, st.uuids(), st.integers(0, 2**36 - 1)),
}

_DROP = ("description", "title", "enumNames", "example", "examples")


def _rewrite(node: Any, *, free_objects: bool, generating: bool = True) -> Any:
    """Turn one OpenAPI schema object into JSON Schema (draft 7).

    ``generating``: bound free-form values (for strategies); off to validate bodies.
    """
    if isinstance(node, list):
        return [_rewrite(item, free_objects=free_objects, generating=generating) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key == "nullable":
            continue
        if key == "properties":
            out[key] = {
                name: _rewrite(sub, free_objects=free_objects, generating=generating)
                for name, sub in value.items()
            }
        else:
            out[key] = _rewrite(value, free_objects=free_objects, generating=generating)
    out = _formats(out)
    if out.get("type") == "object" and generating:
        out = _objects(out, free_objects=free_objects)
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and set(out) == {"allOf"}:
        out = all_of[0]
    if node.get("nullable"):
        kind = out.get("type")
        if isinstance(kind, str) and "$ref" not in out:
            return {**out, "type": [kind, "null"]}
        return {"anyOf": [out, {"type": "null"}]}
    return out


def openapi_to_jsonschema(document: Any) -> Any:
    """A whole OpenAPI document (or one schema) with its schemas as JSON Schema, ``$ref``
    kept: for validating bodies against the spec (the strategies below inline them)."""
    return _rewrite(document, free_objects=False, generating=False)


def _formats(out: dict[str, Any]) -> dict[str, Any]:
    if out.get("format") == "uuid":
        out["pattern"] = UUID_PATTERN
    if out.get("format") == "int32":
        del out["format"]
        out.setdefault("minimum", -(2**31))
        out.setdefault("maximum", 2**31 - 1)
    return out


def _objects(out: dict[str, Any], *, free_objects: bool) -> dict[str, Any]:
    if free_objects and "properties" not in out:
        return copy.deepcopy(SMALL_OBJECT)
    if free_objects and "additionalProperties" not in out:
        # Unknown keys are allowed (and must be ignored): keep them few and small.
        out["additionalProperties"] = SMALL_JSON
        out["maxProperties"] = len(out["properties"]) + 2
    elif out.get("additionalProperties") == {}:
        out["additionalProperties"] = SMALL_JSON
    return out


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """Replace every ``$ref`` by its target."""
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        target = _inline(definitions[name], definitions)
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {"allOf": [target, _inline(rest, definitions)]} if rest else target
    if set(node) == {"anyOf"}:
        options = [_inline(item, definitions) for item in node["anyOf"]]
        first = options[0]
        if (
            len(options) == 2
            and options[1] == {"type": "null"}
            and isinstance(first.get("type"), str)
        ):
            return {**first, "type": [first["type"], "null"]}
        return {"anyOf": options}
    return {key: _inline(value, definitions) for key, value in node.items()}


def _build(root: str, schemas: dict[str, Any], *, free_objects: bool) -> dict[str, Any]:
    definitions = {
        name: _rewrite(schema, free_objects=free_objects) for name, schema in schemas.items()
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        **_inline(definitions[root], definitions),
    }


def cakewalk_task_record() -> dict[str, Any]:
    """``TaskDetailedRecordViewModelV1`` (OpenAPI 3.0, JSON) as a draft-07 JSON Schema."""
    spec = json.loads((SPECS / "cakewalk-get-task.openapi.json").read_text())
    return _build(
        "TaskDetailedRecordViewModelV1", spec["components"]["schemas"], free_objects=False
    )


def alumio_task_result(*, require_object: bool = True) -> dict[str, Any]:
    """``DetailedTaskResult`` (OpenAPI 3.1, YAML) as a draft-07 JSON Schema.

    The spec makes ``object`` optional, but the contract makes a body without it a
    DecodeError; ``require_object`` adds it to ``required`` for the decoding property.
    """
    spec = yaml.safe_load((SPECS / "alumio-get-task.openapi.yaml").read_text())
    schema = _build("DetailedTaskResult", spec["components"]["schemas"], free_objects=True)
    if require_object:
        schema["required"] = ["object"]
    return schema


def body_strategy(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Instances of ``schema``; like `from_schema`, but fast on deep objects.

    `from_schema` re-canonicalises each property's schema on every draw, so a Cakewalk
    body costs ~40 ms. Objects with declared properties are built here with
    `st.fixed_dictionaries` (required and optional keys, plus a few unknown keys where
    ``additionalProperties`` allows them); every other schema (strings, patterns, enums,
    date-times, UUIDs, free objects) is still drawn by `from_schema`.
    """
    schema = {k: v for k, v in schema.items() if k != "$schema"}
    if set(schema) == {"anyOf"}:
        return st.one_of([body_strategy(option) for option in schema["anyOf"]])
    kind = schema.get("type")
    if isinstance(kind, list) and "null" in kind and ("object" in kind or "array" in kind):
        rest = [k for k in kind if k != "null"]
        return st.none() | body_strategy({**schema, "type": rest[0] if len(rest) == 1 else rest})
    if kind == "object" and "properties" in schema:
        required = set(schema.get("required", ()))
        properties = {k: body_strategy(v) for k, v in schema["properties"].items()}
        fixed = st.fixed_dictionaries(
            {k: v for k, v in properties.items() if k in required},
            optional={k: v for k, v in properties.items() if k not in required},
        )
        extra = schema.get("additionalProperties", True)
        if extra is False:
            return fixed
        values = from_schema(
            extra if isinstance(extra, dict) else {}, custom_formats=CUSTOM_FORMATS
        )
        keys = st.text(max_size=8).filter(lambda key: key not in properties)
        limit = schema.get("maxProperties")
        return st.builds(
            lambda known, unknown: {**unknown, **known},
            fixed,
            st.dictionaries(keys, values, max_size=2),
        ).filter(lambda obj: limit is None or len(obj) <= limit)
    if kind == "array" and isinstance(schema.get("items"), dict):
        return st.lists(body_strategy(schema["items"]), max_size=3)
    return from_schema(schema, custom_formats=CUSTOM_FORMATS)
