"""``taskbridge sandbox`` (and ``python -m taskbridge.sandbox``): serve the emulators.

Prints ``taskbridge sandbox listening on http://HOST:PORT`` once ready, then the
``export`` lines that point taskbridge at it, and serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING, Any

import click

# Where the sandbox's Credentials are defined: importing the sandbox package (aiohttp's
# server) waits until the command runs, so ``taskbridge sandbox --help`` stays light.
from ..providers._kit.emulation import Credentials
from . import _common as common
from . import _output as out

if TYPE_CHECKING:
    from ..sandbox import Faults, Sandbox

__all__ = ["sandbox"]

# Plain floats: `Faults` checks the values and says what is wrong, in one place.
_RATE = _SECONDS = float
# (option, type, default, help) of each fault; they apply to the providers of --faults-for.
_FAULTS: list[tuple[str, Any, Any, str]] = [
    ("--latency", _SECONDS, 0.0, "Seconds added before every answer."),
    ("--error-rate", _RATE, 0.0, "Share of requests answered 500 (0 to 1)."),
    ("--error-retry-after", _SECONDS, None, "Retry-After seconds sent with those 500s."),
    ("--rate-limit-rate", _RATE, 0.0, "Share of requests answered 429 (0 to 1)."),
    ("--retry-after", _SECONDS, 0.0, "Retry-After seconds sent with those 429s."),
    ("--rate-limit-per-minute", click.IntRange(min=1), None, "Answer 429 past this many "
     "requests a minute, as the real API does; default: no limit."),
    ("--drop-rate", _RATE, 0.0, "Share of connections closed without an answer (0 to 1)."),
    ("--malformed-rate", _RATE, 0.0, "Share of answers with a broken body (0 to 1)."),
    ("--slow-rate", _RATE, 0.0, "Share of requests answered after --slow-delay (0 to 1)."),
    ("--slow-delay", _SECONDS, 5.0, "Seconds a slow answer takes."),
    ("--fault-seed", int, 0, "Seeds which requests get a fault (same seed, same faults)."),
]  # fmt: skip


def _faults(faults_for: str, values: dict[str, Any]) -> dict[str, Faults]:
    from ..sandbox import Faults

    try:
        faults = Faults(
            latency=values["latency"],
            error_rate=values["error_rate"],
            error_retry_after=values["error_retry_after"],
            rate_limit_rate=values["rate_limit_rate"],
            retry_after=values["retry_after"],
            rate_limit_per_minute=values["rate_limit_per_minute"],
            drop_rate=values["drop_rate"],
            malformed_rate=values["malformed_rate"],
            slow_rate=values["slow_rate"],
            slow_delay=values["slow_delay"],
            seed=values["fault_seed"],
        )
    except ValueError as exc:
        raise common.UsageProblem(str(exc)) from None
    # "both" (every emulated provider) from the days of two providers, kept for scripts.
    targets = common.providers() if faults_for in ("both", "all") else (faults_for,)
    return dict.fromkeys(targets, faults)


def _write_refs(sb: Sandbox, path: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(f"{p} {i}\n" for p in sb.providers for i in sb.ids(p))
    except OSError as exc:
        raise common.UsageProblem(f"cannot write {path}: {exc.strerror or exc}") from exc


async def _serve(
    host: str, port: int, refs_file: str | None, faults: dict[str, Faults], **kwargs: Any
) -> int:
    def ready(sb: Sandbox) -> None:
        if refs_file is not None:
            _write_refs(sb, refs_file)
        sys.stdout.write("".join(f"{line}\n" for line in out.sandbox_banner(sb, refs_file)))
        sys.stdout.flush()

    from ..sandbox import serve

    server = asyncio.ensure_future(serve(host, port, faults=faults, ready=ready, **kwargs))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Windows has no loop signal handlers; Ctrl-C still ends asyncio.run there.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, server.cancel)
    await asyncio.wait([server])
    if server.cancelled():
        return 0
    try:
        server.result()
    except OSError as exc:
        raise common.UsageProblem(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another --host/--port"
        ) from exc
    return 0


def _fault_options(f: Any) -> Any:
    for option, kind, default, text in reversed(_FAULTS):
        shown = default is not None
        f = click.option(option, type=kind, default=default, show_default=shown, help=text)(f)
    return click.option(
        "--faults-for",
        type=click.Choice(["all", "both", *common.providers()]),
        default="all",
        show_default=True,
        help="The providers the fault options apply to.",
    )(f)


_CREDENTIALS = Credentials()


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on; 0 picks a free one.")  # fmt: skip
@click.option("--seed", type=int, default=common.SANDBOX_SEED, show_default=True,
              help="Seeds the tasks served (--sandbox of the other commands uses 1).")  # fmt: skip
@click.option("--tasks", type=click.IntRange(min=1), default=50, show_default=True,
              help="Seeded tasks per provider.")  # fmt: skip
@click.option("--any-id", is_flag=True, help="Answer any well-formed id (for load tests).")
@click.option("--lifecycle", type=click.FloatRange(min=0, min_open=True), metavar="STEP",
              help="Tasks advance through their statuses, about STEP seconds a stage.")  # fmt: skip
@click.option("--write-refs", metavar="FILE", help="Write the seeded refs to FILE, for get-many.")
@click.option("--api-key", default=_CREDENTIALS.cakewalk_api_key, show_default=True,
              help="The Cakewalk API key it accepts (fake).")  # fmt: skip
@click.option("--api-secret", default=_CREDENTIALS.cakewalk_api_secret, show_default=True,
              help="The Cakewalk API secret it accepts (fake).")  # fmt: skip
@click.option("--token", default=_CREDENTIALS.alumio_token, show_default=True,
              help="The Alumio token it accepts (fake).")  # fmt: skip
@_fault_options
def sandbox(  # click passes every option by name
    *,
    host: str,
    port: int,
    seed: int,
    tasks: int,
    any_id: bool,
    lifecycle: float | None,
    write_refs: str | None,
    api_key: str,
    api_secret: str,
    token: str,
    faults_for: str,
    **faults: Any,
) -> None:
    """Serve a local emulator of every provider's task API until Ctrl-C.

    Prints the URL, then export lines that point taskbridge at it (the credentials
    are fake). Fault options make it misbehave on purpose, reproducibly.
    """
    from ..sandbox import Lifecycle

    common.run(
        _serve(
            host,
            port,
            write_refs,
            _faults(faults_for, faults),
            seed=seed,
            tasks_per_provider=tasks,
            any_id=any_id,
            credentials=Credentials(api_key, api_secret, token),
            lifecycle=None if lifecycle is None else Lifecycle(step=lifecycle),
        )
    )
