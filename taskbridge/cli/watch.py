"""``taskbridge watch``: follow many tasks until each is finished.

A live table on a terminal, one JSON update a line otherwise. Exits 0 when every
task succeeded, 1 otherwise.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import IO, TYPE_CHECKING, Any

import click
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .. import TaskRef, TaskStatus
from . import _common as common
from . import _output as out
from ._options import connection_options, format_option, settings_of

if TYPE_CHECKING:
    from .. import TaskUpdate

__all__ = ["update_json", "watch"]
# A live table shows the refs updated last; the counts cover all of them.
_LIVE_ROWS = 20


def update_json(update: TaskUpdate) -> dict[str, Any]:
    """Return one ndjson line of ``watch``: the ref, the change, and the task or error."""
    task, previous = update.task, update.previous
    data: dict[str, Any] = {
        "provider": update.ref.provider,
        "task_id": update.ref.task_id,
        "status": task.status.value if task is not None else None,
        "provider_status": task.provider_status if task is not None else None,
        "previous_status": previous.provider_status if previous is not None else None,
        "terminal": task.is_terminal if task is not None else None,
    }
    if task is not None:
        data["task"] = out.task_json(task)
    if update.error is not None:
        data["error"] = out.error_json(update.error)
    return data


class _Board:
    """What the live table shows: each ref's latest state, and counts by status."""

    def __init__(self) -> None:
        self.latest: dict[TaskRef, TaskUpdate] = {}
        self.order: list[TaskRef] = []
        self.changes = 0
        self.started = time.monotonic()

    def add(self, update: TaskUpdate) -> None:
        if update.ref in self.latest:
            self.order.remove(update.ref)
        self.latest[update.ref] = update
        self.order.append(update.ref)
        self.changes += 1

    def counts(self) -> Counter[str]:
        return Counter(
            u.task.status.value if u.task is not None else "error" for u in self.latest.values()
        )

    def render(self) -> RenderableType:
        table = Table(expand=False)
        for column in ("provider", "task id", "status", "provider status", "was"):
            table.add_column(column, overflow="fold")
        for ref in self.order[-_LIVE_ROWS:]:
            update = self.latest[ref]
            task = update.task
            if task is None:
                kind = out.error_kind(update.error)
                table.add_row(ref.provider, ref.task_id, Text(kind, style="bold red"), "", "")
                continue
            was = update.previous.provider_status if update.previous is not None else ""
            table.add_row(
                ref.provider, ref.task_id, out.status_text(task.status), task.provider_status, was
            )
        elapsed = time.monotonic() - self.started
        summary = Text(
            f"{len(self.latest)} refs, {self.changes} updates in {elapsed:.0f} s; "
            f"{out.summary_counts(self.counts())}"
        )
        return Group(table, summary)


async def _watch(settings: common.Settings, source: IO[bytes], fmt: str) -> int:
    configs = common.configs_of(settings)
    refs: list[TaskRef] = []
    for lineno, raw in enumerate(source.read().split(b"\n"), 1):
        ref = common.parse_ref(lineno, raw)
        if ref is not None:
            common.check_configured(configs, [ref.provider], where=f"line {lineno}: ")
            refs.append(ref)
    if fmt == "auto":
        fmt = "table" if sys.stdout.isatty() else "ndjson"
    board = _Board()
    opened = common.open_bridge(settings, configs, lifecycle=True)
    async with opened as bridge, bridge.watch(refs) as updates:
        if fmt == "ndjson":
            await _ndjson(updates, board)
        else:
            console = out.stdout_console()
            with Live(board.render(), console=console, auto_refresh=False) as live:
                async for update in updates:
                    board.add(update)
                    live.update(board.render(), refresh=True)
    bad = {k: n for k, n in board.counts().items() if k != TaskStatus.SUCCEEDED.value}
    if bad and fmt == "ndjson":
        common.say(f"{sum(bad.values())} of {len(board.latest)} refs did not succeed")
    return 1 if bad else 0


async def _ndjson(updates: AsyncIterator[TaskUpdate], board: _Board) -> None:
    write = sys.stdout.buffer.write
    async for update in updates:
        board.add(update)
        write(out.json_bytes(update_json(update), indent=False))
        sys.stdout.buffer.flush()


@click.command()
@click.argument("file", type=click.File("rb"), default="-")
@format_option(
    ["auto", "table", "ndjson"],
    "auto",
    "auto: a live table on a terminal, one JSON update a line otherwise.",
)
@connection_options()
def watch(file: IO[bytes], fmt: str, **options: Any) -> None:
    """Follow the tasks listed in FILE (or stdin) until each one is finished.

    One "PROVIDER TASK_ID" a line, as for get-many. Prints each task's first state,
    then every status change. Exit status: 0 all succeeded, 1 otherwise.
    """
    common.run(_watch(settings_of(options), file, fmt))
