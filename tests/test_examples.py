"""examples/: each program runs against the sandbox as a user would run it, so none can rot.

The services run as their own processes (or in-process for aiohttp.web) with the
``TASKBRIDGE_*`` variables a user gets from ``taskbridge sandbox``; the user's test
suite runs under pytest in a directory of its own.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from taskbridge.cli._output import sandbox_banner
from taskbridge.sandbox import Faults, Lifecycle, Sandbox

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# Every file in examples/ and the test that runs it; a new example must be added here.
RUN_BY = {
    "aiohttp_service.py": "test_aiohttp_service*",
    "batch_job.py": "test_batch_job_*",
    "fastapi_service.py": "test_fastapi_service_*",
    "starlette_service.py": "test_starlette_service_*",
    "wait_worker.py": "test_wait_worker_*",
    "testing/conftest.py": "test_users_test_suite_passes",
    "testing/pyproject.toml": "test_users_test_suite_passes",
    "testing/sync_job.py": "test_users_test_suite_passes",
    "testing/test_sync_job.py": "test_users_test_suite_passes",
}


def sandbox_environ(sandbox: Sandbox) -> dict[str, str]:
    """The environment a user has after pasting `taskbridge sandbox`'s export lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKBRIDGE_")}
    for line in sandbox_banner(sandbox, None):
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0]
    return env


async def within(seconds: float, condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait until ``condition()`` holds, checking every 20 ms; fail after ``seconds``."""
    for _ in range(int(seconds / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition did not hold within {seconds} s")


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=1) as sb:
        yield sb


@pytest.fixture
def sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    return sandbox_environ(sandbox)


def test_every_example_file_is_run_by_a_test() -> None:
    relative = [p.relative_to(EXAMPLES) for p in EXAMPLES.rglob("*") if p.is_file()]
    files = {  # caches (__pycache__, .mypy_cache) are not examples
        p.as_posix() for p in relative if not any(part.startswith((".", "__")) for part in p.parts)
    }
    assert files == set(RUN_BY)
    names = {name for name in globals() if name.startswith("test_")}
    for pattern in RUN_BY.values():
        assert any(re.fullmatch(pattern.replace("*", ".*"), n) for n in names), pattern


# The batch job.


async def run_batch_job(refs: Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "batch_job.py"),
        str(refs),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 50)
    return proc.returncode or 0, out.decode(), err.decode()


async def run_wait_worker(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "wait_worker.py"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 50)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_wait_worker_follows_tasks_to_their_end() -> None:
    # Stages of about 0.2 s: Alumio's 1-s first poll interval sees tasks end quickly.
    async with Sandbox(seed=1, lifecycle=Lifecycle(step=0.2, jitter=0.0)) as sb:
        ids = [i for i in sb.alumio_ids if i == i.strip()][:3]
        finals = {i: sb.schedule("alumio", i)[-1][1] for i in ids}
        code, out, err = await run_wait_worker(
            sandbox_environ(sb), *(f"alumio:{i}" for i in ids), "--timeout", "40"
        )
    succeeded = sum(status == "finished" for status in finals.values())
    assert code == (0 if succeeded == len(ids) else 1), out + err
    lines = out.splitlines()
    for task_id, final in finals.items():
        seen = [line for line in lines if line.startswith(f"alumio {task_id}: ")]
        assert seen[0].startswith(f"alumio {task_id}: - -> ")  # first seen (as it is by then)
        assert seen[-1].endswith(f" -> {final}")
    assert lines[-1] == f"{succeeded} of {len(ids)} succeeded"


async def test_wait_worker_reports_a_missing_task_and_exits_1(sandbox_env: dict[str, str]) -> None:
    code, out, err = await run_wait_worker(sandbox_env, "alumio:no-such-task", "--timeout", "40")
    assert code == 1, out + err
    assert "alumio no-such-task: TaskNotFoundError" in out
    assert out.splitlines()[-1] == "0 of 1 succeeded"


async def test_wait_worker_times_out_with_124() -> None:
    async with Sandbox(seed=1, lifecycle=Lifecycle(speed=0)) as sb:  # time stands still
        code, out, err = await run_wait_worker(
            sandbox_environ(sb), f"alumio:{sb.alumio_ids[0]}", "--timeout", "1.5"
        )
    assert code == 124, out + err
    assert err.strip() == "timed out after 1.5s"


async def test_batch_job_fetches_a_file_of_refs_with_progress(
    sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    refs = tmp_path / "refs.txt"
    lines = ["# exported on Monday", ""]
    lines += [f"cakewalk {i}" for i in sandbox.cakewalk_ids]
    lines += [f"alumio {i}" for i in sandbox.alumio_ids if i == i.strip()]
    refs.write_text("\n".join(lines) + "\n")
    total = len(lines) - 2

    code, out, err = await run_batch_job(refs, sandbox_env)

    assert code == 0, out + err
    assert out.splitlines()[0] == f"fetched {total} of {total} tasks"
    counted = [int(line.rsplit(": ", 1)[1]) for line in out.splitlines()[1:]]
    assert sum(counted) == total
    assert "  cakewalk succeeded: " in out and "  alumio failed: " in out
    progress = err.splitlines()
    assert len(progress) >= 10 and all(line.startswith("progress: ") for line in progress)
    assert progress[-1] == f"progress: {total}/{total} (100%)"
    assert sandbox.stats.total == total  # the count pass sends nothing


async def test_batch_job_reports_failures_and_exits_1(
    sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    refs = tmp_path / "refs.txt"
    refs.write_text(
        f"cakewalk {sandbox.cakewalk_ids[0]}\n"
        "cakewalk 00000000-0000-4000-8000-000000000000\n"
        "cakewalk not-a-uuid\n"
    )
    code, out, err = await run_batch_job(refs, sandbox_env)
    assert code == 1, out + err
    assert out.splitlines()[0] == "fetched 1 of 3 tasks"
    assert "FAILED cakewalk '00000000-0000-4000-8000-000000000000': TaskNotFoundError" in out
    assert "FAILED cakewalk 'not-a-uuid': InvalidTaskIdError" in out
    assert err.splitlines()[-1] == "progress: 3/3 (100%)"


async def get_json(session: aiohttp.ClientSession, url: Any) -> tuple[int, Any]:
    async with session.get(url) as response:
        return response.status, await response.json()


# The Starlette service.


class Service:
    """examples/starlette_service.py running under uvicorn on a free port."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str, log: list[str]) -> None:
        self.proc = proc
        self.url = url
        self.log = log  # its stderr so far

    async def json(self, session: aiohttp.ClientSession, path: str) -> tuple[int, Any]:
        async with session.get(self.url + path) as response:
            return response.status, await response.json()

    async def stop(self) -> int:
        """Interrupt it as Ctrl+C would; return its exit status once it has shut down."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
        _, rest = await asyncio.wait_for(self.proc.communicate(), 30)
        self.log.append(rest.decode() if rest else "")
        return self.proc.returncode or 0


async def start_service(env: dict[str, str]) -> Service:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "starlette_service.py"),
        "--port",
        "0",
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stderr is not None
    log: list[str] = []

    async def started() -> str:
        assert proc.stderr is not None
        while line := (await proc.stderr.readline()).decode():
            log.append(line)
            if match := re.search(r"Uvicorn running on (http://\S+)", line):
                return match.group(1)
        raise AssertionError("the service exited:\n" + "".join(log))

    try:
        return Service(proc, await asyncio.wait_for(started(), 30), log)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise


@pytest.fixture
async def service(sandbox_env: dict[str, str]) -> AsyncIterator[Service]:
    svc = await start_service(sandbox_env)
    try:
        yield svc
    finally:
        await svc.stop()


async def test_starlette_service_health_and_tasks(sandbox: Sandbox, service: Service) -> None:
    async with aiohttp.ClientSession() as session:
        status, health = await service.json(session, "/health")
        assert status == 200
        assert health == {
            "status": "ok",
            "providers": ["cakewalk", "alumio"],
            "served": 0,
            "failed": 0,
            "cancelled": 0,
            "in_flight": 0,
        }

        task_id = sandbox.cakewalk_ids[0]
        status, body = await service.json(session, f"/tasks/cakewalk/{task_id}")
        assert status == 200
        assert body["id"] == task_id and body["provider"] == "cakewalk"
        assert body["status"] in {"pending", "running", "waiting", "succeeded", "rejected"} | {
            "cancelled",
            "failed",
            "skipped",
            "unknown",
        }
        assert body["detail"]["id"] == task_id  # the typed record, serialized

        alumio_id = next(i for i in sandbox.alumio_ids if i.isalnum() or "-" in i)
        status, body = await service.json(session, f"/tasks/alumio/{alumio_id}")
        assert status == 200 and body["id"] == alumio_id

        status, body = await service.json(session, "/tasks/cakewalk/not-a-uuid")
        assert (status, body["error"]) == (400, "InvalidTaskIdError")
        status, body = await service.json(
            session, "/tasks/cakewalk/00000000-0000-4000-8000-000000000000"
        )
        assert (status, body["error"]) == (404, "TaskNotFoundError")

        sandbox.set_faults("alumio", Faults(error_rate=1.0, error_statuses=[500]))
        status, body = await service.json(session, f"/tasks/alumio/{alumio_id}")
        assert (status, body["error"]) == (502, "ServerError")

        status, health = await service.json(session, "/health")
        assert (health["served"], health["failed"], health["cancelled"]) == (2, 3, 0)


async def test_starlette_service_cancels_the_fetch_when_the_client_hangs_up(
    sandbox: Sandbox, service: Service
) -> None:
    # Every Cakewalk answer now takes 30 s: the client will not wait that long.
    sandbox.set_faults("cakewalk", Faults(slow_rate=1.0, slow_delay=30))
    task_id = sandbox.cakewalk_ids[0]
    async with aiohttp.ClientSession() as session:
        request = asyncio.ensure_future(session.get(f"{service.url}/tasks/cakewalk/{task_id}"))

        async def arrived() -> bool:
            return sandbox.stats.cakewalk.in_flight == 1

        await within(20, arrived)
        request.cancel()  # the client hangs up: its connection is closed
        await asyncio.gather(request, return_exceptions=True)

    async with aiohttp.ClientSession() as session:

        async def counted() -> bool:
            _, health = await service.json(session, "/health")
            return bool(health["cancelled"] == 1)

        await within(20, counted)
        _, health = await service.json(session, "/health")
        assert (health["in_flight"], health["served"], health["failed"]) == (0, 0, 0)

        # The bridge is still good for the next client.
        sandbox.set_faults("cakewalk", None)
        status, body = await service.json(session, f"/tasks/cakewalk/{task_id}")
        assert status == 200 and body["id"] == task_id
    assert sandbox.stats.cakewalk.requests == 2


async def test_starlette_service_opens_and_closes_its_bridge_in_the_lifespan(
    service: Service,
) -> None:
    assert await service.stop() == 0
    log = "".join(service.log)
    assert "taskbridge ready: cakewalk, alumio" in log
    assert log.index("taskbridge ready") < log.index("taskbridge closed")
    assert "Application shutdown complete" in log


async def test_starlette_service_without_credentials_fails_at_startup(
    sandbox_env: dict[str, str],
) -> None:
    env = {k: v for k, v in sandbox_env.items() if not k.startswith("TASKBRIDGE_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "starlette_service.py"),
        "--port",
        "0",
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode != 0
    assert "no provider configured" in err.decode()


# The aiohttp.web service, in-process.


async def test_aiohttp_service(
    sandbox: Sandbox, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    for name in [k for k in os.environ if k.startswith("TASKBRIDGE_")]:
        monkeypatch.delenv(name)
    for name, value in sandbox_env.items():
        if name.startswith("TASKBRIDGE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import aiohttp_service

    app = aiohttp_service.create_app()
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/health")
        assert response.status == 200
        assert await response.json() == {"status": "ok", "providers": ["cakewalk", "alumio"]}

        response = await client.get("/tasks/alumio/order-export-529368")
        assert response.status == 200
        body = await response.json()
        assert body["id"] == "order-export-529368" and body["provider"] == "alumio"
        assert body["detail"]["identifier"] == "order-export-529368"

        response = await client.get("/tasks/cakewalk/00000000-0000-4000-8000-000000000000")
        assert response.status == 404
        response = await client.get("/tasks/nowhere/1")
        assert response.status == 400
        bridge = app[aiohttp_service.BRIDGE]
    assert "closed" in repr(bridge)


async def test_aiohttp_service_cancels_the_fetch_when_the_client_hangs_up(
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Served as its main() serves it (``handler_cancellation=True``), a hang-up cancels."""
    from aiohttp import web

    for name, value in sandbox_env.items():
        if name.startswith("TASKBRIDGE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import aiohttp_service

    caplog.set_level("INFO", logger="taskbridge_service")
    sandbox.set_faults("cakewalk", Faults(slow_rate=1.0, slow_delay=30))
    task_id = sandbox.cakewalk_ids[0]
    runner = web.AppRunner(aiohttp_service.create_app(), handler_cancellation=True)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/tasks/cakewalk/{task_id}"
        async with aiohttp.ClientSession() as session:
            request = asyncio.ensure_future(session.get(url))

            async def arrived() -> bool:
                return sandbox.stats.cakewalk.in_flight == 1

            await within(20, arrived)
            request.cancel()  # the client hangs up: its connection is closed
            await asyncio.gather(request, return_exceptions=True)

        async def logged() -> bool:
            return "client went away: cancelled the fetch of cakewalk" in caplog.text

        await within(20, logged)
        sandbox.set_faults("cakewalk", None)
        async with aiohttp.ClientSession() as session:  # the bridge serves the next client
            status, body = await get_json(session, url)
        assert (status, body["id"]) == (200, task_id)
    finally:
        await runner.cleanup()
    assert sandbox.stats.cakewalk.requests == 2


# The user's test suite.


def test_users_test_suite_passes() -> None:
    """examples/testing/ is a project of its own: its pytest settings, conftest and tests."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        capture_output=True,
        text=True,
        cwd=EXAMPLES / "testing",
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout


# The FastAPI service, tested in-process the way FastAPI apps are tested async: httpx's
# ASGITransport does not run the lifespan, asgi-lifespan's LifespanManager does (and
# hands the lifespan's state on through manager.app).


def load_fastapi_app() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "fastapi_service", EXAMPLES / "fastapi_service.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


# --8<-- [start:fastapi]
try:
    import httpx
except ImportError:  # the test extra installs httpx2 (the same API) on Python 3.11+
    import httpx2 as httpx  # type: ignore[no-redef]
from asgi_lifespan import LifespanManager  # noqa: E402 - the recipe shown whole


@pytest.fixture
async def client(
    sandbox: Sandbox, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    for name, value in sandbox_env.items():
        if name.startswith("TASKBRIDGE_"):
            monkeypatch.setenv(name, value)  # TaskBridge.from_env() in the lifespan
    app = load_fastapi_app()  # or: from fastapi_service import app
    async with (
        LifespanManager(app) as manager,  # runs the lifespan: the bridge is open
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client,
    ):
        yield client


async def test_fastapi_service_answers_a_task_as_its_to_dict(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    task_id = sandbox.cakewalk_ids[0]
    response = await client.get(f"/tasks/cakewalk/{task_id}")
    assert response.status_code == 200
    assert response.json()["id"] == task_id
    assert response.json()["detail"]["id"] == task_id  # the provider's record, camelCase
    missing = await client.get("/tasks/cakewalk/00000000-0000-4000-8000-000000000000")
    assert (missing.status_code, missing.json()["error"]) == (404, "TaskNotFoundError")


# --8<-- [end:fastapi]


async def test_fastapi_service_documents_the_task_schema(client: httpx.AsyncClient) -> None:
    import jsonschema

    from taskbridge.schema import task_json_schema

    document = (await client.get("/openapi.json")).json()
    answer = document["paths"]["/tasks/{provider}/{task_id}"]["get"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema["oneOf"] == task_json_schema()["oneOf"]
    body = (await client.get("/tasks/alumio/not-there")).json()
    assert body["error"] == "TaskNotFoundError"
    jsonschema.Draft202012Validator.check_schema(schema)
