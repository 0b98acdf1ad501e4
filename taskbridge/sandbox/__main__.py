"""Serve the sandbox: ``python -m taskbridge.sandbox --host 127.0.0.1 --port 8080 --seed 1``.

Prints ``taskbridge sandbox listening on http://HOST:PORT`` once ready and serves
until Ctrl-C or SIGTERM. Fault flags apply to the providers named by ``--faults-for``.
`build_parser` is also the parser of ``taskbridge sandbox``: one set of options.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Sequence

from ._emulator import load_emulators
from ._faults import Faults
from ._lifecycle import Lifecycle
from ._server import Sandbox, serve
from ._state import Credentials

__all__ = ["build_parser", "faults_of", "main", "serve_args"]


def build_parser(
    prog: str = "python -m taskbridge.sandbox", *, seed: int = 0
) -> argparse.ArgumentParser:
    """The options of ``python -m taskbridge.sandbox`` and ``taskbridge sandbox``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a local emulator of the Cakewalk and Alumio task endpoints.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--tasks", type=int, default=50, help="seeded tasks per provider")
    parser.add_argument("--any-id", action="store_true", help="answer any well-formed id")
    parser.add_argument(
        "--lifecycle",
        type=float,
        default=None,
        metavar="STEP",
        help="tasks advance through their statuses, about STEP seconds per stage",
    )
    parser.add_argument(
        "--write-refs", metavar="FILE", help="write the seeded refs to FILE, for get-many"
    )
    parser.add_argument("--api-key", default=Credentials().cakewalk_api_key)
    parser.add_argument("--api-secret", default=Credentials().cakewalk_api_secret)
    parser.add_argument("--token", default=Credentials().alumio_token)
    faults = parser.add_argument_group("faults")
    served = tuple(load_emulators())
    # "both" (every emulated provider) from the days of two providers, kept for scripts.
    faults.add_argument("--faults-for", choices=("both", "all", *served), default="both")
    for name in ("latency", "error-rate", "rate-limit-rate", "retry-after", "drop-rate",
                 "malformed-rate", "slow-rate"):  # fmt: skip
        faults.add_argument(f"--{name}", type=float, default=0.0)
    faults.add_argument("--error-retry-after", type=float, default=None)
    faults.add_argument("--slow-delay", type=float, default=5.0)
    faults.add_argument("--fault-seed", type=int, default=0)
    faults.add_argument("--rate-limit-per-minute", type=int, default=None)
    return parser


def faults_of(args: argparse.Namespace) -> dict[str, Faults]:
    """Build the faults the parsed flags ask for; ``ValueError`` when they are invalid."""
    faults = Faults(
        error_rate=args.error_rate,
        error_retry_after=args.error_retry_after,
        rate_limit_rate=args.rate_limit_rate,
        retry_after=args.retry_after,
        drop_rate=args.drop_rate,
        malformed_rate=args.malformed_rate,
        slow_rate=args.slow_rate,
        slow_delay=args.slow_delay,
        latency=args.latency,
        seed=args.fault_seed,
        rate_limit_per_minute=args.rate_limit_per_minute,
    )
    every = args.faults_for in ("both", "all")
    targets = tuple(load_emulators()) if every else (args.faults_for,)
    return dict.fromkeys(targets, faults)


def write_refs(sandbox: Sandbox, path: str) -> None:
    """Write every seeded ref, one ``PROVIDER TASK_ID`` a line; ``OSError`` if it cannot."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{p} {i}\n" for p in sandbox.providers for i in sandbox.ids(p))


def _announce(sandbox: Sandbox, refs_file: str | None) -> None:
    if refs_file is not None:
        write_refs(sandbox, refs_file)
    print(f"taskbridge sandbox listening on {sandbox.url}", flush=True)


async def serve_args(
    args: argparse.Namespace,
    faults: dict[str, Faults],
    ready: Callable[[Sandbox], object] | None = None,
) -> None:
    """Serve as the parsed options say until SIGINT/SIGTERM; ``ready`` gets the sandbox."""
    credentials = Credentials(args.api_key, args.api_secret, args.token)
    server = asyncio.ensure_future(
        serve(
            args.host,
            args.port,
            args.seed,
            tasks_per_provider=args.tasks,
            faults=faults,
            any_id=args.any_id,
            credentials=credentials,
            lifecycle=args.lifecycle,
            ready=ready or (lambda sb: _announce(sb, args.write_refs)),
        )
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Windows has no loop signal handlers; Ctrl-C still ends asyncio.run there.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, server.cancel)
    await asyncio.wait([server])
    if not server.cancelled():
        server.result()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox server; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        faults = faults_of(args)
        args.lifecycle = None if args.lifecycle is None else Lifecycle(step=args.lifecycle)
    except ValueError as exc:
        parser.error(str(exc))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_args(args, faults))
    return 0


if __name__ == "__main__":
    sys.exit(main())
