"""The ``taskbridge`` command line: ``demo``, ``get``, ``get-many`` and ``sandbox``.

click and rich come with the ``cli`` extra and are imported only when `main` runs,
so the core install stays lean. Exit status: 0 when everything was fetched, 1 when
something failed, 2 for a usage or configuration error (one ``taskbridge: ...`` line
on stderr that says what to fix, never a traceback).
"""

from __future__ import annotations

import functools
import random
import sys
import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from ._base.config import RetryPolicy
from ._base.models import TaskRef
from ._cli_common import (
    SANDBOX_SEED,
    UsageProblem,
    _check_configured,
    _configs,
    _credentials,
    _open_bridge,
    _parse,
    _providers,
    _read_lines,
    _run,
    _say,
    _Settings,
    _show_progress,
)
from ._facade.bridge import TaskBridge
from ._version import __version__
from .providers import registered

if TYPE_CHECKING:
    import click

    from ._cli_batch import BatchOptions
    from .sandbox import Sandbox

__all__ = ["main"]

_MISSING_EXTRA = (
    'taskbridge: the command line needs the cli extra: pip install "aiotaskbridge[cli]"'
)


async def _get(settings: _Settings, provider: str, task_id: str, as_json: bool) -> int:
    from . import _cli_output as out

    configs = _configs(settings, needed=provider)
    _check_configured(configs, [provider])
    async with _open_bridge(settings, configs) as bridge:
        task = await bridge.get(provider, task_id)
    if as_json:
        sys.stdout.buffer.write(out.json_bytes(out.task_json(task)))
        sys.stdout.flush()
    else:
        out.stdout_console().print(out.task_view(task))
    return 0


async def _get_many(settings: _Settings, source: IO[bytes], options: BatchOptions) -> int:
    from . import _cli_batch

    configs = _configs(settings)
    if source is sys.stdin.buffer and sys.stdin.isatty():
        _say('reading "PROVIDER TASK_ID" lines from the terminal; end with Ctrl-D (or pass FILE)')
    total = _cli_batch.count_refs(source)

    def parse(lineno: int, raw: bytes) -> TaskRef | None:
        ref = _parse(lineno, raw)
        if ref is not None:
            _check_configured(configs, [ref.provider], where=f"line {lineno}: ")
        return ref

    async with _open_bridge(settings, configs) as bridge:
        return await _cli_batch.run_get_many(
            bridge,
            _read_lines(source),
            parse,
            UsageProblem,
            options,
            progress=_show_progress(options.fmt),
            total=total,
            say=_say,
        )


def _demo_refs(sb: Sandbox, seed: int, count: int) -> list[TaskRef]:
    """Seeded ids of every served provider, plus unknown ids and one invalid (empty) id,
    shuffled."""
    rng = random.Random(seed)
    names = sb.providers
    unknown = max(1, count // 100)
    emulators = sb.state.emulators
    special = [
        (names[0], ""),
        *(
            (name, emulators[name].new_id(rng, 10**6 + rng.randrange(10**6)))
            for name in names
            for _ in range(unknown)
        ),
    ][: count // 10]
    seeded = count - len(special)
    share = -(-seeded // len(names))
    pairs: list[tuple[str, str]] = []
    for name in names:
        take = min(share, seeded - len(pairs))
        pairs += ((name, task_id) for task_id in sb.ids(name)[:take])
    pairs += special
    rng.shuffle(pairs)
    return [TaskRef(provider, task_id) for provider, task_id in pairs]


async def _demo(seed: int, count: int) -> int:
    from . import _cli_output as out
    from ._cli_watch import demo_watch
    from .sandbox import Faults, Sandbox

    faults = Faults(
        error_rate=0.04, rate_limit_rate=0.03, retry_after=0, malformed_rate=0.01, seed=seed
    )
    async with Sandbox(seed=seed, tasks_per_provider=max(50, count), faults=faults) as sb:
        refs = _demo_refs(sb, seed, count)
        bridge = TaskBridge(
            providers=sb.configs(requests_per_minute=None),
            retry=RetryPolicy(initial_backoff=0.01, max_backoff=0.1),
        )
        async with bridge:
            with out.progress(sys.stderr.isatty(), len(refs), "demo") as advance:
                started = time.perf_counter()
                results = await bridge.get_many(refs, on_result=advance)
                elapsed = time.perf_counter() - started
        requests = sum(sb.stats[name].requests for name in sb.providers)

    console = out.stdout_console()
    out.demo_report(console, results, elapsed, requests)
    await demo_watch(console, seed)
    return 0


async def _serve_sandbox(argv: Sequence[str]) -> int:
    """``taskbridge sandbox``: the parser of ``python -m taskbridge.sandbox``, this banner."""
    from . import _cli_output as out
    from .sandbox.__main__ import build_parser, faults_of, serve_args, write_refs

    parser = build_parser("taskbridge sandbox", seed=SANDBOX_SEED)
    args = parser.parse_args(argv)  # exits 2 with argparse's usage line on a bad option
    try:
        faults = faults_of(args)
        if args.lifecycle is not None:
            from .sandbox import Lifecycle

            if not args.lifecycle > 0:  # 0 would finish every task at once: a typo
                raise ValueError(
                    f"--lifecycle must be a number of seconds > 0, got {args.lifecycle}"
                )
            args.lifecycle = Lifecycle(step=args.lifecycle)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None

    def ready(sb: Sandbox) -> None:
        if args.write_refs is not None:
            try:
                write_refs(sb, args.write_refs)
            except OSError as exc:
                raise UsageProblem(
                    f"cannot write {args.write_refs}: {exc.strerror or exc}"
                ) from exc
        lines = out.sandbox_banner(sb, args.write_refs)
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        sys.stdout.flush()

    try:
        await serve_args(args, faults, ready)
    except OSError as exc:
        raise UsageProblem(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
            "pick another --host/--port"
        ) from exc
    return 0


def _rate_defaults() -> str:
    shown = ((s.title, s.requests_per_minute) for s in registered().values())
    return ", ".join(f"{title} {'none' if rpm is None else f'{rpm:g}'}" for title, rpm in shown)


def _settings(options: dict[str, Any]) -> _Settings:
    environ = {}
    for credential in _credentials():
        value = options.pop(credential.option.lstrip("-").replace("-", "_"))
        if value:
            environ[credential.env] = value
    return _Settings(
        environ,
        options["sandbox"],
        options["timeout"],
        options["concurrency"],
        options.get("requests_per_minute"),
    )


def _build() -> click.Group:
    """Build the click group; click is imported here, never at module import."""
    import click

    from ._cli_batch import FIELDS, BatchOptions

    def connection_options(f: Any, timeout_flag: str = "--timeout") -> Any:
        for credential in reversed(_credentials()):
            option, var, text = credential.option, credential.env, credential.help
            # Never show_default: a secret taken from the environment must not be printed.
            f = click.option(option, envvar=var, show_envvar=True, help=text)(f)
        f = click.option(
            "--max-concurrency",
            "--concurrency",
            "concurrency",
            type=click.IntRange(min=1),
            envvar="TASKBRIDGE_MAX_CONCURRENCY",
            show_envvar=True,
            help="Requests in flight per provider.",
        )(f)
        f = click.option(
            "--requests-per-minute",
            type=click.FloatRange(min=0, min_open=True),
            envvar="TASKBRIDGE_REQUESTS_PER_MINUTE",
            show_envvar=True,
            help=f"Client-side rate limit per provider (default: {_rate_defaults()}).",
        )(f)
        f = click.option(
            timeout_flag,
            "timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=30.0,
            show_default=True,
            help="Seconds allowed for each attempt.",
        )(f)
        return click.option(
            "--sandbox",
            is_flag=True,
            help=f"Start a bundled sandbox (seed {SANDBOX_SEED}) in-process and fetch from it.",
        )(f)

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="taskbridge", message="%(prog)s %(version)s")
    def cli() -> None:
        """Fetch Cakewalk and Alumio tasks. Start with: taskbridge demo

        Credentials come from the TASKBRIDGE_* variables or the options of each
        command. Exit status: 0 all fetched, 1 some failed, 2 usage or configuration error.
        """

    @cli.command()
    @click.option("--seed", type=int, default=1, show_default=True, help="Seeds data and faults.")
    @click.option("--count", type=click.IntRange(1, 20_000), default=300, show_default=True)
    def demo(seed: int, count: int) -> None:
        """Fetch a mixed batch from a bundled sandbox, some failing on purpose.

        Needs no credentials and no network.
        """
        _run(_demo(seed, count))

    @cli.command()
    @click.argument(
        "provider", type=click.Choice(_providers(), case_sensitive=False), metavar="PROVIDER"
    )
    @click.argument("task_id")
    @click.option("--json", "as_json", is_flag=True, help="Print the whole task as JSON.")
    @connection_options
    def get(provider: str, task_id: str, as_json: bool, **options: Any) -> None:
        """Fetch one task: taskbridge get cakewalk 00abd83b-3f9b-4e37-8840-2b87b3c1c069

        Add --sandbox to try it on the bundled sandbox, with no credentials.
        """
        _run(_get(_settings(options), provider.lower(), task_id, as_json))

    @cli.command("get-many")
    @click.argument("file", type=click.File("rb"), default="-")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json", "ndjson"]),
        default="table",
        show_default=True,
        help="json and ndjson stream each result as it completes (completion order).",
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
    @connection_options
    def get_many(
        file: IO[bytes],
        fmt: str,
        summary: bool,
        fields: str | None,
        skip_invalid: bool,
        **options: Any,
    ) -> None:
        """Fetch the tasks listed in FILE (or stdin), one "PROVIDER TASK_ID" a line.

        Blank lines and lines starting with # are skipped; the task id is the rest
        of the line. A bad line does not stop the run: all are reported at the end
        (exit 2), or with --skip-invalid turned into failed items. A progress bar
        shows on stderr when it is a terminal. Exit status: 0 all fetched, 1 some
        failed, 2 usage, 130 interrupted.
        """
        chosen = None
        if fields is not None:
            chosen = tuple(f.strip() for f in fields.split(",") if f.strip())
            unknown = [f for f in chosen if f not in FIELDS]
            if unknown or not chosen:
                raise click.BadParameter(
                    f"unknown field(s) {', '.join(unknown) or '(none given)'}; "
                    f"choose from {', '.join(FIELDS)}",
                    param_hint="--fields",
                )
        batch = BatchOptions(fmt, summary=summary, fields=chosen, skip_invalid=skip_invalid)
        _run(_get_many(_settings(options), file, batch))

    @cli.command()
    @click.argument(
        "provider", type=click.Choice(_providers(), case_sensitive=False), metavar="PROVIDER"
    )
    @click.argument("task_id")
    @click.option(
        "--timeout",
        "wait_timeout",
        type=click.FloatRange(min=0),
        help="Give up after this many seconds (exit status 124); default: no limit.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the final task as JSON.")
    @functools.partial(connection_options, timeout_flag="--request-timeout")
    def wait(
        provider: str, task_id: str, wait_timeout: float | None, as_json: bool, **options: Any
    ) -> None:
        """Poll a task until it is finished, then print it.

        Exit status: 0 succeeded, 1 ended otherwise (failed, rejected, cancelled,
        skipped) or could not be fetched, 124 timed out, 2 usage or configuration error.
        """
        from ._cli_watch import wait_command

        _run(wait_command(_settings(options), provider.lower(), task_id, wait_timeout, as_json))

    @cli.command()
    @click.argument("file", type=click.File("rb"), default="-")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["auto", "table", "ndjson"]),
        default="auto",
        show_default=True,
        help="auto: a live table on a terminal, one JSON update a line otherwise.",
    )
    @connection_options
    def watch(file: IO[bytes], fmt: str, **options: Any) -> None:
        """Follow the tasks listed in FILE (or stdin) until each one is finished.

        One "PROVIDER TASK_ID" a line, as for get-many. Prints each task's first state,
        then every status change. Exit status: 0 all succeeded, 1 otherwise.
        """
        from ._cli_watch import watch_command

        _run(watch_command(_settings(options), file, fmt))

    @cli.command(
        context_settings={"ignore_unknown_options": True, "help_option_names": []},
        add_help_option=False,
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def sandbox(args: tuple[str, ...]) -> None:
        """Serve a local emulator of both task APIs until Ctrl-C (--help for options).

        Takes the options of python -m taskbridge.sandbox (host, port, seed, faults,
        --write-refs) and prints the export lines that point taskbridge at it.
        """
        _run(_serve_sandbox(args))

    return cli


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``taskbridge`` command line (the console script)."""
    try:
        import click  # noqa: F401
        import rich  # noqa: F401
    except ImportError:
        sys.stderr.write(_MISSING_EXTRA + "\n")
        raise SystemExit(2) from None
    _build().main(args=None if argv is None else list(argv), prog_name="taskbridge")


if __name__ == "__main__":
    main()
