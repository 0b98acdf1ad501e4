"""The ``wait`` and ``watch`` commands, and the short watch at the end of ``demo``.

Imported only by `taskbridge._cli` once it has checked that the ``cli`` extra is
installed. ``wait`` exits 0 when the task succeeded, 1 when it ended otherwise (failed,
rejected, cancelled, skipped) or could not be fetched, 124 on timeout (as ``timeout(1)``
does). ``watch`` exits 0 when every task succeeded, 1 otherwise.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ._base.errors import WaitTimeoutError
from ._base.models import TaskRef, TaskStatus
from ._facade.watch import TaskUpdate

if TYPE_CHECKING:
    from ._cli_common import _Settings

__all__ = ["EXIT_TIMEOUT", "demo_watch", "wait_command", "watch_command"]

EXIT_TIMEOUT = 124
# A live table shows the refs updated last; the counts cover all of them.
_LIVE_ROWS = 20


async def wait_command(
    settings: _Settings, provider: str, task_id: str, timeout: float | None, as_json: bool
) -> int:
    from . import _cli_common as cli
    from . import _cli_output as out

    configs = cli._configs(settings, needed=provider)
    cli._check_configured(configs, [provider])
    async with cli._open_bridge(settings, configs, lifecycle=True) as bridge:
        try:
            task = await bridge.wait(provider, task_id, timeout=timeout)
        except WaitTimeoutError as exc:
            cli._say(str(exc))
            return EXIT_TIMEOUT
    if as_json:
        sys.stdout.buffer.write(out.json_bytes(out.task_json(task)))
        sys.stdout.flush()
    else:
        out.stdout_console().print(out.task_view(task))
    return 0 if task.status is TaskStatus.SUCCEEDED else 1


def update_json(update: TaskUpdate) -> dict[str, Any]:
    """Return one ndjson line of ``watch``: the ref, the change, and the task or error."""
    from . import _cli_output as out

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
        from . import _cli_output as out

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
                ref.provider, ref.task_id, out._status(task.status), task.provider_status, was
            )
        elapsed = time.monotonic() - self.started
        summary = Text(
            f"{len(self.latest)} refs, {self.changes} updates in {elapsed:.0f} s; "
            f"{out.summary_counts(self.counts())}"
        )
        return Group(table, summary)


async def watch_command(settings: _Settings, source: IO[bytes], fmt: str) -> int:
    from . import _cli_common as cli
    from . import _cli_output as out

    configs = cli._configs(settings)
    refs: list[TaskRef] = []
    for lineno, raw in enumerate(source.read().split(b"\n"), 1):
        ref = cli._parse(lineno, raw)
        if ref is not None:
            cli._check_configured(configs, [ref.provider], where=f"line {lineno}: ")
            refs.append(ref)
    if fmt == "auto":
        fmt = "table" if sys.stdout.isatty() else "ndjson"
    board = _Board()
    opened = cli._open_bridge(settings, configs, lifecycle=True)
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
        cli._say(f"{sum(bad.values())} of {len(board.latest)} refs did not succeed")
    return 1 if bad else 0


async def _ndjson(updates: AsyncIterator[TaskUpdate], board: _Board) -> None:
    from . import _cli_output as out

    write = sys.stdout.buffer.write
    async for update in updates:
        board.add(update)
        write(out.json_bytes(update_json(update), indent=False))
        sys.stdout.buffer.flush()


async def demo_watch(console: Console, seed: int, count: int = 6) -> None:
    """Watch a few tasks of a sandbox with a lifecycle finish, one line per change."""
    from . import _cli_output as out
    from ._facade.bridge import TaskBridge
    from .sandbox import Lifecycle, Sandbox

    # Polled more often than the shortest stage (0.2 s) lasts, so every change shows.
    poll = {"poll_interval": 0.05, "max_poll_interval": 0.15}
    async with Sandbox(seed=seed, lifecycle=Lifecycle(step=0.4)) as sb:
        names = sb.providers
        refs = [TaskRef(names[n % len(names)], "") for n in range(count)]
        refs = [TaskRef(r.provider, sb.ids(r.provider)[n]) for n, r in enumerate(refs)]
        bridge = TaskBridge(providers=sb.configs(requests_per_minute=None, **poll))
        console.print()
        console.print(
            f"Watching {len(refs)} tasks finish (bridge.watch, sandbox with a lifecycle):",
            markup=False,
        )
        started = time.monotonic()
        async with bridge, bridge.watch(refs) as updates:
            async for update in updates:
                line = Text(f"{time.monotonic() - started:4.1f}s  {update.ref.provider:<8} ")
                line.append(f"{update.ref.task_id[:36]:<36} ")
                if update.task is None:
                    line.append(out.error_kind(update.error), style="bold red")
                else:
                    if update.previous is not None:
                        line.append(f"{update.previous.provider_status} -> ")
                    line.append(update.task.provider_status)
                    line.append(" (")
                    line.append_text(out._status(update.task.status))
                    line.append(")")
                console.print(line, soft_wrap=True)
