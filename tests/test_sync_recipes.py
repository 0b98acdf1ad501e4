"""The recipes of docs/guides/sync.md, run for real against a sandbox in a background thread.

The guide includes the sections between the ``--8<--`` markers below. Django and Celery
are not installed for the suite: the view runs on a thread pool as a threaded server
would run it, and the prefork task in children of a real ``os.fork()``.
"""

from __future__ import annotations

import asyncio
import os
import select
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from taskbridge.sandbox import BackgroundSandbox

pytestmark = pytest.mark.timeout(120)  # forks and threads: a generous bound

# --8<-- [start:cron]
# refresh_tasks.py: run by cron, e.g. `*/10 * * * * python refresh_tasks.py refs.txt`
import sys  # noqa: E402 - each recipe stands alone

from taskbridge import SyncTaskBridge  # noqa: E402


def cron_main(argv: list[str]) -> int:
    """Fetch every ``provider,task_id`` line of a file; exit 1 if any failed."""
    with open(argv[1]) as lines:
        refs = [tuple(line.strip().split(",", 1)) for line in lines if line.strip()]
    failed = 0
    with SyncTaskBridge.from_env() as bridge:  # reads TASKBRIDGE_* from cron's environment
        for result in bridge.stream(refs):  # as they complete, memory bounded
            if result.ok:
                print(f"{result.ref.task_id}: {result.task.status.value}")
            else:
                failed += 1
                print(f"{result.ref.task_id}: {result.error}", file=sys.stderr)
    return 1 if failed else 0


# if __name__ == "__main__":
#     sys.exit(cron_main(sys.argv))
# --8<-- [end:cron]


# --8<-- [start:django-settings]
# settings.py (or any module imported once per process): one bridge for the process.
import atexit  # noqa: E402

from taskbridge import SyncTaskBridge  # noqa: E402, F811 - each recipe stands alone


def make_settings_bridge() -> SyncTaskBridge:
    bridge = SyncTaskBridge.from_env()  # no I/O yet: the loop starts on first use
    atexit.register(bridge.close)  # closed at exit (it would be anyway, quietly)
    return bridge


# In settings.py itself: TASKBRIDGE = make_settings_bridge()
# --8<-- [end:django-settings]


# --8<-- [start:django-view]
# views.py: threaded workers share the settings' bridge: one pool, one rate budget.
from taskbridge import TaskNotFoundError  # noqa: E402


def task_status(bridge: SyncTaskBridge, task_id: str) -> tuple[int, dict[str, Any]]:
    """The view's body; in Django: ``return JsonResponse(body, status=status)`` with
    ``bridge = settings.TASKBRIDGE``."""
    try:
        task = bridge.get("alumio", task_id)
    except TaskNotFoundError:
        return 404, {"error": "no such task"}
    return 200, {"id": task.id, "status": task.status.value, "done": task.is_terminal}


# --8<-- [end:django-view]


# --8<-- [start:django-command]
# management/commands/task_report.py: `python manage.py task_report alumio id1 id2 ...`
class Command:  # in Django: class Command(BaseCommand)
    help = "Print the status of tasks"

    def __init__(self, bridge: SyncTaskBridge) -> None:
        self.bridge = bridge  # in Django: settings.TASKBRIDGE

    def handle(self, provider: str, *task_ids: str) -> str:
        fast = self.bridge.with_options(timeout=10.0)  # a command's own settings
        results = fast.get_many([(provider, t) for t in task_ids], timeout=60)
        return "\n".join(
            f"{r.ref.task_id}: {r.task.status.value if r.ok else type(r.error).__name__}"
            for r in results
        )


# --8<-- [end:django-command]


# --8<-- [start:celery]
# tasks.py: a Celery worker with the prefork pool imports this module in the parent,
# then forks its children; each child starts its own loop and connections on first use.
def refresh_task(bridge: SyncTaskBridge, provider: str, task_id: str) -> dict[str, Any]:
    """The task body; in Celery: ``@app.task`` and ``bridge = settings.TASKBRIDGE``."""
    return bridge.get(provider, task_id).to_dict()  # JSON-ready, for the result backend


# --8<-- [end:celery]


# --8<-- [start:notebook]
# A notebook cell: Jupyter runs its own event loop, and a SyncTaskBridge does not use it.
def notebook_cell(bridge: SyncTaskBridge, task_ids: list[str]) -> list[str]:
    results = bridge.get_many([("alumio", t) for t in task_ids])
    return [r.task.status.value for r in results if r.ok]


# --8<-- [end:notebook]


@pytest.fixture
def env(
    taskbridge_thread_sandbox: BackgroundSandbox, monkeypatch: pytest.MonkeyPatch
) -> BackgroundSandbox:
    for name in list(os.environ):
        if name.startswith("TASKBRIDGE_"):
            monkeypatch.delenv(name)
    for name, value in taskbridge_thread_sandbox.env().items():
        monkeypatch.setenv(name, value)
    return taskbridge_thread_sandbox


def test_cron_recipe_prints_each_task_and_exits_1_on_a_failure(
    env: BackgroundSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refs = tmp_path / "refs.txt"
    ids = env.alumio_ids[:5]
    refs.write_text("".join(f"alumio,{i}\n" for i in ids))
    assert cron_main(["refresh_tasks.py", str(refs)]) == 0
    out = capsys.readouterr().out
    assert sorted(line.split(":")[0] for line in out.splitlines()) == sorted(ids)
    refs.write_text(refs.read_text() + "alumio,no-such-task-0000\n")
    assert cron_main(["refresh_tasks.py", str(refs)]) == 1
    assert "no-such-task-0000" in capsys.readouterr().err


def test_django_view_and_command_recipes_share_the_settings_bridge(
    env: BackgroundSandbox,
) -> None:
    bridge = make_settings_bridge()
    try:
        ids = list(env.alumio_ids[:8]) * 4 + ["missing-task-0001"]
        with ThreadPoolExecutor(8) as workers:  # a threaded server's request threads
            answers = list(workers.map(lambda t: task_status(bridge, t), ids))
        assert [a[0] for a in answers] == [200] * 32 + [404]
        assert answers[0][1]["id"] == ids[0]
        report = Command(bridge).handle("alumio", *env.alumio_ids[:3], "missing-task-0002")
        lines = report.splitlines()
        assert lines[-1] == "missing-task-0002: TaskNotFoundError" and len(lines) == 4
        assert bridge.stats().providers["alumio"].requests >= 9
    finally:
        bridge.close()
        atexit.unregister(bridge.close)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_celery_prefork_recipe_runs_in_forked_children(env: BackgroundSandbox) -> None:
    bridge = make_settings_bridge()
    try:
        refresh_task(bridge, "alumio", env.alumio_ids[0])  # the parent used it too
        children = []
        for task_id in env.alumio_ids[1:3]:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - reports through the pipe
                code = 1
                try:
                    os.close(read)
                    os.write(write, refresh_task(bridge, "alumio", task_id)["id"].encode())
                    code = 0
                finally:
                    os._exit(code)
            os.close(write)
            children.append((pid, read, task_id))
        for pid, read, task_id in children:
            try:
                assert select.select([read], [], [], 60)[0], "a child did not answer"
                assert os.read(read, 4096).decode() == task_id
            finally:
                os.close(read)
                assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        assert refresh_task(bridge, "alumio", env.alumio_ids[3])["id"] == env.alumio_ids[3]
    finally:
        bridge.close()
        atexit.unregister(bridge.close)


def test_notebook_recipe_works_inside_a_running_event_loop(env: BackgroundSandbox) -> None:
    bridge = make_settings_bridge()

    async def kernel() -> list[str]:  # as Jupyter's kernel runs a cell
        return notebook_cell(bridge, list(env.alumio_ids[:4]))

    try:
        assert len(asyncio.run(kernel())) == 4
    finally:
        bridge.close()
        atexit.unregister(bridge.close)


def test_the_guide_includes_every_recipe() -> None:
    guide = (Path(__file__).parents[1] / "docs" / "guides" / "sync.md").read_text()
    sections = ("cron", "django-settings", "django-view", "django-command", "celery", "notebook")
    for section in sections:
        assert f'--8<-- "tests/test_sync_recipes.py:{section}"' in guide
