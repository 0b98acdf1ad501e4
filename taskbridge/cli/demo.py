"""``taskbridge demo``: a mixed batch from a bundled sandbox, some failing on purpose,
then a few tasks watched as they finish."""

from __future__ import annotations

import random
import sys
import time
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.text import Text

from .. import TaskRef
from . import _common as common
from . import _output as out
from ._progress import progress

if TYPE_CHECKING:  # the sandbox (and aiohttp) load when the demo runs, not for --help
    from ..sandbox import Sandbox

__all__ = ["demo"]


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
    from .. import RetryPolicy, TaskBridge
    from ..sandbox import Faults, Sandbox

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
            with progress(sys.stderr.isatty(), len(refs), "demo") as advance:
                started = time.perf_counter()
                results = await bridge.get_many(refs, on_result=advance)
                elapsed = time.perf_counter() - started
        requests = sum(sb.stats[name].requests for name in sb.providers)

    console = out.stdout_console()
    out.demo_report(console, results, elapsed, requests)
    await _demo_watch(console, seed)
    return 0


async def _demo_watch(console: Console, seed: int, count: int = 6) -> None:
    """Watch a few tasks of a sandbox with a lifecycle finish, one line per change."""
    from .. import TaskBridge
    from ..sandbox import Lifecycle, Sandbox

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
                    line.append_text(out.status_text(update.task.status))
                    line.append(")")
                console.print(line, soft_wrap=True)


@click.command()
@click.option("--seed", type=int, default=1, show_default=True, help="Seeds data and faults.")
@click.option(
    "--count",
    type=click.IntRange(1, 20_000),
    default=300,
    show_default=True,
    help="How many refs the batch fetches.",
)
def demo(seed: int, count: int) -> None:
    """Fetch a mixed batch from a bundled sandbox, some failing on purpose.

    Needs no credentials and no network.
    """
    common.run(_demo(seed, count))
