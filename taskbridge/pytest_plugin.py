"""pytest plugin: a sandbox and a bridge wired to it, for testing code that embeds taskbridge.

Installed with taskbridge (the ``pytest11`` entry point) and idle until a test asks
for one of its fixtures:

- ``taskbridge_sandbox``: a started `taskbridge.sandbox.Sandbox` (seed 0) on a free
  loopback port; ``taskbridge_sandbox.cakewalk_ids`` / ``.alumio_ids`` are its seeded
  ids, ``.stats`` counts what it received, ``.set_faults(...)`` injects failures.
- ``taskbridge_bridge``: a `TaskBridge` configured for that sandbox (no client-side rate
  limit, fast retries), closed after the test.

Override ``taskbridge_sandbox_options`` (a dict of `Sandbox` keyword arguments) in your
own ``conftest.py`` to change the seed, the number of tasks, faults or ``any_id``.
The fixtures are async: they need pytest-asyncio (``asyncio_mode = "auto"``, or mark
the tests with ``@pytest.mark.asyncio``).

Example:
    ```python
    async def test_my_sync_job(taskbridge_bridge, taskbridge_sandbox):
        task_id = taskbridge_sandbox.cakewalk_ids[0]
        await my_sync_job(taskbridge_bridge, [("cakewalk", task_id)])
        assert taskbridge_sandbox.stats.cakewalk.requests == 1
    ```
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from taskbridge import TaskBridge
    from taskbridge.sandbox import Sandbox

__all__ = ["taskbridge_bridge", "taskbridge_sandbox", "taskbridge_sandbox_options"]

if TYPE_CHECKING:
    from pytest_asyncio import fixture as _async_fixture
else:
    try:
        from pytest_asyncio import fixture as _async_fixture
    except ImportError:  # without pytest-asyncio the plugin must still load, idle
        _async_fixture = pytest.fixture


@pytest.fixture
def taskbridge_sandbox_options() -> dict[str, Any]:
    """Keyword arguments for the `Sandbox` behind ``taskbridge_sandbox``."""
    return {"seed": 0}


@_async_fixture
async def taskbridge_sandbox(taskbridge_sandbox_options: dict[str, Any]) -> AsyncIterator[Sandbox]:
    """A running sandbox of both providers on a free loopback port."""
    from taskbridge.sandbox import Sandbox

    async with Sandbox(**taskbridge_sandbox_options) as sandbox:
        yield sandbox


@_async_fixture
async def taskbridge_bridge(taskbridge_sandbox: Sandbox) -> AsyncIterator[TaskBridge]:
    """A `TaskBridge` wired to ``taskbridge_sandbox``, closed after the test."""
    from taskbridge import RetryPolicy, TaskBridge

    bridge = TaskBridge(
        cakewalk=taskbridge_sandbox.cakewalk_config(requests_per_minute=None),
        alumio=taskbridge_sandbox.alumio_config(),
        retry=RetryPolicy(initial_backoff=0.0, max_backoff=0.0, max_retry_after=1.0),
    )
    async with bridge:
        yield bridge
