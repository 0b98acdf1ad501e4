"""The pytest plugin, used the way a user's own test suite would use it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from taskbridge import TaskBridge, TaskNotFoundError, TaskStatus
from taskbridge.sandbox import Faults, Sandbox


async def test_fixtures_give_a_bridge_wired_to_the_sandbox(
    taskbridge_bridge: TaskBridge, taskbridge_sandbox: Sandbox
) -> None:
    task_id = taskbridge_sandbox.cakewalk_ids[0]
    task = await taskbridge_bridge.get("cakewalk", task_id)
    assert task.id == task_id
    assert isinstance(task.status, TaskStatus)
    assert taskbridge_sandbox.stats.cakewalk.requests == 1


async def test_unknown_ids_are_not_found_through_the_fixture(taskbridge_bridge: TaskBridge) -> None:
    with pytest.raises(TaskNotFoundError):
        await taskbridge_bridge.get("alumio", "no-such-task-anywhere")


class TestOverriddenOptions:
    @pytest.fixture
    def taskbridge_sandbox_options(self) -> dict[str, object]:
        return {"seed": 5, "tasks_per_provider": 60, "faults": Faults(error_rate=1.0)}

    async def test_options_fixture_configures_the_sandbox(
        self, taskbridge_bridge: TaskBridge, taskbridge_sandbox: Sandbox
    ) -> None:
        assert len(taskbridge_sandbox.alumio_ids) >= 60
        result = (await taskbridge_bridge.get_many([("alumio", taskbridge_sandbox.alumio_ids[0])]))[
            0
        ]
        assert not result.ok


def test_plugin_works_in_a_users_project(tmp_path: Path) -> None:
    """A separate test suite, with nothing but the installed plugin, uses the fixtures."""
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            async def test_user_code(taskbridge_bridge, taskbridge_sandbox):
                ids = [("alumio", i) for i in taskbridge_sandbox.alumio_ids[:5]]
                results = await taskbridge_bridge.get_many(ids)
                assert [r.ok for r in results] == [True] * 5
            """
        )
    )
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
