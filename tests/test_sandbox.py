"""The sandbox as a server: stats, configs, credentials, start and stop, the module, its names."""

from __future__ import annotations

import ast
import asyncio
import re
import secrets
import signal
import sys
from collections import Counter

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

import taskbridge.sandbox as sandbox_pkg
from taskbridge.sandbox import (
    Credentials,
    Sandbox,
    SandboxState,
    create_app,
)

from ._sandbox_support import (  # noqa: F401
    CAKEWALK_HEADERS,
    PROVIDERS_DIR,
    SANDBOX_DIR,
    Client,
    client_fixture,
    sandbox_fixture,
    specs_fixture,
)

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
    # Long random values: a short one ("456") once matched the random port (45623).
    key, secret, token = (f"{kind}-{secrets.token_hex(16)}" for kind in ("k", "s", "t"))
    credentials = Credentials(key, secret, token)
    assert secret not in repr(credentials)
    assert token not in repr(credentials)
    async with Sandbox(credentials=credentials) as sb, aiohttp.ClientSession() as session:
        assert secret not in repr(sb)
        assert token not in repr(sb)
        client = Client(sb, session)
        assert (await client.cakewalk(sb.cakewalk_ids[0]))[0] == 401
        good = {"X-API-KEY": key, "X-API-SECRET": secret}
        assert (await client.cakewalk(sb.cakewalk_ids[0], good))[0] == 200
        bearer = {"Authorization": f"Bearer {token}"}
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
