"""Injected faults: their rates, reproducibility, shapes, and the sliding-window limit."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import aiohttp
import orjson
import pytest

from taskbridge.sandbox import (
    Faults,
    Sandbox,
)

from ._sandbox_support import (  # noqa: F401
    CAKEWALK_CONTENT_TYPES,
    Client,
    Specs,
    client_fixture,
    sandbox_fixture,
    specs_fixture,
)

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
