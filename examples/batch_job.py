"""Fetch every task listed in a file, showing progress, and print a summary.

The file holds one ``PROVIDER TASK_ID`` per line (blank lines and ``#`` comments are
skipped; the id is the rest of the line, as Alumio identifiers may hold spaces).
It is read lazily by ``TaskBridge.stream``, so a file of millions of lines needs no
more memory than one of ten. Credentials come from the ``TASKBRIDGE_*`` variables::

    taskbridge sandbox --port 8080 --write-refs refs.txt   # then paste its export lines
    python examples/batch_job.py refs.txt

Progress goes to stderr, the summary to stdout; the exit status is 1 when any task
could not be fetched.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from taskbridge import TaskBridge, TaskResult


def read_refs(path: Path) -> Iterator[tuple[str, str]]:
    """Yield ``(provider, task_id)`` for each line of ``path``, one line at a time."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            text = line.strip()
            if text and not text.startswith("#"):
                provider, _, task_id = text.partition(" ")
                yield provider, task_id.strip()


class Progress:
    """Prints ``done/total`` to stderr about every 5%."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.step = max(1, total // 20)

    def update(self, result: TaskResult) -> None:
        self.done += 1
        if self.done % self.step == 0 or self.done == self.total:
            percent = 100 * self.done // max(self.total, 1)
            print(f"progress: {self.done}/{self.total} ({percent}%)", file=sys.stderr, flush=True)


async def run(path: Path) -> int:
    total = sum(1 for _ in read_refs(path))  # one cheap pass, for the progress figure
    progress = Progress(total)
    statuses: Counter[str] = Counter()
    failures: list[TaskResult] = []
    async with TaskBridge.from_env() as bridge:
        async for result in bridge.stream(read_refs(path)):
            progress.update(result)
            if result.task is not None:
                statuses[f"{result.task.provider} {result.task.status}"] += 1
            else:
                failures.append(result)
    print(f"fetched {total - len(failures)} of {total} tasks")
    for key, count in sorted(statuses.items()):
        print(f"  {key}: {count}")
    for failure in failures:
        error = failure.error
        print(f"FAILED {failure.ref.provider} {failure.ref.task_id!r}: {type(error).__name__}")
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("refs", type=Path, help="a file of 'PROVIDER TASK_ID' lines")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.refs)))


if __name__ == "__main__":
    main()
