"""``taskbridge get-many``: fetch the refs of a file or stdin, streamed, resumable.

Every format reads its input lazily through `TaskBridge.stream`. ``--output FILE``
writes the results there; with ``--resume`` (ndjson) the refs FILE already holds are
skipped, so a killed run continues where it stopped. Ctrl-C says how far it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import stat
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

import attrs
import click
import orjson
from rich.console import Console

from .. import TaskRef
from . import _common as common
from . import _output as out
from ._options import connection_options, format_option, settings_of
from ._progress import Bar, reader_gone
from ._sink import FIELDS, BatchOptions, Sink, count_refs

if TYPE_CHECKING:
    from .. import TaskBridge

__all__ = ["get_many"]

_SHOWN_BAD_LINES = 20
# Seconds between looks at the limiter (for the bar) and at the reader of stdout.
_LOOK_EVERY = 0.25


@attrs.define
class _Output:
    """Where results go: stdout, or ``--output FILE`` (with the refs it holds already)."""

    stream: IO[bytes]
    console: Console
    done: set[tuple[str, str]] = attrs.field(factory=set)
    path: str | None = None


def _read_done(f: IO[bytes], path: str) -> set[tuple[str, str]]:
    """The refs of an ndjson results file; cut a last line a killed run left half-written."""
    done: set[tuple[str, str]] = set()
    good = 0
    for lineno, line in enumerate(iter(f.readline, b""), 1):
        if not line.endswith(b"\n"):
            break  # half-written: that ref is fetched again
        try:
            item = orjson.loads(line)
            done.add((str(item["provider"]), str(item["task_id"])))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise common.UsageProblem(
                f"{path} line {lineno} is not a get-many ndjson result; cannot --resume"
            ) from None
        good = f.tell()
    f.seek(good)
    f.truncate()
    return done


@contextlib.contextmanager
def _opened(path: str | None, resume: bool) -> Iterator[_Output]:
    if path is None:
        yield _Output(sys.stdout.buffer, out.stdout_console())
        return
    resuming = resume and os.path.exists(path)  # --resume of a first run starts a file
    try:
        f = open(path, "r+b" if resuming else "wb")  # noqa: SIM115
    except OSError as exc:
        raise common.UsageProblem(f"cannot write {path}: {exc.strerror or exc}") from None
    with f:
        done = _read_done(f, path) if resuming else set()
        text = io.TextIOWrapper(f, encoding="utf-8", write_through=True)
        console = Console(file=text, width=200, highlight=False, color_system=None)
        try:
            yield _Output(f, console, done, path)
        finally:
            text.detach()


def _is_pipe(stream: IO[bytes]) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


class _Looker:
    """Keeps the bar's limiter state fresh; stops the run when stdout's reader has left
    (``| head`` has what it wanted), even while no result is being written."""

    def __init__(self, bridge: TaskBridge, bar: Bar, pipe: int | None) -> None:
        self.gone = False
        self._args = bridge, bar, pipe
        self._main = asyncio.current_task()
        self._task = asyncio.ensure_future(self._look())

    async def _look(self) -> None:
        bridge, bar, pipe = self._args
        while True:
            bar.describe(bridge)
            if pipe is not None and reader_gone(pipe):
                self.gone = True
                if self._main is not None:
                    self._main.cancel()
                return
            await asyncio.sleep(_LOOK_EVERY)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def _run(
    bridge: TaskBridge,
    lines: AsyncIterator[tuple[int, bytes]],
    parse: Callable[[int, bytes], TaskRef | None],
    options: BatchOptions,
    output: _Output,
    *,
    progress: bool,
    total: int | None,
) -> int:
    """Fetch every ref read from ``lines``; return the exit status (0, 1 or 2)."""
    sink = Sink(options, output.stream, output.console)
    bad: list[str] = []
    bar = Bar(progress, total)

    async def refs() -> AsyncIterator[TaskRef]:
        async for lineno, raw in lines:
            try:
                ref = parse(lineno, raw)
            except common.UsageProblem as exc:
                if options.skip_invalid:
                    sink.invalid(lineno, raw, str(exc))
                    bar.advance()
                else:
                    bad.append(str(exc))
                continue
            if ref is not None and (ref.provider, ref.task_id) not in output.done:
                yield ref

    pipe = output.stream.fileno() if _is_pipe(output.stream) else None
    interrupted = False
    try:
        with bar.shown():
            looker = _Looker(bridge, bar, pipe)
            results = bridge.stream(refs())
            try:
                async for result in results:
                    sink.result(result)
                    bar.advance()
            except asyncio.CancelledError:
                if not looker.gone:
                    interrupted = True
                    raise
                if sys.version_info >= (3, 11):
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]
                raise BrokenPipeError from None
            finally:
                # Leaving early (a closed pipe, Ctrl-C) cancels what is in flight, now.
                await results.aclose()
                await looker.stop()
    finally:
        if interrupted:  # once the bar is gone: its line is not the message's
            _stopped(sink, total, output)
    sink.finish()
    if sink.failed and options.fmt != "table":
        common.say(out.failed_summary(sink.failed, sink.total))
    if bad:
        for message in bad[:_SHOWN_BAD_LINES]:
            common.say(message)
        if len(bad) > _SHOWN_BAD_LINES:
            common.say(f"… and {len(bad) - _SHOWN_BAD_LINES} more bad lines")
        common.say(
            f"{len(bad)} input line(s) could not be read and were not fetched; "
            "fix them, or pass --skip-invalid to report them as failed items"
        )
        return 2
    return 1 if sink.failed else 0


def _stopped(sink: Sink, total: int | None, output: _Output) -> None:
    """Ctrl-C: leave valid output (close the array, print what is done) and say how far."""
    with contextlib.suppress(OSError):
        sink.finish()
    of = "" if total is None else f" of {total}"
    message = f"stopped after {sink.total}{of} ({sink.failed.total()} failed)"
    if output.path is not None and sink.options.fmt == "ndjson":
        message += f"; --resume continues from {output.path}"
    common.say(message)


async def _get_many(
    settings: common.Settings, source: IO[bytes], options: BatchOptions, path: str | None
) -> int:
    configs = common.configs_of(settings)
    if source is sys.stdin.buffer and sys.stdin.isatty():
        common.say(
            'reading "PROVIDER TASK_ID" lines from the terminal; end with Ctrl-D (or pass FILE)'
        )

    def parse(lineno: int, raw: bytes) -> TaskRef | None:
        ref = common.parse_ref(lineno, raw)
        if ref is not None:
            common.check_configured(configs, [ref.provider], where=f"line {lineno}: ")
        return ref

    with _opened(path, options.resume) as output:
        if output.done:
            common.say(f"resuming: {len(output.done)} refs in {path} are skipped")
        total = count_refs(source, output.done)
        async with common.open_bridge(settings, configs) as bridge:
            return await _run(
                bridge,
                common.read_lines(source),
                parse,
                options,
                output,
                progress=common.show_progress(options.fmt, to_file=path is not None),
                total=total,
            )


def _format_for(path: str | None, *, resume: bool) -> str:
    """The format when ``--format`` is not given: the one ``--output``'s name says
    (``.ndjson``/``.jsonl``, ``.json``), ndjson for ``--resume``, else table."""
    suffix = os.path.splitext(path or "")[1].lower()
    if suffix in {".ndjson", ".jsonl"}:
        return "ndjson"
    if suffix == ".json":
        return "json"
    return "ndjson" if resume else "table"


def _fields(fields: str | None) -> tuple[str, ...] | None:
    if fields is None:
        return None
    chosen = tuple(f.strip() for f in fields.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FIELDS]
    if unknown or not chosen:
        raise click.BadParameter(
            f"unknown field(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(FIELDS)}",
            param_hint="--fields",
        )
    return chosen


@click.command("get-many")
@click.argument("file", type=click.File("rb"), default="-")
@format_option(
    ["table", "json", "ndjson"],
    None,
    "json and ndjson stream each result as it completes (completion order). "
    "Without it: the format --output's name ends with (.ndjson or .jsonl, .json), "
    "ndjson with --resume, else table.",
    shown="table",
)
@click.option("--summary", is_flag=True, help="Print only counts by status and by error.")
@click.option(
    "--fields",
    help="Comma-separated task keys (json) or columns (table): " + ",".join(FIELDS) + ".",
)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Report bad input lines as failed items (exit 1) instead of exit 2.",
)
@click.option(
    "--output",
    "-o",
    "path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the results to this file instead of stdout.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="With --output FILE and --format ndjson: skip the refs FILE already holds "
    "and append the rest (a killed run continues where it stopped).",
)
@connection_options()
def get_many(  # click passes every option by name
    *,
    file: IO[bytes],
    fmt: str | None,
    summary: bool,
    fields: str | None,
    skip_invalid: bool,
    path: str | None,
    resume: bool,
    **options: Any,
) -> None:
    """Fetch the tasks listed in FILE (or stdin), one "PROVIDER TASK_ID" a line.

    Blank lines and lines starting with # are skipped; the task id is the rest
    of the line. A bad line does not stop the run: all are reported at the end
    (exit 2), or with --skip-invalid turned into failed items. On a terminal,
    a bar on stderr shows done/total, rate, ETA and what the rate limiter is
    doing. Ctrl-C stops with "stopped after N of M (K failed)" and exit 130,
    leaving valid output. Exit status: 0 all fetched, 1 some failed, 2 usage,
    130 interrupted.
    """
    if fmt is None:
        fmt = _format_for(path, resume=resume)
    if resume and (path is None or fmt != "ndjson" or summary):
        raise click.UsageError("--resume needs --output FILE and --format ndjson")
    batch = BatchOptions(
        fmt, summary=summary, fields=_fields(fields), skip_invalid=skip_invalid, resume=resume
    )
    common.run(_get_many(settings_of(options), file, batch, path))
