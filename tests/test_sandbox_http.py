"""The sandbox answers like the providers: auth, 404s, spaces, identifiers, slow answers."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import pytest

from taskbridge.sandbox import (
    Faults,
    Sandbox,
)

from ._sandbox_support import (  # noqa: F401
    ALUMIO_HEADERS,
    CAKEWALK_HEADERS,
    Client,
    Specs,
    alumio_path,
    client_fixture,
    sandbox_fixture,
    specs_fixture,
)

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
