"""A third-party provider, installed as a separate package, works everywhere.

``tests/plugins/jiralike`` is a complete provider in its own distribution (its own
``pyproject.toml``, JSON schema, models, cattrs converter, adapter and sandbox
emulator) that registers itself through the ``taskbridge.providers`` entry point and
changes nothing in ``taskbridge/``. It is pip-installed once per session into a
directory of its own (not the venv, so the rest of the suite sees only the built-ins),
put on ``sys.path`` here and on ``PYTHONPATH`` for the command-line runs.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskbridge import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    InvalidTaskIdError,
    RetryPolicy,
    TaskBridge,
    TaskNotFoundError,
    TaskStatus,
    UnifiedTask,
)
from taskbridge.providers import _kit, get_spec, names
from taskbridge.sandbox import Credentials, Sandbox

from .conftest import ScriptedServer
from .test_secret_scanner import views

PLUGIN_DIR = Path(__file__).parent / "plugins" / "jiralike"
PAT = "pat/JIRALIKE/s3cr3t-value"
ONE = RetryPolicy(max_attempts=1)


@pytest.fixture(scope="session")
def jiralike_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example provider, pip-installed (once) into a directory of its own."""
    target = tmp_path_factory.mktemp("jiralike-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
         "--disable-pip-version-check", "--target", str(target), str(PLUGIN_DIR)],
        check=True,
        timeout=300,
    )  # fmt: skip
    assert (target / "taskbridge_jiralike" / "schema.json").is_file()
    return target


@pytest.fixture
def jiralike(jiralike_site: Path) -> Iterator[Any]:
    """The plug-in's package on ``sys.path`` and registered (through its entry point)
    for one test; the other tests see only the built-ins."""
    sys.path.insert(0, str(jiralike_site))
    importlib.invalidate_caches()
    _kit.registry.reload()
    try:
        import taskbridge_jiralike

        yield taskbridge_jiralike
    finally:
        sys.path.remove(str(jiralike_site))
        for module in [m for m in sys.modules if m.startswith("taskbridge_jiralike")]:
            del sys.modules[module]
        importlib.invalidate_caches()
        _kit.registry.reload()


def cli_env(site: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKBRIDGE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return {**env, **extra}


def test_it_is_registered_through_its_entry_point(jiralike: Any) -> None:
    assert names() == ("cakewalk", "alumio", "jiralike")
    spec = get_spec("jiralike")
    assert spec is jiralike.SPEC
    assert spec.required_env == ("TASKBRIDGE_JIRALIKE_URL", "TASKBRIDGE_JIRALIKE_PAT")
    schema = json.loads((Path(jiralike.__file__).parent / "schema.json").read_text())
    assert schema["title"] == "JiralikeIssue"
    with pytest.raises(ConfigurationError, match="registered: cakewalk, alumio, jiralike"):
        get_spec("jira")


async def test_get_get_many_and_stream_against_the_sandbox(jiralike: Any) -> None:
    async with Sandbox(seed=3) as sb:
        assert sb.providers == ("cakewalk", "alumio", "jiralike")
        keys = sb.ids("jiralike")
        assert keys[:2] == ("JL-1", "JL-2")
        async with TaskBridge(providers=[sb.config("jiralike")], retry=ONE) as bridge:
            task = await bridge.get("jiralike", "JL-1")
            assert isinstance(task, UnifiedTask) and isinstance(task.detail, jiralike.JiralikeIssue)
            assert task.id == "JL-1" and task.status is TaskStatus.RUNNING
            assert task.provider_status == "In Progress"
            assert task.detail.fields.summary == sb.expected("jiralike", "JL-1")["summary"]
            # Serialization goes through the plug-in's converter.
            assert UnifiedTask.from_dict(task.to_dict()) == task

            refs = [("jiralike", k) for k in keys[:10]] + [("jiralike", "JL-9999")]
            results = await bridge.get_many(refs)
            assert [r.ok for r in results] == [True] * 10 + [False]
            assert isinstance(results[-1].error, TaskNotFoundError)
            assert "permission to see it: JL-9999" in str(results[-1].error)
            streamed = [r async for r in bridge.stream(refs)]
            assert sorted(r.ref.task_id for r in streamed) == sorted(k for _, k in refs)

            with pytest.raises(InvalidTaskIdError, match="PROJ-123"):
                await bridge.get("jiralike", "not a key")
            with pytest.raises(ConfigurationError, match="'cakewalk' is not configured"):
                await bridge.get("cakewalk", sb.cakewalk_ids[0])
        assert sb.stats.jiralike.requests == 1 + 11 + 11
        assert sb.stats["jiralike"].requests == sb.stats.as_dict()["jiralike"]["requests"]


async def test_from_env_and_the_sandbox_lifecycle(jiralike: Any) -> None:
    from taskbridge.sandbox import LIFECYCLE_STAGES, Lifecycle

    assert LIFECYCLE_STAGES["jiralike"] == ("To Do", "In Progress", ("Done", "Won't Do"))
    async with Sandbox(seed=1, lifecycle=Lifecycle(speed=0)) as sb:
        env = sb.env()
        assert env["TASKBRIDGE_JIRALIKE_URL"] == sb.url
        async with TaskBridge.from_env(env, limiter=None) as bridge:
            assert bridge.providers == ["cakewalk", "alumio", "jiralike"]
            assert (await bridge.get("jiralike", "JL-2")).provider_status == "To Do"
            sb.advance(3600)
            final = await bridge.wait("jiralike", "JL-2", timeout=10)
            assert final.status in (TaskStatus.SUCCEEDED, TaskStatus.CANCELLED)
        # Scripted answers and added tasks use the plug-in's shapes.
        sb.answer("jiralike", "JL-3", 404)
        key = sb.add_task("jiralike", "NEW-1", status="Done")
        async with TaskBridge(providers=[sb.config("jiralike")], retry=ONE) as bridge:
            with pytest.raises(TaskNotFoundError, match="permission to see it"):
                await bridge.get("jiralike", "JL-3")
            assert (await bridge.get("jiralike", key)).status is TaskStatus.SUCCEEDED


async def test_a_wrong_token_is_a_401_in_its_error_shape(jiralike: Any) -> None:
    creds = Credentials(others={"jiralike": {"pat": PAT}})
    async with Sandbox(credentials=creds) as sb:
        config = jiralike.JiralikeConfig(sb.url, "wrong-pat")
        async with TaskBridge(providers=[config], retry=ONE) as bridge:
            with pytest.raises(AuthenticationError, match="You are not authenticated"):
                await bridge.get("jiralike", "JL-1")
        async with TaskBridge(providers=[sb.config("jiralike")], retry=ONE) as bridge:
            assert (await bridge.get("jiralike", "JL-1")).id == "JL-1"


def echoed(*, error: bool) -> bytes:
    """An error body quoting the token, or a 200 body that does not fit and quotes it."""
    if error:
        return json.dumps({"errorMessages": [f"bad token {PAT}"], "errors": {"pat": PAT}}).encode()
    return json.dumps({"key": PAT, "fields": {"summary": PAT}}).encode()


@pytest.mark.parametrize("status", [400, 401, 404, 500])
async def test_its_token_is_in_no_error(
    jiralike: Any, server: ScriptedServer, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    """The secret scanner's views, for a server that echoes the token everywhere."""
    caplog.set_level(logging.DEBUG)
    # No local of this frame holds the token: the traceback views show its locals.
    server.script([(status, echoed(error=True)), (200, echoed(error=False))])
    config = jiralike.JiralikeConfig(server.url, PAT)
    errors: list[BaseException] = []
    async with TaskBridge(providers=[config], retry=ONE) as bridge:
        for _ in range(2):
            try:
                await bridge.get("jiralike", "JL-1")
            except (APIError, DecodeError) as exc:
                errors.append(exc)
    assert [type(e) for e in errors][1] is DecodeError
    assert repr(config).count(PAT) == 0
    for error in errors:
        found = [where for where, text in views(error).items() if PAT in text]
        assert found == [], found
    assert not [r for r in caplog.records if PAT in r.getMessage() or PAT in repr(r.__dict__)]


def test_the_command_line(jiralike_site: Path) -> None:
    env = cli_env(jiralike_site)
    run = [sys.executable, "-m", "taskbridge"]
    shown = subprocess.run(
        [*run, "get", "--help"], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert "--jiralike-pat" in shown.stdout and "TASKBRIDGE_JIRALIKE_PAT" in shown.stdout
    got = subprocess.run(
        [*run, "get", "jiralike", "JL-1", "--sandbox", "--json"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["id"] == "JL-1"
    half = subprocess.run(
        [*run, "get", "jiralike", "JL-1"],
        check=False,
        env={**env, "TASKBRIDGE_JIRALIKE_URL": "https://jira.example"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert half.returncode == 2
    assert "TASKBRIDGE_JIRALIKE_PAT is not set (or pass --jiralike-pat)" in half.stderr


# --8<-- [start:pytest-plugin]
def test_the_pytest_plugin(jiralike_site: Path, tmp_path: Path) -> None:
    ini = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    (tmp_path / "pytest.ini").write_text(ini)
    (tmp_path / "test_it.py").write_text(
        "async def test_it(taskbridge_bridge, taskbridge_sandbox):\n"
        "    assert 'jiralike' in taskbridge_bridge.providers\n"
        "    key = taskbridge_sandbox.ids('jiralike')[0]\n"
        "    assert (await taskbridge_bridge.get('jiralike', key)).id == 'JL-1'\n"
        "    assert taskbridge_sandbox.stats.jiralike.requests == 1\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         "-W", "error", str(tmp_path)],
        check=False,
        cwd=tmp_path,
        env=cli_env(jiralike_site),
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


# --8<-- [end:pytest-plugin]
