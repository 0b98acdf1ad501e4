"""``taskbridge get-many`` for big batches: streamed output, bad lines kept apart, summaries.

Every format reads its input lazily through `TaskBridge.stream`, so memory stays
bounded: ``ndjson`` and ``json`` write each result as it completes (completion order),
``--summary`` keeps only counts, and ``table`` keeps one row of text per ref.
Imported by `taskbridge._cli` once the ``cli`` extra is known to be installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, Any

import attrs
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from . import _cli_output as out
from ._base.models import TaskRef, TaskResult
from ._facade.bridge import TaskBridge

__all__ = ["FIELDS", "TABLE_FIELDS", "BatchOptions", "count_refs", "run_get_many"]

# The keys `--fields` may pick: those of `UnifiedTask.to_dict()`, plus is_terminal.
FIELDS = (
    "provider",
    "id",
    "status",
    "provider_status",
    "kind",
    "created_at",
    "updated_at",
    "is_terminal",
    "detail",
)
TABLE_FIELDS = ("provider", "id", "status", "provider_status", "kind", "updated_at")
_HEADERS = {"provider_status": "provider status", "updated_at": "updated (UTC)",
            "created_at": "created (UTC)", "is_terminal": "terminal"}  # fmt: skip
_SHOWN_BAD_LINES = 20
_TABLE_CHUNK = 1000
_Cell = tuple[str, str]  # text, rich style


@attrs.frozen
class BatchOptions:
    """How `get-many` reports: format, summary only, chosen fields, invalid lines."""

    fmt: str
    summary: bool = False
    fields: tuple[str, ...] | None = None
    skip_invalid: bool = False


def count_refs(source: IO[bytes]) -> int | None:
    """Count the ref lines of a seekable file (for the progress total); else ``None``."""
    try:
        if not source.seekable() or source.isatty():
            return None
        start = source.tell()
    except (OSError, ValueError):
        return None
    total = 0
    for raw in source:
        line = raw.strip()
        if line and not line.startswith(b"#"):
            total += 1
    source.seek(start)
    return total


def _invalid_json(lineno: int, raw: bytes, message: str) -> dict[str, Any]:
    text = raw.decode("utf-8", "replace").strip()
    provider, _, task_id = text.partition(" ")
    return {
        "provider": provider.lower(),
        "task_id": task_id.strip(),
        "ok": False,
        "line": lineno,
        "error": {"type": "InvalidLine", "message": message},
    }


def _pick(data: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    return data if fields is None else {k: data[k] for k in fields if k in data}


class _Sink:
    """Where results go; the formats differ in what they keep and when they write."""

    def __init__(self, options: BatchOptions) -> None:
        self.options = options
        self.total = 0
        self.failed: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self._write = sys.stdout.buffer.write
        self._started = False
        # Plain (text, style) cells: a rich Text per cell would cost ~5 KB a row.
        self._rows: list[tuple[_Cell, ...]] = []
        self._failure_lines: list[Text] = []
        self._hidden_failures = 0

    # Counting, common to every format.

    def _count(self, result: TaskResult | None, kind: str | None = None) -> None:
        self.total += 1
        if result is not None and result.task is not None:
            self.statuses[result.task.status.value] += 1
        else:
            self.failed[kind or out.error_kind(result.error if result else None)] += 1

    def result(self, result: TaskResult) -> None:
        self._count(result)
        if self.options.summary:
            return
        if self.options.fmt == "table":
            self._table_row(result)
            return
        data = out.result_json(result)
        if "task" in data:
            data["task"] = _pick(data["task"], self.options.fields)
        self._emit(data)

    def invalid(self, lineno: int, raw: bytes, message: str) -> None:
        """A bad input line under ``--skip-invalid``: a per-item failure."""
        self._count(None, "InvalidLine")
        if self.options.summary:
            return
        if self.options.fmt == "table":
            item = _invalid_json(lineno, raw, message)
            row = [(item["provider"], ""), (item["task_id"], ""), ("error", "bold red")]
            row.append(("InvalidLine", "red"))
            self._add_row(row)
            self._add_failure(Text(f"InvalidLine: {message}", style="red"))
            return
        self._emit(_invalid_json(lineno, raw, message))

    # JSON formats: one object per result, written at once.

    def _emit(self, data: dict[str, Any]) -> None:
        if self.options.fmt == "ndjson":
            self._write(out.json_bytes(data, indent=False))
            sys.stdout.buffer.flush()
            return
        self._write(b"[\n" if not self._started else b",\n")
        self._started = True
        self._write(out.json_bytes(data, indent=False).rstrip(b"\n"))

    # The table keeps one row of text per ref, not the tasks.

    def _columns(self) -> tuple[str, ...]:
        chosen = self.options.fields or TABLE_FIELDS
        return tuple(f for f in chosen if f != "detail")

    def _table_row(self, result: TaskResult) -> None:
        task = result.task
        if task is None:
            cells = [(result.ref.provider, ""), (str(result.ref.task_id), "")]
            cells += [("error", "bold red"), (out.error_kind(result.error), "red")]
            self._add_row(cells)
            self._add_failure(
                Text.assemble((f"{out.error_kind(result.error)}: ", "red"), str(result.error))
            )
            return
        values = {
            "provider": (task.provider, ""),
            "id": (task.id, ""),
            "status": (task.status.value, out.status_style(task.status)),
            "provider_status": (task.provider_status, ""),
            "kind": (task.kind or "", ""),
            "created_at": (out.when(task.created_at), ""),
            "updated_at": (out.when(task.updated_at), ""),
            "is_terminal": ("yes" if task.is_terminal else "no", ""),
        }
        self._rows.append(tuple(values[c] for c in self._columns()))

    def _add_row(self, failure_cells: list[_Cell]) -> None:
        # A failure fills provider, id, status and error kind in the columns present.
        by_name = dict(
            zip(("provider", "id", "status", "provider_status"), failure_cells, strict=True)
        )
        self._rows.append(tuple(by_name.get(c, ("", "")) for c in self._columns()))

    def _add_failure(self, line: Text) -> None:
        if len(self._failure_lines) < _SHOWN_BAD_LINES:
            self._failure_lines.append(line)
        else:
            self._hidden_failures += 1

    # The end.

    def finish(self, console: Console) -> None:
        """Close the JSON array, or print the table or the summary."""
        failed = self.failed.total()
        if self.options.summary:
            summary = {
                "total": self.total,
                "fetched": self.total - failed,
                "failed": failed,
                "status": dict(self.statuses.most_common()),
                "errors": dict(self.failed.most_common()),
            }
            if self.options.fmt == "table":
                console.print(f"{self.total} refs: {summary['fetched']} fetched, {failed} failed")
                console.print(f"By status: {out.summary_counts(self.statuses)}", markup=False)
                console.print(f"By error: {out.summary_counts(self.failed)}", markup=False)
            else:
                self._write(out.json_bytes(summary, indent=self.options.fmt == "json"))
            return
        if self.options.fmt == "json":
            self._write(b"[\n" if not self._started else b"")
            self._write(b"\n]\n")
            sys.stdout.buffer.flush()
            return
        if self.options.fmt == "table":
            for table in self._tables():
                console.print(table)
            for line in self._failure_lines:
                console.print(line, soft_wrap=True)
            if self._hidden_failures:
                console.print(Text(f"… {self._hidden_failures} more", style="dim"))
            console.print(
                f"{self.total} refs: {self.total - failed} fetched, {failed} failed", markup=False
            )

    def _table(self, rows: list[tuple[_Cell, ...]], *, header: bool = True) -> Table:
        table = Table(show_edge=False, pad_edge=False, header_style="bold", show_header=header)
        widths = self._widths()
        for column, width in zip(self._columns(), widths, strict=True):
            title = _HEADERS.get(column, column)
            if column in ("id", "provider", "status"):
                # Ids never wrap or shrink (a cut id breaks grep and copy): others give way.
                table.add_column(title, no_wrap=True, min_width=width)
            else:
                table.add_column(title, no_wrap=True, overflow="ellipsis", width=width)
        for row in rows:
            table.add_row(*(Text(text, style=style) for text, style in row))
        return table

    def _widths(self) -> list[int]:
        # Fixed widths, so that the table, printed in chunks, lines up as one.
        caps = {"kind": 24, "provider_status": 24}
        widths = []
        for index, column in enumerate(self._columns()):
            longest = max((len(row[index][0]) for row in self._rows), default=0)
            width = max(longest, len(_HEADERS.get(column, column)))
            widths.append(min(width, caps.get(column, width)))
        return widths

    def _tables(self) -> Iterator[Table]:
        """The table, in chunks of rows: rendering 100,000 rows at once costs gigabytes."""
        for start in range(0, max(len(self._rows), 1), _TABLE_CHUNK):
            yield self._table(self._rows[start : start + _TABLE_CHUNK], header=start == 0)


class _Bar:
    """The progress bar on stderr; says when the bridge waits for a rate limit."""

    def __init__(self, enabled: bool, total: int | None) -> None:
        self.enabled = enabled
        self.total = total
        self._progress: Progress | None = None
        self._task: Any = None

    @contextlib.contextmanager
    def shown(self) -> Iterator[_Bar]:
        if not self.enabled:
            yield self
            return
        self._progress = out.stderr_progress()
        with self._progress:
            self._task = self._progress.add_task("fetching", total=self.total)
            yield self

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def describe(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)


def waiting_text(bridge: TaskBridge) -> str:
    """``"fetching"``, or what the providers are waiting for (a rate limit, a pause)."""
    waits = []
    for name, snap in bridge.stats().providers.items():
        if snap.paused_until is not None:
            waits.append(f"{name} paused (429)")
        elif snap.waiting_for_rate_limit:
            waits.append(f"{name} rate limit")
    return "waiting: " + ", ".join(waits) if waits else "fetching"


async def _watch(bridge: TaskBridge, bar: _Bar) -> None:
    while True:
        bar.describe(waiting_text(bridge))
        await asyncio.sleep(0.25)


async def run_get_many(
    bridge: TaskBridge,
    lines: AsyncIterator[tuple[int, bytes]],
    parse: Callable[[int, bytes], TaskRef | None],
    usage_error: type[Exception],
    options: BatchOptions,
    *,
    progress: bool,
    total: int | None,
    say: Callable[[str], None],
) -> int:
    """Fetch every ref read from ``lines``; return the exit status (0, 1 or 2)."""
    sink = _Sink(options)
    bad: list[str] = []

    async def refs() -> AsyncIterator[TaskRef]:
        async for lineno, raw in lines:
            try:
                ref = parse(lineno, raw)
            except usage_error as exc:
                if options.skip_invalid:
                    sink.invalid(lineno, raw, str(exc))
                    bar.advance()
                else:
                    bad.append(str(exc))
                continue
            if ref is not None:
                yield ref

    bar = _Bar(progress, total)
    with bar.shown():
        watcher = asyncio.ensure_future(_watch(bridge, bar)) if progress else None
        results = bridge.stream(refs())
        try:
            async for result in results:
                sink.result(result)
                bar.advance()
        finally:
            # Leaving early (a closed pipe, Ctrl-C) cancels what is in flight, now.
            await results.aclose()
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            if options.fmt == "json" and not options.summary and sys.exc_info()[0] is not None:
                # Interrupted: still close the array, so the output is valid JSON.
                with contextlib.suppress(OSError):
                    sink.finish(out.stdout_console())
    sink.finish(out.stdout_console())
    if sink.failed and options.fmt != "table":
        say(out.failed_summary(sink.failed, sink.total))
    if bad:
        for message in bad[:_SHOWN_BAD_LINES]:
            say(message)
        if len(bad) > _SHOWN_BAD_LINES:
            say(f"… and {len(bad) - _SHOWN_BAD_LINES} more bad lines")
        say(
            f"{len(bad)} input line(s) could not be read and were not fetched; "
            "fix them, or pass --skip-invalid to report them as failed items"
        )
        return 2
    return 1 if sink.failed else 0
