"""Run one throughput contender for a while, for a sampling profiler to look at.

Example (py-spy samples the whole process, aiohttp and the event loop included)::

    py-spy record -r 500 -f raw -o /tmp/tb.txt -- \\
        .venv/bin/python bench/profile_loop.py "taskbridge get_many" --n 20000
    .venv/bin/python bench/profile_loop.py --collapse /tmp/tb.txt   # own/total per layer
"""

from __future__ import annotations

import argparse
import asyncio
import collections

import _common
from bench_throughput import CONTENDERS, ids_for

LAYERS = {
    # substring of a py-spy frame -> layer it is charged to (first match, innermost frame)
    "decode_task": "decode and normalization (decode_task)",
    "structure": "decode and normalization (decode_task)",
    "_convert.py": "decode and normalization (decode_task)",
    "_msgspec.py": "decode and normalization (decode_task)",
    "resolve": "ref checks (resolve, check_id)",
    "check_id": "ref checks (resolve, check_id)",
    "_gate.py": "gate",
    "_ratelimit.py": "limiter",
    "_engine.py": "engine (fetch: dedup map, retry loop)",
    "_batch.py": "batch bookkeeping (_batch)",
    "_stream.py": "stream lanes and workers (_stream)",
    "_transport.py": "taskbridge transport (attempt, _read)",
    "_models.py": "result objects",
    "logging": "logging",
}


def collapse(path: str) -> None:
    """Charge each sample to its innermost taskbridge layer (else aiohttp/asyncio/other)."""
    own: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            frames = stack.split(";")
            n = int(count)
            total += n
            layer = "other"
            for frame in reversed(frames):
                hit = next((v for k, v in LAYERS.items() if k in frame), None)
                if hit is not None:
                    layer = hit
                    break
                if "aiohttp" in frame or "yarl" in frame or "multidict" in frame:
                    layer = "aiohttp"
                    break
                if "asyncio" in frame or "selectors" in frame:
                    layer = "asyncio"
                    break
            own[layer] += n
    for layer, n in own.most_common():
        print(f"{n / total * 100:5.1f}%  {layer}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("contender", nargs="?", default="taskbridge get_many")
    parser.add_argument("--provider", default="cakewalk")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--c", type=int, default=16)
    parser.add_argument("--collapse", metavar="PY_SPY_RAW", help="summarize a py-spy raw file")
    args = parser.parse_args()
    if args.collapse:
        collapse(args.collapse)
        return
    with _common.sandbox() as base:
        ids = ids_for(args.provider, 0, args.n)
        asyncio.run(CONTENDERS[args.contender](base, args.provider, ids, args.c))


if __name__ == "__main__":
    main()
