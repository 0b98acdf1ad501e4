"""The sandbox's bodies follow the providers' specs: seeded, on demand, every value covered."""

from __future__ import annotations

import re
import uuid
from collections import Counter

import aiohttp
import jsonschema
import orjson
import pytest

from taskbridge.sandbox import (
    ALUMIO_STATUSES,
    CAKEWALK_REASONS,
    CAKEWALK_STATUSES,
    CAKEWALK_TYPES,
    Sandbox,
    SandboxState,
)

from ._sandbox_support import (  # noqa: F401
    CAKEWALK_CONTENT_TYPES,
    RFC3339,
    Client,
    Specs,
    all_tasks,
    client_fixture,
    sandbox_fixture,
    specs_fixture,
    values,
)

# --- bodies ---------------------------------------------------------------------------------


async def test_cakewalk_bodies_validate_against_the_spec(
    client: Client, sandbox: Sandbox, specs: Specs
) -> None:
    content_types = set()
    for task_id in sandbox.cakewalk_ids:
        status, content_type, body, _ = await client.cakewalk(task_id)
        assert status == 200
        content_types.add(content_type)
        parsed = orjson.loads(body)
        specs.cakewalk(parsed, "TaskDetailedRecordViewModelV1")
        assert parsed["data"] == sandbox.expected("cakewalk", task_id)
        assert parsed["links"] == {"self": f"/api/v1/Tasks/{task_id}", "next": None}
    assert content_types == CAKEWALK_CONTENT_TYPES


async def test_alumio_bodies_validate_against_the_spec(
    client: Client, sandbox: Sandbox, specs: Specs
) -> None:
    for identifier in sandbox.alumio_ids:
        status, content_type, body, _ = await client.alumio(identifier)
        assert (status, content_type) == (200, "application/json")
        parsed = orjson.loads(body)
        specs.alumio(parsed, "DetailedTaskResult")
        assert parsed["object"] == sandbox.expected("alumio", identifier)


def test_rejected_status_is_off_spec_only_in_its_enum(specs: Specs) -> None:
    state = SandboxState(seed=3)
    rejected = [t for t in all_tasks(state, "alumio") if t.get("status") == "rejected"]
    assert rejected
    for task in rejected:
        with pytest.raises(jsonschema.ValidationError, match="rejected"):
            specs.alumio(task, "DetailedTask", relaxed=False)
        specs.alumio(task, "DetailedTask", relaxed=True)


def test_on_demand_bodies_validate_against_the_specs(specs: Specs) -> None:
    state = SandboxState(seed=5, tasks_per_provider=0, any_id=True)
    for n in range(300):
        task_id = str(uuid.UUID(int=n * 7919 + 1, version=4))
        specs.cakewalk(state.expected("cakewalk", task_id), "TaskDetailedViewModelV1")
        assert state.expected("cakewalk", task_id)["id"] == task_id
        identifier = f'bench-{n} "quoted" \\ ü/?#'
        task = state.expected("alumio", identifier)
        specs.alumio({"object": task}, "DetailedTaskResult")
        assert task.get("identifier", identifier) == identifier


def test_same_seed_gives_the_same_data() -> None:
    first, second = SandboxState(seed=9), SandboxState(seed=9)
    for provider in ("cakewalk", "alumio"):
        assert first.ids(provider) == second.ids(provider)
        assert all_tasks(first, provider) == all_tasks(second, provider)


def test_a_different_seed_gives_different_data() -> None:
    first, second = SandboxState(seed=9), SandboxState(seed=10)
    assert set(first.ids("cakewalk")).isdisjoint(second.ids("cakewalk"))
    assert all_tasks(first, "alumio") != all_tasks(second, "alumio")


def test_cakewalk_ids_are_lowercase_uuid4() -> None:
    for task_id in SandboxState(seed=2).ids("cakewalk"):
        parsed = uuid.UUID(task_id)
        assert (str(parsed), parsed.version) == (task_id, 4)


@pytest.mark.parametrize("seed", [0, 1, 2, 12345])
def test_every_enum_value_appears(seed: int) -> None:
    state = SandboxState(seed=seed)
    cakewalk = all_tasks(state, "cakewalk")
    assert set(values(cakewalk, "status")) == set(CAKEWALK_STATUSES)
    assert set(values(cakewalk, "type")) == set(CAKEWALK_TYPES)
    assert set(values(cakewalk, "systemExecutionReason")) - {None} == set(CAKEWALK_REASONS)
    assert set(values(all_tasks(state, "alumio"), "status")) == set(ALUMIO_STATUSES)


@pytest.mark.parametrize("seed", [0, 1, 2, 12345])
def test_nullable_fields_are_both_null_and_set(seed: int, specs: Specs) -> None:
    schemas = specs.cakewalk_raw["components"]["schemas"]
    tasks = all_tasks(SandboxState(seed=seed), "cakewalk")
    nested = {
        "TaskDetailedViewModelV1": tasks,
        "RequestSimplifiedViewModelV1": [t["request"] for t in tasks if t.get("request")],
        "ReviewOffboardingMetadataViewModelV1": [
            t["offboardingMetadata"] for t in tasks if t.get("offboardingMetadata")
        ],
        "ReviewOnboardingMetadataViewModelV1": [
            t["onboardingMetadata"] for t in tasks if t.get("onboardingMetadata")
        ],
    }
    for schema_name, objects in nested.items():
        for field, schema in schemas[schema_name]["properties"].items():
            if "anyOf" in schema or "null" in schema.get("type", []):
                seen = values(objects, field)
                assert None in seen, f"{schema_name}.{field} is never null"
                assert any(v is not None for v in seen), f"{schema_name}.{field} is never set"
    assert any("isAutoprovisioning" not in t for t in tasks)
    assert any("snoozedTill" not in t for t in tasks)
    assert any(t.get("claimers") == [] for t in tasks)


def test_every_alumio_field_is_sometimes_absent(specs: Specs) -> None:
    tasks = all_tasks(SandboxState(seed=1), "alumio")
    for field in specs.alumio_raw["components"]["schemas"]["DetailedTask"]["properties"]:
        assert any(field not in t for t in tasks), field
        assert any(field in t for t in tasks), field


def test_dates_come_with_z_offsets_and_fractions() -> None:
    state = SandboxState(seed=1)
    stamps = values(all_tasks(state, "cakewalk"), "createdAt")
    stamps += values(all_tasks(state, "alumio"), "updatedAt")
    assert all(RFC3339.fullmatch(s) for s in stamps)
    assert any(s.endswith("Z") for s in stamps)
    assert any(re.search(r"[+-]\d\d:\d\d$", s) for s in stamps)
    assert any("." in s for s in stamps)


def test_alumio_identifiers_include_unusual_characters() -> None:
    ids = SandboxState(seed=1).ids("alumio")
    for needle in ("/", " ", "?", "#", "%", "é"):
        assert any(needle in i for i in ids), needle
    assert ".." in ids
    assert any(re.fullmatch(r"[a-z]+-[a-z]+-\d{6}", i) for i in ids)


def test_spaces_hold_seeded_alumio_tasks() -> None:
    state = SandboxState(seed=1)
    spaces = Counter(state.lookup("alumio", i).space for i in state.ids("alumio"))  # type: ignore[union-attr]
    assert set(spaces) == {"default", "staging"}


def test_expected_raises_for_an_unknown_id(sandbox: Sandbox) -> None:
    with pytest.raises(KeyError):
        sandbox.expected("cakewalk", str(uuid.uuid4()))
    with pytest.raises(KeyError):
        sandbox.expected("alumio", "no-such-task")
    with pytest.raises(ValueError, match="unknown provider"):
        sandbox.expected("jira", "x")


# --- any_id ---------------------------------------------------------------------------------


async def test_any_id_answers_any_uuid_and_identifier_deterministically() -> None:
    task_id = str(uuid.UUID(int=123456789, version=4))
    bodies = []
    for _ in range(2):
        async with Sandbox(seed=4, any_id=True) as sb, aiohttp.ClientSession() as session:
            client = Client(sb, session)
            cakewalk = await client.cakewalk(task_id.upper())
            alumio = await client.alumio("bench/000001 ü", space="anything")
            assert (cakewalk[0], alumio[0]) == (200, 200)
            bodies.append((cakewalk[2], alumio[2]))
            assert orjson.loads(cakewalk[2])["data"]["id"] == task_id
            assert orjson.loads(alumio[2])["object"] == sb.expected("alumio", "bench/000001 ü")
            assert (await client.cakewalk("not-a-uuid"))[0] == 404
    assert bodies[0] == bodies[1]


def test_any_id_memory_stays_bounded() -> None:
    state = SandboxState(tasks_per_provider=0, any_id=True, templates=8)
    for n in range(500):
        state.lookup("alumio", f"id-{n}")
        state.lookup("cakewalk", str(uuid.UUID(int=n, version=4)))
    assert [len(t) for t in state._templates.values()] == [8, 8]
    assert state.expected("alumio", "id-7")["identifier"] == "id-7"


def test_any_id_keeps_seeded_tasks() -> None:
    plain, open_ = SandboxState(seed=1), SandboxState(seed=1, any_id=True)
    assert all_tasks(plain, "cakewalk") == all_tasks(open_, "cakewalk")
    assert plain.lookup("alumio", "missing") is None


def test_the_schema_check_itself_rejects_off_spec_bodies(specs: Specs) -> None:
    task = SandboxState(seed=1).expected("cakewalk", SandboxState(seed=1).ids("cakewalk")[0])
    for broken in (
        {**task, "unexpected": 1},
        {**task, "status": "Done"},
        {**task, "createdAt": "yesterday"},
        {k: v for k, v in task.items() if k != "lastUpdatedAt"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            specs.cakewalk(broken, "TaskDetailedViewModelV1")
