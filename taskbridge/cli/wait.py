"""``taskbridge wait``: poll one task until it is finished, saying how it goes.

On a terminal a spinner line on stderr shows the status as it changes, with the time
elapsed (and the ``--timeout``); otherwise one ``taskbridge: ...`` line per change.
Exits 0 when the task succeeded, 1 when it ended otherwise (failed, rejected,
cancelled, skipped) or could not be fetched, 124 on timeout (as ``timeout(1)`` does).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import TaskStatus, UnifiedTask, WaitTimeoutError
from . import _common as common
from ._options import connection_options, settings_of
from ._progress import StatusLine
from .get import print_task, provider_argument

__all__ = ["EXIT_TIMEOUT", "wait"]

EXIT_TIMEOUT = 124


async def _wait(
    settings: common.Settings, provider: str, task_id: str, timeout: float | None, as_json: bool
) -> int:
    configs = common.configs_of(settings, needed=provider)
    common.check_configured(configs, [provider])
    line = StatusLine(f"{provider} {task_id}", timeout, live=sys.stderr.isatty())

    def seen(task: UnifiedTask[Any]) -> bool:
        line.seen(task)
        return False  # only a terminal task ends the wait

    async with common.open_bridge(settings, configs, lifecycle=True) as bridge:
        timed_out: str | None = None
        with line.shown():
            try:
                task = await bridge.wait(provider, task_id, timeout=timeout, until=seen)
                line.seen(task)  # a terminal task ends the wait before `until` sees it
            except WaitTimeoutError as exc:
                timed_out = str(exc)
    if timed_out is not None:
        common.say(timed_out)
        return EXIT_TIMEOUT
    print_task(task, as_json)
    return 0 if task.status is TaskStatus.SUCCEEDED else 1


@click.command()
@provider_argument
@click.argument("task_id")
@click.option(
    "--timeout",
    "wait_timeout",
    type=click.FloatRange(min=0),
    help="Give up after this many seconds (exit status 124); default: no limit.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final task as JSON.")
@connection_options(timeout_flag="--request-timeout")
def wait(
    provider: str, task_id: str, wait_timeout: float | None, as_json: bool, **options: Any
) -> None:
    """Poll a task until it is finished, then print it.

    While it polls, stderr shows the task's status as it changes and the time
    elapsed. Exit status: 0 succeeded, 1 ended otherwise (failed, rejected,
    cancelled, skipped) or could not be fetched, 124 timed out, 2 usage or
    configuration error.
    """
    common.run(_wait(settings_of(options), provider.lower(), task_id, wait_timeout, as_json))
