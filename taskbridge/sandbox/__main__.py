"""Serve the sandbox: ``python -m taskbridge.sandbox --host 127.0.0.1 --port 8080 --seed 1``.

Prints ``taskbridge sandbox listening on http://HOST:PORT`` once ready and serves
until Ctrl-C or SIGTERM. Fault flags apply to the providers named by ``--faults-for``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from ._faults import Faults
from ._lifecycle import Lifecycle
from ._server import serve
from ._state import PROVIDERS, Credentials


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m taskbridge.sandbox",
        description="Serve a local emulator of the Cakewalk and Alumio task endpoints.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", type=int, default=50, help="seeded tasks per provider")
    parser.add_argument("--any-id", action="store_true", help="answer any well-formed id")
    parser.add_argument(
        "--lifecycle",
        type=float,
        default=None,
        metavar="STEP",
        help="tasks advance through their statuses, about STEP seconds per stage",
    )
    parser.add_argument("--api-key", default=Credentials().cakewalk_api_key)
    parser.add_argument("--api-secret", default=Credentials().cakewalk_api_secret)
    parser.add_argument("--token", default=Credentials().alumio_token)
    faults = parser.add_argument_group("faults")
    faults.add_argument("--faults-for", choices=("both", *PROVIDERS), default="both")
    for name in ("latency", "error-rate", "rate-limit-rate", "retry-after", "drop-rate",
                 "malformed-rate", "slow-rate"):  # fmt: skip
        faults.add_argument(f"--{name}", type=float, default=0.0)
    faults.add_argument("--error-retry-after", type=float, default=None)
    faults.add_argument("--slow-delay", type=float, default=5.0)
    faults.add_argument("--fault-seed", type=int, default=0)
    faults.add_argument("--rate-limit-per-minute", type=int, default=None)
    return parser


def _faults(args: argparse.Namespace) -> dict[str, Faults]:
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
    targets = PROVIDERS if args.faults_for == "both" else (args.faults_for,)
    return dict.fromkeys(targets, faults)


async def _run(args: argparse.Namespace, faults: dict[str, Faults]) -> None:
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
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        faults = _faults(args)
        args.lifecycle = None if args.lifecycle is None else Lifecycle(step=args.lifecycle)
    except ValueError as exc:
        parser.error(str(exc))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args, faults))
    return 0


if __name__ == "__main__":
    sys.exit(main())
