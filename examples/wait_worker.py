"""A worker that waits for tasks to finish: follow each until it is terminal.

Give the tasks as ``PROVIDER:TASK_ID`` arguments. Every status change is printed as it
is seen; all the tasks share the provider's rate budget through one polling scheduler,
however many there are. Credentials come from the ``TASKBRIDGE_*`` variables::

    taskbridge sandbox --lifecycle 2 --port 8080     # then paste its export lines
    python examples/wait_worker.py alumio:order-export-529368 --timeout 120

The exit status is 0 when every task succeeded, 1 when any ended otherwise (failed,
rejected, not found, ...), and 124 when ``--timeout`` seconds ran out first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from taskbridge import TaskBridge, TaskRef, TaskStatus

TIMED_OUT = 124


def parse_ref(text: str) -> TaskRef:
    provider, sep, task_id = text.partition(":")
    if not sep or not task_id:
        raise argparse.ArgumentTypeError(f"expected PROVIDER:TASK_ID, got {text!r}")
    return TaskRef(provider, task_id)


async def follow(bridge: TaskBridge, refs: list[TaskRef]) -> dict[TaskRef, str]:
    """Print each change until every ref has ended; return how each one ended."""
    ended: dict[TaskRef, str] = {}
    async for update in bridge.watch(refs):
        name = f"{update.ref.provider} {update.ref.task_id}"
        if update.error is not None:
            print(f"{name}: {type(update.error).__name__}", flush=True)
            ended[update.ref] = "error"
        elif update.task is not None:
            before = update.previous.provider_status if update.previous else "-"
            print(f"{name}: {before} -> {update.task.provider_status}", flush=True)
            if update.task.is_terminal:
                ended[update.ref] = update.task.status.value
    return ended


async def run(refs: list[TaskRef], timeout: float) -> int:
    async with TaskBridge.from_env() as bridge:
        try:
            ended = await asyncio.wait_for(follow(bridge, refs), timeout)
        except asyncio.TimeoutError:
            print(f"timed out after {timeout:g}s", file=sys.stderr)
            return TIMED_OUT
    succeeded = sum(status == TaskStatus.SUCCEEDED.value for status in ended.values())
    print(f"{succeeded} of {len(refs)} succeeded")
    return 0 if succeeded == len(refs) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("refs", nargs="+", type=parse_ref, metavar="PROVIDER:TASK_ID")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(run(args.refs, args.timeout)))


if __name__ == "__main__":
    main()
