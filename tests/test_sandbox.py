"""The sandbox emulates both task endpoints faithfully, checked with plain aiohttp."""

from __future__ import annotations

import ast
import asyncio
import copy
import json
import logging
import re
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import jsonschema
import orjson
import pytest
import yaml
from aiohttp.test_utils import TestServer
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from yarl import URL

import taskbridge.sandbox as sandbox_pkg
from taskbridge.sandbox import (
    ALUMIO_STATUSES,
    CAKEWALK_REASONS,
    CAKEWALK_STATUSES,
    CAKEWALK_TYPES,
    Credentials,
    Faults,
    Sandbox,
    SandboxState,
    create_app,
)

from ._schemas import openapi_to_jsonschema

SPECS = Path(__file__).resolve().parents[1] / "specs"
SANDBOX_DIR = Path(sandbox_pkg.__file__).parent
PROVIDERS_DIR = SANDBOX_DIR.parent / "providers"
CAKEWALK_CONTENT_TYPES = {
    "application/json; charset=utf-8",
    "text/json; charset=utf-8",
    "text/plain; charset=utf-8",
}
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
CAKEWALK_HEADERS = {"X-API-KEY": "sandbox-key", "X-API-SECRET": "sandbox-secret"}
ALUMIO_HEADERS = {"Authorization": "Bearer sandbox-token", "Accept": "application/json"}


# --- spec schemas ---------------------------------------------------------------------------


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time")
def _is_rfc3339(value: object) -> bool:
    return not isinstance(value, str) or RFC3339.fullmatch(value) is not None


def _validator(uri: str, spec: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    schema = {"$ref": f"{uri}#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry, format_checker=FORMATS)


class Specs:
    """Both providers' spec schemas, ready to validate bodies."""

    def __init__(self) -> None:
        raw = json.loads((SPECS / "cakewalk-get-task.openapi.json").read_text())
        self.cakewalk_raw: dict[str, Any] = openapi_to_jsonschema(raw)
        self.alumio_raw: dict[str, Any] = openapi_to_jsonschema(
            yaml.safe_load((SPECS / "alumio-get-task.openapi.yaml").read_text())
        )
        self.relaxed_raw = copy.deepcopy(self.alumio_raw)
        del self.relaxed_raw["components"]["schemas"]["TaskStatus"]["enum"]

    def cakewalk(self, body: Any, name: str) -> None:
        _validator("urn:cakewalk", self.cakewalk_raw, name).validate(body)

    def alumio(self, body: Any, name: str, *, relaxed: bool | None = None) -> None:
        if relaxed is None:
            inner = body.get("object", body) if isinstance(body, dict) else None
            # "rejected" is documented but missing from the enum: all else must be strict.
            relaxed = isinstance(inner, dict) and inner.get("status") == "rejected"
        _validator("urn:alumio", self.relaxed_raw if relaxed else self.alumio_raw, name).validate(
            body
        )


@pytest.fixture(scope="module")
def specs() -> Specs:
    return Specs()


# --- helpers --------------------------------------------------------------------------------


def alumio_path(identifier: str) -> str:
    return quote(identifier, safe="").replace(".", "%2E")


class Client:
    """Plain aiohttp requests against one sandbox."""

    def __init__(self, sandbox: Sandbox, session: aiohttp.ClientSession) -> None:
        self.sandbox = sandbox
        self.session = session

    async def get(
        self, raw_path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str, bytes, aiohttp.typedefs.LooseHeaders]:
        url = URL(self.sandbox.url + raw_path, encoded=True)
        async with self.session.get(url, headers=headers, allow_redirects=False) as resp:
            body = await resp.read()
            return resp.status, resp.headers.get("Content-Type", ""), body, resp.headers

    async def cakewalk(
        self, task_id: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str, bytes, Any]:
        return await self.get(f"/api/v1/Tasks/{task_id}", CAKEWALK_HEADERS | (headers or {}))

    async def alumio(
        self, identifier: str, *, space: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str, bytes, Any]:
        query = f"?space={quote(space, safe='')}" if space is not None else ""
        path = f"/api/v1/tasks/{alumio_path(identifier)}{query}"
        return await self.get(path, ALUMIO_HEADERS | (headers or {}))


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=1) as sb:
        yield sb


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(sandbox, session)


def all_tasks(state: SandboxState, provider: str) -> list[dict[str, Any]]:
    return [state.expected(provider, task_id) for task_id in state.ids(provider)]


def values(tasks: Iterable[dict[str, Any]], key: str) -> list[Any]:
    return [task[key] for task in tasks if key in task]


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


# --- auth, 404, spaces, identifiers ---------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-API-KEY": "", "X-API-SECRET": ""}, id="empty"),
        pytest.param({"X-API-KEY": "wrong"}, id="bad-key"),
        pytest.param({"X-API-SECRET": "wrong"}, id="bad-secret"),
    ],
)
async def test_cakewalk_bad_credentials_get_401_problem_details(
    client: Client, sandbox: Sandbox, specs: Specs, headers: dict[str, str]
) -> None:
    task_id = sandbox.cakewalk_ids[0]
    status, content_type, body, _ = await client.cakewalk(task_id, headers)
    assert (status, content_type) == (401, "application/problem+json; charset=utf-8")
    problem = orjson.loads(body)
    specs.cakewalk(problem, "ProblemDetails")
    assert problem["status"] == 401
    assert problem["instance"] == f"/api/v1/Tasks/{task_id}"
    assert {"type", "title", "status", "detail", "instance"} <= problem.keys()


async def test_cakewalk_without_headers_gets_401(client: Client, sandbox: Sandbox) -> None:
    status, _, _, _ = await client.get(f"/api/v1/Tasks/{sandbox.cakewalk_ids[0]}")
    assert status == 401


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Bearer wrong", id="bad-token"),
        pytest.param("Basic sandbox-token", id="not-bearer"),
    ],
)
async def test_alumio_bad_token_gets_401_error_body(
    client: Client, sandbox: Sandbox, specs: Specs, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    path = f"/api/v1/tasks/{alumio_path(sandbox.alumio_ids[0])}"
    status, content_type, body, _ = await client.get(path, headers)
    assert (status, content_type) == (401, "application/json")
    error = orjson.loads(body)
    specs.alumio(error, "Error")
    assert error["status"] == "401"
    assert error["violations"] == []


async def test_alumio_bearer_scheme_is_case_insensitive(client: Client, sandbox: Sandbox) -> None:
    headers = {"Authorization": "bearer sandbox-token"}
    assert (await client.alumio(sandbox.alumio_ids[0], headers=headers))[0] == 200


@pytest.mark.parametrize(
    "task_id",
    [
        pytest.param(str(uuid.UUID(int=42, version=4)), id="unknown-uuid"),
        pytest.param("not-a-uuid", id="not-uuid"),
        pytest.param("3fa85f6457174562b3fc2c963f66afa6", id="no-hyphens"),
    ],
)
async def test_cakewalk_unknown_id_gets_404_problem_details(
    client: Client, specs: Specs, task_id: str
) -> None:
    status, content_type, body, _ = await client.cakewalk(task_id)
    assert (status, content_type) == (404, "application/problem+json; charset=utf-8")
    problem = orjson.loads(body)
    specs.cakewalk(problem, "ProblemDetails")
    assert problem["status"] == 404


async def test_cakewalk_uppercase_id_is_the_same_task(client: Client, sandbox: Sandbox) -> None:
    task_id = sandbox.cakewalk_ids[3]
    status, _, body, _ = await client.cakewalk(task_id.upper())
    assert status == 200
    assert orjson.loads(body)["data"] == sandbox.expected("cakewalk", task_id)
    assert sandbox.stats.received == [("cakewalk", task_id.upper())]


async def test_alumio_unknown_identifier_gets_404_error_body(client: Client, specs: Specs) -> None:
    status, _, body, _ = await client.alumio("no-such-task")
    assert status == 404
    error = orjson.loads(body)
    specs.alumio(error, "Error")
    assert error["status"] == "404"


async def test_alumio_space_must_match_the_task(client: Client, sandbox: Sandbox) -> None:
    by_space: dict[str, str] = {}
    for identifier in sandbox.alumio_ids:
        by_space.setdefault(sandbox.space_of(identifier), identifier)
    staging, default = by_space["staging"], by_space["default"]
    assert (await client.alumio(staging, space="staging"))[0] == 200
    assert (await client.alumio(staging))[0] == 200
    assert (await client.alumio(staging, space="default"))[0] == 404
    assert (await client.alumio(default, space="default"))[0] == 200
    assert (await client.alumio(default, space="staging"))[0] == 404


@pytest.mark.parametrize(
    ("raw", "identifier"),
    [
        pytest.param("orders%2F2024%2Fexport-7", "orders/2024/export-7", id="slash"),
        pytest.param("%2E%2E", "..", id="dot-dot"),
        pytest.param("%2E", ".", id="dot"),
        pytest.param("nightly%20export%2017", "nightly export 17", id="space"),
        pytest.param("what%3F-task-1", "what?-task-1", id="question-mark"),
        pytest.param("hash%23tag-task", "hash#tag-task", id="hash"),
        pytest.param("100%25-done", "100%-done", id="percent"),
        pytest.param("a+b=c&d", "a+b=c&d", id="plus-stays-plus"),
        pytest.param(quote("commande-été-東京-✓", safe=""), "commande-été-東京-✓", id="unicode"),
    ],
)
async def test_alumio_identifier_is_decoded_from_one_raw_segment(
    client: Client, sandbox: Sandbox, raw: str, identifier: str
) -> None:
    status, _, body, _ = await client.get(f"/api/v1/tasks/{raw}?space=", ALUMIO_HEADERS)
    assert status == 200
    assert orjson.loads(body)["object"] == sandbox.expected("alumio", identifier)
    assert sandbox.stats.received == [("alumio", identifier)]
    assert sandbox.stats.alumio.by_id == Counter({identifier: 1})


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/v1/tasks/orders/2024/export-7", id="alumio-literal-slash"),
        pytest.param("/api/v1/tasks/", id="alumio-empty"),
        pytest.param("/api/v1/tasks/a/", id="alumio-trailing-slash"),
        pytest.param("/api/v1/Tasks/x/Approve", id="cakewalk-extra-segment"),
        pytest.param("/api/v1/Tasks/", id="cakewalk-empty"),
        pytest.param("/api/v2/tasks/x", id="unknown-route"),
    ],
)
async def test_paths_with_extra_segments_get_404(client: Client, path: str) -> None:
    headers = CAKEWALK_HEADERS | ALUMIO_HEADERS
    assert (await client.get(path, headers))[0] == 404
    assert client.sandbox.stats.received == []


async def test_non_get_methods_are_refused(client: Client, sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/api/v1/Tasks/{sandbox.cakewalk_ids[0]}"
    async with client.session.post(url, headers=CAKEWALK_HEADERS) as resp:
        assert resp.status == 405


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


# --- faults ---------------------------------------------------------------------------------


async def statuses(client: Client, ids: list[str], *, concurrency: int = 32) -> list[int]:
    gate = asyncio.Semaphore(concurrency)

    async def one(task_id: str) -> int:
        async with gate:
            return (await client.cakewalk(task_id))[0]

    return list(await asyncio.gather(*(one(i) for i in ids)))


async def test_error_rate_is_roughly_met(client: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults("cakewalk", Faults(error_rate=0.1, seed=3))
    ids = [sandbox.cakewalk_ids[n % 50] for n in range(2000)]
    seen = Counter(await statuses(client, ids))
    errors = sum(count for status, count in seen.items() if status >= 500)
    assert 140 <= errors <= 260
    assert set(seen) == {200, 500, 502, 503, 504}
    assert sandbox.stats.cakewalk.requests == 2000


@pytest.mark.parametrize(
    ("faults", "status"),
    [
        pytest.param(Faults(rate_limit_rate=0.2, seed=1), 429, id="rate-limit"),
        pytest.param(Faults(malformed_rate=0.3, seed=2), 200, id="malformed"),
    ],
)
def test_fault_rates_are_roughly_met(faults: Faults, status: int) -> None:
    from taskbridge.sandbox._faults import Outcome, decide

    rate = faults.rate_limit_rate or faults.malformed_rate
    outcomes = Counter(
        decide(faults, "alumio", f"id-{n % 37}", n // 37).outcome for n in range(4000)
    )
    assert abs(outcomes[Outcome.OK] / 4000 - (1 - rate)) < 0.03
    assert len(outcomes) == 2


async def test_faults_are_reproducible_per_id_whatever_the_interleaving() -> None:
    faults = Faults(error_rate=0.2, rate_limit_rate=0.1, malformed_rate=0.1, seed=11)
    runs: list[dict[str, list[int]]] = []
    for order in ("sequential", "interleaved"):
        async with Sandbox(seed=1, faults=faults) as sb, aiohttp.ClientSession() as session:
            client = Client(sb, session)
            ids = list(sb.cakewalk_ids[:10])
            schedule = [i for i in ids for _ in range(8)] if order == "sequential" else ids * 8
            per_id: dict[str, list[int]] = {i: [] for i in ids}
            for task_id in schedule:
                status, _, body, _ = await client.cakewalk(task_id)
                per_id[task_id].append(-1 if status == 200 and body[-1:] != b"}" else status)
            runs.append(per_id)
    assert runs[0] == runs[1]
    assert len({s for seq in runs[0].values() for s in seq}) >= 4


def test_a_different_fault_seed_gives_another_sequence() -> None:
    from taskbridge.sandbox._faults import decide

    def sequence(seed: int) -> list[int]:
        faults = Faults(error_rate=0.5, seed=seed)
        return [decide(faults, "cakewalk", "x", n).status for n in range(64)]

    assert sequence(1) == sequence(1)
    assert sequence(1) != sequence(2)


async def test_dropped_connection_is_a_client_connection_error(
    client: Client, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.set_faults("alumio", Faults(drop_rate=1.0))
    with caplog.at_level(logging.DEBUG), pytest.raises(aiohttp.ServerDisconnectedError):
        await client.alumio(sandbox.alumio_ids[0])
    # aiohttp's client retries an idempotent request once on a dropped connection.
    assert sandbox.stats.alumio.requests in (1, 2)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_malformed_body_is_not_json(client: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults("cakewalk", Faults(malformed_rate=1.0))
    status, content_type, body, _ = await client.cakewalk(sandbox.cakewalk_ids[0])
    assert (status, content_type in CAKEWALK_CONTENT_TYPES) == (200, True)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)


@pytest.mark.parametrize("retry", [(0, "0"), (2, "2"), (1.5, "1.5")], ids=["0", "2", "1.5"])
@pytest.mark.parametrize("provider", ["cakewalk", "alumio"])
async def test_rate_limit_fault_gives_429_with_retry_after(
    client: Client, sandbox: Sandbox, specs: Specs, provider: str, retry: tuple[float, str]
) -> None:
    seconds, header = retry
    sandbox.set_faults(provider, Faults(rate_limit_rate=1.0, retry_after=seconds))
    task_id = sandbox.ids(provider)[0]
    get = client.cakewalk if provider == "cakewalk" else client.alumio
    status, _, body, headers = await get(task_id)
    assert (status, headers["Retry-After"]) == (429, header)
    if provider == "cakewalk":
        specs.cakewalk(orjson.loads(body), "ProblemDetails")
        assert orjson.loads(body)["status"] == 429
    else:
        specs.alumio(orjson.loads(body), "Error")
        assert orjson.loads(body)["status"] == "429"


async def test_server_errors_look_like_their_source(client: Client, sandbox: Sandbox) -> None:
    task_id = sandbox.cakewalk_ids[0]
    sandbox.set_faults("cakewalk", Faults(error_rate=1.0, error_statuses=(500,)))
    status, content_type, body, headers = await client.cakewalk(task_id)
    assert (status, content_type) == (500, "application/problem+json; charset=utf-8")
    assert orjson.loads(body)["status"] == 500
    assert "Retry-After" not in headers
    sandbox.set_faults(
        "cakewalk", Faults(error_rate=1.0, error_statuses=(503,), error_retry_after=0)
    )
    status, content_type, body, headers = await client.cakewalk(task_id)
    assert (status, content_type, headers["Retry-After"]) == (503, "text/html; charset=utf-8", "0")
    assert b"503 Service Temporarily Unavailable" in body


async def test_faults_apply_only_after_auth(client: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults("cakewalk", Faults(error_rate=1.0))
    status, _, _, _ = await client.cakewalk(sandbox.cakewalk_ids[0], {"X-API-SECRET": "no"})
    assert status == 401


async def test_faults_can_be_turned_off_at_runtime(client: Client, sandbox: Sandbox) -> None:
    task_id = sandbox.cakewalk_ids[0]
    sandbox.set_faults("cakewalk", Faults(error_rate=1.0))
    assert (await client.cakewalk(task_id))[0] >= 500
    assert (await client.alumio(sandbox.alumio_ids[0]))[0] == 200
    sandbox.set_faults("cakewalk", None)
    assert (await client.cakewalk(task_id))[0] == 200
    assert sandbox.faults("cakewalk") == Faults()


async def test_rate_limit_per_minute_uses_a_sliding_window(
    client: Client, sandbox: Sandbox
) -> None:
    now = [1000.0]
    sandbox.state.clock = lambda: now[0]
    sandbox.set_faults("cakewalk", Faults(rate_limit_per_minute=3))
    task_id = sandbox.cakewalk_ids[0]
    assert [(await client.cakewalk(task_id))[0] for _ in range(3)] == [200, 200, 200]
    status, _, body, headers = await client.cakewalk(task_id)
    assert (status, headers["Retry-After"], orjson.loads(body)["status"]) == (429, "60", 429)
    now[0] += 30.5
    assert (await client.cakewalk(task_id))[3]["Retry-After"] == "30"
    now[0] += 30
    assert (await client.cakewalk(task_id))[0] == 200
    assert (await client.alumio(sandbox.alumio_ids[0]))[0] == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"error_rate": 1.5},
        {"error_rate": 0.6, "drop_rate": 0.6},
        {"latency": -1},
        {"error_statuses": ()},
        {"rate_limit_per_minute": 0},
    ],
)
def test_invalid_faults_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Faults"):
        Faults(**kwargs)


# --- concurrency, slow answers, shutdown ------------------------------------------------------


async def wait_until(predicate: Any) -> None:
    """Let the loop run until ``predicate()`` holds (a state, not a timing, is awaited)."""
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


async def test_slow_answers_count_in_flight_and_end_at_shutdown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = Faults(slow_rate=1.0, slow_delay=3600)
    async with aiohttp.ClientSession() as session:
        async with Sandbox(seed=1, faults={"alumio": faults}) as sb:
            client = Client(sb, session)
            ids = sb.alumio_ids[:10]
            pending = [asyncio.ensure_future(client.alumio(i)) for i in ids]
            await wait_until(lambda: sb.stats.alumio.in_flight == 10)
            assert sb.stats.alumio.peak_in_flight == 10
            assert sb.stats.cakewalk.peak_in_flight == 0
        # Leaving the sandbox ends the delays: every answer arrives, none after an hour.
        results = await asyncio.wait_for(asyncio.gather(*pending), timeout=10)
    assert [r[0] for r in results] == [200] * 10
    assert sb.stats.alumio.in_flight == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_client_leaving_mid_request_leaves_no_trace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with (
        Sandbox(seed=1, faults=Faults(latency=3600)) as sb,
        aiohttp.ClientSession() as session,
    ):
        request = asyncio.ensure_future(Client(sb, session).cakewalk(sb.cakewalk_ids[0]))
        await wait_until(lambda: sb.stats.cakewalk.in_flight == 1)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
    assert sb.stats.cakewalk.in_flight == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_latency_applies_to_every_answer(client: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults("cakewalk", Faults(latency=3600))
    request = asyncio.ensure_future(client.cakewalk(sandbox.cakewalk_ids[0]))
    await wait_until(lambda: sandbox.stats.cakewalk.in_flight == 1)
    assert not request.done()
    sandbox.state.wake_all()
    assert (await request)[0] == 200


# --- stats, helpers, lifecycle --------------------------------------------------------------


async def test_stats_count_requests_per_id_and_time(client: Client, sandbox: Sandbox) -> None:
    first, second = sandbox.cakewalk_ids[:2]
    for task_id in (first, first, second):
        await client.cakewalk(task_id)
    await client.alumio("no-such-task")
    await client.get("/elsewhere")
    stats = sandbox.stats
    assert (stats.total, stats.cakewalk.requests, stats.alumio.requests) == (5, 3, 1)
    assert stats.cakewalk.by_id == Counter({first: 2, second: 1})
    assert stats["alumio"].by_id == Counter({"no-such-task": 1})
    assert stats.received[-1] == ("alumio", "no-such-task")
    started = stats.cakewalk.started_at
    assert len(started) == 3
    assert started == sorted(started)
    assert stats.cakewalk.requests_per_second() > 0
    sandbox.reset_stats()
    assert (stats.total, stats.cakewalk.requests, stats.received) == (0, 0, [])
    assert stats.cakewalk.by_id == Counter()


async def test_stats_endpoint_reports_counters(client: Client, sandbox: Sandbox) -> None:
    await client.cakewalk(sandbox.cakewalk_ids[0])
    status, _, body, _ = await client.get("/_sandbox/stats")
    assert status == 200
    assert orjson.loads(body) == {
        "total": 1,
        "cakewalk": {"requests": 1, "in_flight": 0, "peak_in_flight": 1},
        "alumio": {"requests": 0, "in_flight": 0, "peak_in_flight": 0},
    }


async def test_untracked_stats_keep_only_counters() -> None:
    async with Sandbox(track_requests=False) as sb, aiohttp.ClientSession() as session:
        await Client(sb, session).cakewalk(sb.cakewalk_ids[0])
        assert sb.stats.cakewalk.requests == 1
        assert (sb.stats.received, sb.stats.cakewalk.started_at) == ([], [])


async def test_configs_point_at_the_sandbox(sandbox: Sandbox) -> None:
    cakewalk = sandbox.cakewalk_config(max_concurrency=3, requests_per_minute=None)
    assert (cakewalk.base_url, cakewalk.max_concurrency, cakewalk.requests_per_minute) == (
        sandbox.url,
        3,
        None,
    )
    assert (cakewalk.api_key, cakewalk.api_secret) == ("sandbox-key", "sandbox-secret")
    alumio = sandbox.alumio_config(space="staging")
    assert (alumio.base_url, alumio.token, alumio.space) == (
        sandbox.url,
        "sandbox-token",
        "staging",
    )
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sandbox.url)
    assert sandbox.port > 0


async def test_custom_credentials_are_required_and_never_shown() -> None:
    credentials = Credentials("k-123", "s-456", "t-789")
    assert "456" not in repr(credentials)
    assert "789" not in repr(credentials)
    async with Sandbox(credentials=credentials) as sb, aiohttp.ClientSession() as session:
        assert "456" not in repr(sb)
        client = Client(sb, session)
        assert (await client.cakewalk(sb.cakewalk_ids[0]))[0] == 401
        good = {"X-API-KEY": "k-123", "X-API-SECRET": "s-456"}
        assert (await client.cakewalk(sb.cakewalk_ids[0], good))[0] == 200
        bearer = {"Authorization": "Bearer t-789"}
        assert (await client.alumio(sb.alumio_ids[0], headers=bearer))[0] == 200


async def test_sandbox_refuses_a_second_start_and_closes_twice() -> None:
    sb = Sandbox()
    with pytest.raises(RuntimeError):
        _ = sb.url
    await sb.start()
    try:
        with pytest.raises(RuntimeError):
            await sb.start()
    finally:
        await sb.aclose()
    await sb.aclose()


async def test_create_app_runs_under_aiohttp_test_server() -> None:
    state = SandboxState(seed=2)
    async with TestServer(create_app(state)) as server, aiohttp.ClientSession() as session:
        url = server.make_url(f"/api/v1/Tasks/{state.ids('cakewalk')[0]}")
        async with session.get(url, headers=CAKEWALK_HEADERS) as resp:
            assert resp.status == 200
            assert orjson.loads(await resp.read())["data"]["id"] == state.ids("cakewalk")[0]
    assert state.stats.cakewalk.requests == 1


async def test_module_serves_until_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "taskbridge.sandbox",
        "--port",
        "0",
        "--seed",
        "1",
        "--error-rate",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        match = re.fullmatch(r"taskbridge sandbox listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        expected_id = SandboxState(seed=1).ids("cakewalk")[0]
        async with aiohttp.ClientSession() as session:
            url = f"{match[1]}/api/v1/Tasks/{expected_id}"
            async with session.get(url, headers=CAKEWALK_HEADERS) as resp:
                assert resp.status == 200
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, stderr.decode()
        assert stderr == b""
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_module_refuses_bad_fault_flags(capsys: pytest.CaptureFixture[str]) -> None:
    from taskbridge.sandbox.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--error-rate", "2"])
    assert exit_info.value.code == 2
    assert "error_rate" in capsys.readouterr().err


# --- package hygiene ------------------------------------------------------------------------


def test_all_lists_the_public_names_sorted() -> None:
    names = {n for n in vars(sandbox_pkg) if n.isidentifier() and not n.startswith("_")}
    # The built-ins' wire values are read from their emulators on first use.
    public = (names - {"annotations"}) | set(sandbox_pkg._PROVIDER_DATA)

    def isort_style(name: str) -> tuple[int, str]:
        # The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions.
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert sandbox_pkg.__all__ == sorted(sandbox_pkg.__all__, key=isort_style)
    assert set(sandbox_pkg.__all__) == public


EMULATORS = [
    p
    for name in ("cakewalk", "alumio")
    for p in (PROVIDERS_DIR / name / "_emulator.py", PROVIDERS_DIR / name / "_sandbox_data.py")
]


def test_sandbox_never_imports_the_client_at_module_level() -> None:
    # The sandbox must stay an independent check of the client's decoding: its core
    # imports nothing of taskbridge; the emulators, nothing of their client's decoding.
    for source in EMULATORS:
        tree = ast.parse(source.read_text())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    where = f"{node.module or ''}.{alias.name}"
                    client = ("_models", "_converter", "_adapter", "_config", "_bridge")
                    assert not any(c in where for c in client), (source.name, where)
        for forbidden in ("_bridge", "_models", "_converter", "_adapter", "_convert"):
            assert f"{forbidden} import" not in source.read_text(), (source.name, forbidden)
    # The core reaches providers only through the registry and the emulator kit.
    allowed = {"taskbridge.providers", "taskbridge.providers._kit.emulation"}
    for source in SANDBOX_DIR.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{source.name} imports outside the sandbox"
                module = node.module or ""
                assert not module.startswith("taskbridge") or module in allowed, source.name
            if isinstance(node, ast.Import):
                assert all(not a.name.startswith("taskbridge") for a in node.names), source.name
        text = source.read_text()
        for forbidden in ("_bridge", "_models", "_converter", "_adapter", "_convert"):
            assert f"{forbidden} import" not in text, (source.name, forbidden)
