"""Fairness: does a rate-limited provider hold back a fast one, in get_many and in stream?

3,000 Alumio and 300 Cakewalk refs, shuffled (seed 1), against the sandbox (separate
process, ``--any-id``); Cakewalk at its client-side limit of 1,000 requests per minute
(about 17 s for its 300 refs), Alumio unlimited. Reported: seconds from the start until
the last Alumio result, and until the last result of all, for ``get_many`` and for
``stream`` (results counted, not kept).

Run from the repo root::

    .venv/bin/python bench/bench_fairness.py            # both, ~40 s
    .venv/bin/python bench/bench_fairness.py --only stream
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

import _common


def mixed_refs(alumio: int, cakewalk: int, seed: int) -> list[tuple[str, str]]:
    refs = [("alumio", f"fair-{n}") for n in range(alumio)]
    refs += [("cakewalk", _common.cakewalk_id(n)) for n in range(cakewalk)]
    random.Random(seed).shuffle(refs)
    return refs


async def run(url: str, how: str, refs: list[tuple[str, str]]) -> dict[str, object]:
    from taskbridge import AlumioConfig, CakewalkConfig, TaskBridge

    cakewalk = CakewalkConfig(_common.API_KEY, _common.API_SECRET, base_url=url)
    alumio_total = sum(1 for provider, _ in refs if provider == "alumio")
    alumio_done = 0
    last_alumio = float("nan")
    failed = 0
    async with TaskBridge(cakewalk=cakewalk, alumio=AlumioConfig(url, _common.TOKEN)) as bridge:
        started = time.perf_counter()

        def seen(result: object) -> None:
            nonlocal alumio_done, last_alumio, failed
            failed += not result.ok  # type: ignore[attr-defined]
            if result.ref.provider == "alumio":  # type: ignore[attr-defined]
                alumio_done += 1
                if alumio_done == alumio_total:
                    last_alumio = time.perf_counter() - started

        if how == "get_many":
            await bridge.get_many(refs, on_result=seen)
        else:
            async for result in bridge.stream(refs):
                seen(result)
        total = time.perf_counter() - started
    return {
        "how": how,
        "refs": len(refs),
        "failed": failed,
        "all_alumio_s": round(last_alumio, 2),
        "all_s": round(total, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alumio", type=int, default=3000)
    parser.add_argument("--cakewalk", type=int, default=300)
    parser.add_argument("--only", choices=["get_many", "stream"])
    args = parser.parse_args()
    refs = mixed_refs(args.alumio, args.cakewalk, seed=1)
    _common.print_machine("fairness")
    rows = []
    with _common.sandbox() as url:
        for how in [args.only] if args.only else ["get_many", "stream"]:
            result = asyncio.run(run(url, how, refs))
            print(json.dumps(result), flush=True)
            rows.append([result["how"], result["all_alumio_s"], result["all_s"]])
    print()
    _common.print_table(["", "all Alumio results (s)", "all results (s)"], rows)


if __name__ == "__main__":
    main()
