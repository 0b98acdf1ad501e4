"""Where ``get-many``'s results go: streamed JSON, a table, or only counts.

``ndjson`` and ``json`` write each result as it completes (completion order), so
memory stays bounded; ``--summary`` keeps only counts, and ``table`` keeps one row of
text per ref.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator
from typing import IO, Any

import attrs
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import TaskResult
from . import _output as out

__all__ = ["FIELDS", "TABLE_FIELDS", "BatchOptions", "Sink", "count_refs", "ref_key"]

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
    resume: bool = False


def ref_key(line: bytes) -> tuple[str, str]:
    """``(provider, task_id)`` of a ref line, as `--resume` compares them."""
    provider, _, task_id = line.decode("utf-8", "replace").strip().partition(" ")
    return provider.lower(), task_id.strip()


def count_refs(source: IO[bytes], skip: Collection[tuple[str, str]] = ()) -> int | None:
    """Count the ref lines of a seekable file (for the progress total); else ``None``.

    Refs in ``skip`` (already fetched, for ``--resume``) are not counted.
    """
    try:
        if not source.seekable() or source.isatty():
            return None
        start = source.tell()
    except (OSError, ValueError):
        return None
    total = 0
    for raw in source:
        line = raw.strip()
        if line and not line.startswith(b"#") and (not skip or ref_key(line) not in skip):
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


class Sink:
    """Where results go; the formats differ in what they keep and when they write.

    ``stream`` takes the JSON bytes, ``console`` the table and the text summary.
    """

    def __init__(self, options: BatchOptions, stream: IO[bytes], console: Console) -> None:
        self.options = options
        self.console = console
        self._stream = stream
        self.total = 0
        self.failed: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self._write = stream.write
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
            # One write a line: a run killed mid-way leaves whole lines (bar the last).
            self._write(out.json_bytes(data, indent=False))
            self._stream.flush()
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

    def finish(self) -> None:
        """Close the JSON array, or print the table or the summary."""
        console = self.console
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
                self._stream.flush()
            return
        if self.options.fmt == "json":
            self._write(b"[\n" if not self._started else b"")
            self._write(b"\n]\n")
            self._stream.flush()
            return
        if self.options.fmt == "table":
            for table in self.tables():
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

    def tables(self, chunk: int = _TABLE_CHUNK) -> Iterator[Table]:
        """The table, in chunks of rows: rendering 100,000 rows at once costs gigabytes."""
        for start in range(0, max(len(self._rows), 1), chunk):
            yield self._table(self._rows[start : start + chunk], header=start == 0)
