"""Memory of the `stream` engine alone at 1,000,000 refs: O(concurrency + backlog).

`bench_memory.py` measures the whole client against the sandbox (1M refs take minutes);
this isolates the engine: the bridge's fetch is replaced by one that answers at once
(after a loop iteration) with a prebuilt task, so a million refs pass through the
lanes, workers and queues in seconds. Each N runs in a fresh process, which reports
its peak RSS (``ru_maxrss``), the most refs read but not yet yielded, and the most
asyncio tasks alive at once.

Cakewalk answers after ``--slow`` loop iterations (default 50), Alumio after one, so
Cakewalk's backlog fills up while Alumio's drains: the worst case for the bound.

Run from the repo root::

    .venv/bin/python bench/bench_stream_engine.py                  # N = 10,000 and 1,000,000
    .venv/bin/python bench/bench_stream_engine.py --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _common

MB = 1024 * 1024


async def child(n: int, slow: int) -> dict[str, object]:
    from taskbridge import AlumioConfig, CakewalkConfig, TaskBridge

    bridge = TaskBridge(
        cakewalk=CakewalkConfig(_common.API_KEY, _common.API_SECRET),
        alumio=AlumioConfig("https://tenant.example", _common.TOKEN),
    )
    body = b'{"object": {"identifier": "x", "status": "finished", "entityType": "order"}}'
    engine = bridge._call.engine
    task = engine.gates["alumio"].adapter.decode_task(body, "x")
    pulled = 0
    most_tasks = 0

    async def fetch(gate: Any, task_id: str, settings: Any) -> Any:
        nonlocal most_tasks
        for _ in range(slow if gate.name == "cakewalk" else 1):
            await asyncio.sleep(0)
        most_tasks = max(most_tasks, len(asyncio.all_tasks()))
        return task

    engine.fetch = fetch  # type: ignore[method-assign]

    def refs() -> Iterator[tuple[str, str]]:
        nonlocal pulled
        for i in range(n):
            pulled += 1
            if i % 2:
                yield "cakewalk", _common.cakewalk_id(i)
            else:
                yield "alumio", f"mem-{i}"

    yielded = 0
    most_held = 0
    started = time.perf_counter()
    async with bridge:
        async for _ in bridge.stream(refs()):
            yielded += 1
            most_held = max(most_held, pulled - yielded)
    elapsed = time.perf_counter() - started
    return {
        "n": n,
        "yielded": yielded,
        "seconds": round(elapsed, 1),
        "most_refs_held": most_held,
        "most_asyncio_tasks": most_tasks,
        # Linux reports ru_maxrss in kilobytes.
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="comma list of N")
    parser.add_argument("--slow", type=int, default=50, help="loop iterations per Cakewalk ref")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    if args.child:
        print(json.dumps(asyncio.run(child(sizes[0], args.slow))))
        return
    _common.print_machine("stream engine memory")
    rows = []
    for n in sizes:
        cmd = [sys.executable, str(Path(__file__)), "--child", "--sizes", str(n)]
        cmd += ["--slow", str(args.slow)]
        out = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(out.stderr)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(result), flush=True)
        rows.append(
            [
                f"{n:,}",
                result["seconds"],
                result["most_refs_held"],
                result["most_asyncio_tasks"],
                result["ru_maxrss_mb"],
            ]
        )
    print()
    _common.print_table(["N", "s", "most refs held", "most tasks", "ru_maxrss MB"], rows)


if __name__ == "__main__":
    main()
