"""What the commands show on stderr while they work: the batch bar and the wait line.

Both go to stderr, so stdout carries only results. On a terminal they redraw in place
(and vanish at the end); otherwise `StatusLine` writes one line per change and the bar
shows nothing.
"""

from __future__ import annotations

import contextlib
import select
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from .. import BridgeStats, TaskBridge, UnifiedTask


__all__ = ["Bar", "StatusLine", "limiter_text", "progress", "reader_gone"]


class _Rate(ProgressColumn):
    """Refs a second (or a minute, when slower than one a second)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("-/s", style="progress.data.speed")
        shown = f"{speed:,.1f}/s" if speed >= 1 else f"{speed * 60:,.1f}/min"
        return Text(shown, style="progress.data.speed")


def _stderr_progress(*columns: ProgressColumn | str) -> Progress:
    """A transient display on stderr; stdout is left alone."""
    return Progress(
        *columns,
        console=Console(file=sys.stderr),
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )


def limiter_text(stats: BridgeStats) -> str:
    """What each provider's limiter is doing: ``"cakewalk 8 in flight, rate limit"``.

    ``"fetching"`` while nothing is in flight, queued or held back.
    """
    parts = []
    for name, snap in stats.providers.items():
        state = []
        if snap.in_flight:
            state.append(f"{snap.in_flight} in flight")
        if snap.queued:
            state.append(f"{snap.queued} queued")
        if snap.paused_until is not None:
            state.append("paused (429)")
        elif snap.waiting_for_rate_limit:
            state.append("rate limit")
        if state:
            parts.append(f"{name} {', '.join(state)}")
    return " · ".join(parts) or "fetching"


class _Display:
    """A transient display on stderr (when ``enabled``) with one rich task to update."""

    def __init__(self, enabled: bool, total: int | None, description: str) -> None:
        self.enabled = enabled
        self.total = total
        self._description = description
        self._progress: Progress | None = None
        self._task: Any = None

    def _columns(self) -> tuple[ProgressColumn, ...]:
        raise NotImplementedError

    @contextlib.contextmanager
    def shown(self) -> Iterator[None]:
        """Show the display while the block runs; nothing when not enabled."""
        if not self.enabled:
            yield
            return
        self._progress = _stderr_progress(*self._columns())
        with self._progress:
            self._task = self._progress.add_task(self._description, total=self.total)
            yield

    def _update(self, **fields: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, **fields)


class Bar(_Display):
    """The get-many bar: limiter state, done/total, rate, ETA, elapsed."""

    def __init__(self, enabled: bool, total: int | None) -> None:
        super().__init__(enabled, total, "fetching")

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return (
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            _Rate(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
        )

    def advance(self) -> None:
        self._update(advance=1)

    def describe(self, bridge: TaskBridge) -> None:
        if self._progress is not None:
            self._update(description=limiter_text(bridge.stats()))


@contextlib.contextmanager
def progress(
    enabled: bool, total: int | None, description: str
) -> Iterator[Callable[[object], None]]:
    """Show a bar while the block runs (when ``enabled``); yield the "one more done" callback."""
    if not enabled:
        yield lambda _: None
        return
    bar = _stderr_progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), _Rate())
    with bar:
        task_id = bar.add_task(description, total=total)
        yield lambda _: bar.advance(task_id)


def reader_gone(fd: int) -> bool:
    """Whether the reader of the pipe ``fd`` has left (``| head`` is done), without writing."""
    if not hasattr(select, "poll"):  # Windows: the next write says so
        return False
    poller = select.poll()
    poller.register(fd, 0)  # POLLERR and POLLHUP are always reported
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


class StatusLine(_Display):
    """`wait`'s report: the task's status as it changes, with elapsed and timeout.

    On a terminal, one spinner line redrawn in place; otherwise one line per change.
    """

    def __init__(self, label: str, timeout: float | None, *, live: bool) -> None:
        super().__init__(live, None, f"{label}: polling")
        self.label = label
        self.timeout = timeout
        self.last: str | None = None
        self._started = time.monotonic()

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return SpinnerColumn(), TextColumn("{task.description}"), _Elapsed(self)

    def elapsed(self) -> str:
        """``"3.2 s of 8 s"`` (or ``"3.2 s"`` without a timeout)."""
        elapsed = f"{time.monotonic() - self._started:.1f} s"
        return elapsed if self.timeout is None else f"{elapsed} of {self.timeout:g} s"

    def seen(self, task: UnifiedTask[Any]) -> None:
        """A polled task: report it when its provider status changed."""
        if task.provider_status == self.last:
            return
        self.last = task.provider_status
        text = f"{self.label}: {task.provider_status} ({task.status.value})"
        if self.enabled:
            self._update(description=text)
        else:
            sys.stderr.write(f"taskbridge: {text}, {self.elapsed()}\n")
            sys.stderr.flush()


class _Elapsed(ProgressColumn):
    def __init__(self, line: StatusLine) -> None:
        super().__init__()
        self._line = line

    def render(self, task: Task) -> Text:
        return Text(self._line.elapsed(), style="progress.elapsed")
