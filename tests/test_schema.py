"""`taskbridge.schema`: the JSON Schema of `UnifiedTask.to_dict` data agrees with the
models and the converters, and FastAPI documents it (raw and through pydantic)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jsonschema
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import TypeAdapter

from taskbridge import ConfigurationError, DecodeError, TaskBridge, TaskRef, UnifiedTask
from taskbridge.sandbox import Sandbox
from taskbridge.schema import pydantic_task_type, task_json_schema

PROVIDERS = [pytest.param("cakewalk", id="cakewalk"), pytest.param("alumio", id="alumio")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tasks() -> AsyncIterator[dict[str, list[UnifiedTask[Any]]]]:
    """Every seeded task of both providers, fetched over HTTP from the sandbox."""
    async with Sandbox(seed=3) as sb:
        config = {"cakewalk": sb.cakewalk_config(), "alumio": sb.alumio_config()}
        async with TaskBridge(**config) as bridge:
            refs = [TaskRef("cakewalk", i) for i in sb.cakewalk_ids]
            refs += [TaskRef("alumio", i) for i in sb.alumio_ids]
            results = await bridge.get_many(refs)
    found: dict[str, list[UnifiedTask[Any]]] = {"cakewalk": [], "alumio": []}
    for result in results:
        found[result.ref.provider].append(result.unwrap())
    yield found


def validator(provider: str | None) -> jsonschema.Draft202012Validator:
    schema = task_json_schema(provider)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def keys(schema: Any) -> set[str]:
    """Every key of every object in ``schema``."""
    if isinstance(schema, list):
        return set().union(*map(keys, schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    return set(schema).union(*map(keys, schema.values()))


def test_the_schemas_are_valid_json_schema_and_self_contained() -> None:
    for provider in ("cakewalk", "alumio", None):
        schema = task_json_schema(provider)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert "$ref" not in keys(schema)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_sandbox_task_fits_its_schema_and_the_any_provider_one(
    tasks: dict[str, list[UnifiedTask[Any]]], provider: str
) -> None:
    own, anyone = validator(provider), validator(None)
    assert len(tasks[provider]) == 50
    for task in tasks[provider]:
        data = task.to_dict()
        assert list(own.iter_errors(data)) == [], task.id
        assert list(anyone.iter_errors(data)) == [], task.id


def paths(data: Any, schema: dict[str, Any], at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path of ``data`` under objects whose schema lists their properties."""
    schema = next((s for s in schema.get("anyOf", [schema]) if "properties" in s), schema)
    if isinstance(data, dict) and "properties" in schema:
        for key, value in data.items():
            yield (*at, key)
            yield from paths(value, schema["properties"][key], (*at, key))
    elif isinstance(data, list) and data and "items" in schema:
        yield from paths(data[0], schema["items"], (*at, 0))


def changed(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *parents, last = path
    target: Any = data
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return data


def wrong_type(value: Any) -> Any:
    """A value of another JSON type than ``value`` (never null: that is tested apart)."""
    return 12345 if isinstance(value, (str, bool)) else "not-this-type"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_mutated_tasks_are_rejected(
    tasks: dict[str, list[UnifiedTask[Any]]], provider: str
) -> None:
    own = validator(provider)
    schema = task_json_schema(provider)
    checked = 0
    for task in tasks[provider][:10]:
        data = task.to_dict()
        for path in paths(data, schema):
            assert not own.is_valid(changed(data, path, KeyError)), ("removed", path)
            original: Any = data
            for key in path:
                original = original[key]
            # A free-form object takes any value inside; a null's other values are many.
            if original is not None and not isinstance(original, dict):
                assert not own.is_valid(changed(data, path, wrong_type(original))), path
            checked += 1
        assert not own.is_valid({**data, "unknownKey": 1})
        assert not own.is_valid({**data, "provider": "cakewalk" if provider != "cakewalk" else "x"})
        assert not own.is_valid({**data, "status": "not-a-status"})
    assert checked > 100


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_null_is_allowed_exactly_where_from_dict_accepts_it(
    tasks: dict[str, list[UnifiedTask[Any]]], provider: str
) -> None:
    own = validator(provider)
    schema = task_json_schema(provider)
    seen = {True: 0, False: 0}
    for task in tasks[provider][:10]:
        data = task.to_dict()
        for path in paths(data, schema):
            nulled = changed(data, path, None)
            try:
                UnifiedTask.from_dict(nulled)
            except DecodeError as exc:
                # A null the top level and `detail` then disagree on is a contradiction
                # (refused as such), not a null refused: no JSON Schema can say it.
                accepted = "the task contradicts itself" in str(exc)
            else:
                accepted = True
            assert own.is_valid(nulled) is accepted, path
            seen[accepted] += 1
    assert seen[True] and seen[False]


def test_an_unknown_provider_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown provider 'jira"):
        task_json_schema("jira-not-registered")


def test_each_call_returns_a_new_schema() -> None:
    first = task_json_schema("cakewalk")
    first["properties"].clear()
    assert task_json_schema("cakewalk")["properties"]


@pytest.mark.parametrize("provider", [*PROVIDERS, pytest.param(None, id="any")])
async def test_the_pydantic_type_has_the_schema_and_takes_a_task(
    tasks: dict[str, list[UnifiedTask[Any]]], provider: str | None
) -> None:
    adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(pydantic_task_type(provider))
    assert adapter.json_schema() == task_json_schema(provider)
    task = tasks[provider or "alumio"][0]
    assert adapter.validate_python(task) == task.to_dict()
    assert adapter.validate_python(task.to_dict()) == task.to_dict()


def test_fastapi_documents_the_schema_given_as_responses() -> None:
    app = FastAPI()
    schema = task_json_schema("alumio")

    @app.get("/task", responses={200: {"content": {"application/json": {"schema": schema}}}})
    async def task() -> None:  # pragma: no cover - never called
        return None

    document = app.openapi()
    answer = document["paths"]["/task"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == schema
