"""How the command line shows tasks: rich tables and summaries, JSON objects.

Imported only once `taskbridge.cli.main` has checked that the ``cli`` extra
(click and rich) is installed.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .. import APIError, TaskBridgeError, TaskResult, TaskStatus, UnifiedTask
from .._decode.deep import to_json

if TYPE_CHECKING:
    from ..sandbox import Sandbox

__all__ = [
    "demo_report",
    "error_json",
    "error_kind",
    "failed_summary",
    "failure_lines",
    "json_bytes",
    "quiet_console",
    "result_json",
    "results_table",
    "sandbox_banner",
    "status_style",
    "status_text",
    "stdout_console",
    "summary_counts",
    "task_json",
    "task_view",
    "when",
]

_STATUS_STYLE = {
    TaskStatus.PENDING: "blue",
    TaskStatus.RUNNING: "cyan",
    TaskStatus.WAITING: "yellow",
    TaskStatus.SUCCEEDED: "green",
    TaskStatus.FAILED: "bold red",
    TaskStatus.REJECTED: "red",
    TaskStatus.CANCELLED: "dim",
    TaskStatus.SKIPPED: "dim",
    TaskStatus.UNKNOWN: "magenta",
}

_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

# Piped output is not cut to 80 columns: ids would wrap and break grep and cut.
_PIPED_WIDTH = 200


class _PipeConsole(Console):
    """A console whose closed pipe is a `BrokenPipeError`, which the command ends quietly
    with 0 (rich's own answer is ``SystemExit(1)``)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def quiet_console(file: IO[str] | None = None) -> Console:
    """Return a console on ``file`` (stdout by default) that leaves a closed pipe quietly."""
    return _PipeConsole(file=file, highlight=False)


def stdout_console(file: IO[str] | None = None) -> Console:
    """Return the console for results: colours on a terminal, wide and plain when piped."""
    console = quiet_console(file)
    if not console.is_terminal:
        console.width = max(console.width, _PIPED_WIDTH)
    return console


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.astimezone(timezone.utc):%Y-%m-%d %H:%M}"


def status_text(status: TaskStatus) -> Text:
    return Text(status.value, style=_STATUS_STYLE.get(status, ""))


def status_style(status: TaskStatus) -> str:
    """The rich style a status is shown in."""
    return _STATUS_STYLE.get(status, "")


def when(value: datetime | None) -> str:
    """A datetime as ``YYYY-MM-DD HH:MM`` in UTC; ``""`` for none."""
    return _when(value)


def error_kind(error: BaseException | None) -> str:
    """Return the name shown for an error: its class name."""
    return type(error).__name__ if error is not None else ""


def results_table(results: Sequence[TaskResult], *, limit: int | None = None) -> RenderableType:
    """Return a table of results (at most ``limit`` rows, then a "… N more" line).

    Every cell is a `Text`, so ids that look like rich markup are shown as they are.
    """
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("provider")
    table.add_column("id", overflow="fold")
    table.add_column("status")
    table.add_column("provider status")
    table.add_column("kind")
    table.add_column("updated (UTC)", no_wrap=True)
    shown = results if limit is None else results[:limit]
    for result in shown:
        task = result.task
        if task is None:
            table.add_row(
                Text(result.ref.provider),
                Text(str(result.ref.task_id)),
                Text("error", style="bold red"),
                Text(error_kind(result.error), style="red"),
                Text(""),
                Text(""),
            )
        else:
            table.add_row(
                Text(task.provider),
                Text(task.id),
                status_text(task.status),
                Text(task.provider_status),
                Text(task.kind or ""),
                Text(_when(task.updated_at)),
            )
    hidden = len(results) - len(shown)
    if hidden > 0:
        return Group(table, Text(f"… {hidden} more", style="dim"))
    return table


def task_view(task: UnifiedTask[Any]) -> RenderableType:
    """Return a small ``key  value`` view of one task."""
    status = status_text(task.status)
    if task.is_terminal:
        status.append(" (terminal)", style="dim")
    rows: list[tuple[str, Text]] = [
        ("provider", Text(task.provider)),
        ("id", Text(task.id)),
        ("status", status),
        ("provider status", Text(task.provider_status)),
        ("kind", Text(task.kind or "")),
        ("created (UTC)", Text(_when(task.created_at))),
        ("updated (UTC)", Text(_when(task.updated_at))),
    ]
    return Group(*(Text.assemble((f"{key:<17}", "bold"), value) for key, value in rows))


def failure_lines(results: Iterable[TaskResult], *, limit: int = 20) -> list[Text]:
    """Return one line per failed result (at most ``limit``, then "… N more")."""
    lines: list[Text] = []
    hidden = 0
    for result in results:
        if result.error is None:
            continue
        if len(lines) >= limit:
            hidden += 1
            continue
        # The message names the provider and the id already.
        line = Text(f"{error_kind(result.error)}: ", style="red")
        line.append(str(result.error))
        lines.append(line)
    if hidden:
        lines.append(Text(f"… {hidden} more", style="dim"))
    return lines


def summary_counts(counts: Counter[str]) -> str:
    """Return ``"a 3 · b 1"`` for a counter, largest first; ``"none"`` when empty."""
    return " · ".join(f"{key} {n}" for key, n in counts.most_common()) or "none"


def failed_summary(kinds: Counter[str], total: int) -> str:
    """Return ``"2 of 10 refs failed (TaskNotFoundError 2)"``."""
    return f"{kinds.total()} of {total} refs failed ({summary_counts(kinds)})"


def demo_report(
    console: Console, results: Sequence[TaskResult], elapsed: float, requests: int
) -> None:
    """Print the demo's table (40 rows at most), its failures and its summary."""
    console.print(results_table(results, limit=40))
    console.print()
    failed = [r for r in results if not r.ok]
    if failed:
        console.print("Failures, on purpose (unknown ids, an invalid id, injected faults):")
        for failure in failure_lines(failed, limit=10):
            console.print(failure, soft_wrap=True)
        console.print()
    statuses = Counter(r.task.status.value for r in results if r.task is not None)
    kinds = Counter(error_kind(r.error) for r in failed)
    lines = [
        f"Total: {len(results)} refs across {_names(results)}, {len(results) - len(failed)} "
        f"fetched, {len(failed)} failed on purpose",
        f"By status: {summary_counts(statuses)}",
        f"Failures by kind: {summary_counts(kinds)}",
        f"Elapsed: {elapsed:.2f} s for {requests} requests to the sandbox, retries included "
        f"({requests / max(elapsed, 1e-9):,.0f} requests/s)",
    ]
    for line in lines:
        console.print(line, markup=False)


def _names(results: Sequence[TaskResult]) -> str:
    names = list(dict.fromkeys(r.ref.provider for r in results))
    return " and ".join(names) if len(names) < 3 else ", ".join(names)


def _client_url(sb: Sandbox) -> str:
    """The URL to reach the sandbox from this machine, even when it listens on every address."""
    if sb.host in ("", "0.0.0.0"):
        return f"http://127.0.0.1:{sb.port}"
    if sb.host == "::":
        return f"http://[::1]:{sb.port}"
    return sb.url


def sandbox_banner(sb: Sandbox, refs_file: str | None) -> list[str]:
    """Return the lines `taskbridge sandbox` prints: its URL first, then ready exports.

    The sandbox's credentials are fake, so printing them is the point.
    """
    url = _client_url(sb)
    state = sb.state
    variables: dict[str, str] = {}
    for name, emulator in state.emulators.items():
        variables.update(emulator.env(url, state.credentials_of(name)))
    examples = []
    for name in sb.providers:
        ids = sb.ids(name)
        if ids:
            plain = next((i for i in ids if _PLAIN_ID.fullmatch(i)), ids[0])
            examples.append(f"#   taskbridge get {name} {shlex.quote(plain)}")
    lines = [
        f"taskbridge sandbox listening on {sb.url}",
        "# Paste into a shell to point taskbridge at it (the credentials are fake):",
        *(f"export {name}={shlex.quote(value)}" for name, value in variables.items()),
        f"# Seeded tasks (seed {sb.state.seed}), for example:",
        *examples,
    ]
    if refs_file is not None:
        lines.append(f"#   taskbridge get-many {shlex.quote(refs_file)}")
    lines.append("# Press Ctrl-C to stop.")
    return lines


def task_json(task: UnifiedTask[Any]) -> dict[str, Any]:
    """Return a task as `UnifiedTask.to_dict` does (``detail`` in the provider's wire
    format), plus ``is_terminal``."""
    data = task.to_dict()
    data["is_terminal"] = task.is_terminal
    return data


def error_json(error: TaskBridgeError) -> dict[str, Any]:
    """Return ``{"type", "message", "status"?}`` for an error."""
    data: dict[str, Any] = {"type": error_kind(error), "message": str(error)}
    if isinstance(error, APIError):
        data["status"] = error.status
    return data


def result_json(result: TaskResult) -> dict[str, Any]:
    """Return ``{"provider", "task_id", "ok", "task" | "error"}`` for one result."""
    data: dict[str, Any] = {
        "provider": result.ref.provider,
        "task_id": result.ref.task_id,
        "ok": result.ok,
    }
    if result.task is not None:
        data["task"] = task_json(result.task)
    elif result.error is not None:
        data["error"] = error_json(result.error)
    return data


def json_bytes(data: object, *, indent: bool = True) -> bytes:
    """Serialize to JSON (datetimes as ISO 8601, enums as their values), newline-ended."""
    return to_json(data, indent=indent)
