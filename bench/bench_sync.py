"""SyncTaskBridge side by side with TaskBridge and with the sync stacks a user would pick.

One sandbox process (``python -m taskbridge.sandbox --any-id``), contenders in alternating
rounds, client CPU (this process: every thread) per request and requests/s:

1. ``get_many`` of 3,000 Cakewalk refs: ``SyncTaskBridge.get_many`` vs ``await
   TaskBridge.get_many`` (``asyncio.run``), both ``max_concurrency=16``. Target >= 0.95x.
2. 16 threads, each calling ``get`` in a loop over its share of 3,000 ids:
   ``SyncTaskBridge.get`` (one bridge shared by the threads) vs ``requests.Session`` +
   pydantic v2 models and ``httpx.Client`` + pydantic (a session per thread; the models
   of ``bench/generated/``, made by ``bench/generate_models.py``).
3. The overhead of one blocking ``get`` over one ``await bridge.get``: sequential gets,
   wall time per get, the difference in microseconds.

Run from the repo root (needs the ``bench`` extra)::

    .venv/bin/python bench/bench_sync.py [--rounds 5] [--n 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time
from collections.abc import Callable

import _common
import httpx
import requests
from generated import cakewalk_pydantic

from taskbridge import CakewalkConfig, InvalidTaskIdError, SyncTaskBridge, TaskBridge, __version__

THREADS = 16
Runner = Callable[[str, list[str]], None]


def config(base: str) -> CakewalkConfig:
    return CakewalkConfig(
        _common.API_KEY,
        _common.API_SECRET,
        base_url=base,
        requests_per_minute=None,
        max_concurrency=THREADS,
    )


HEADERS = {
    "X-API-KEY": _common.API_KEY,
    "X-API-SECRET": _common.API_SECRET,
    "Accept": "application/json",
    "User-Agent": f"taskbridge/{__version__}",
}


def timed(run: Runner, base: str, ids: list[str]) -> tuple[float, float]:
    """Return (requests/s, client CPU us/request) of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    run(base, ids)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(ids) / wall, cpu / len(ids) * 1e6


# 1. get_many


def sync_get_many(base: str, ids: list[str]) -> None:
    with SyncTaskBridge(cakewalk=config(base)) as bridge:
        results = bridge.get_many([("cakewalk", i) for i in ids])
    assert all(r.ok for r in results)


def async_get_many(base: str, ids: list[str]) -> None:
    async def run() -> None:
        async with TaskBridge(cakewalk=config(base)) as bridge:
            results = await bridge.get_many([("cakewalk", i) for i in ids])
        assert all(r.ok for r in results)

    asyncio.run(run())


# 2. sixteen threads


def in_threads(work: Callable[[list[str]], None], ids: list[str]) -> None:
    shares = [ids[k::THREADS] for k in range(THREADS)]
    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def sync_threads(base: str, ids: list[str]) -> None:
    with SyncTaskBridge(cakewalk=config(base)) as bridge:

        def work(share: list[str]) -> None:
            for task_id in share:
                bridge.get("cakewalk", task_id)

        in_threads(work, ids)


MODEL = cakewalk_pydantic.TaskDetailedRecordViewModelV1


def requests_threads(base: str, ids: list[str]) -> None:
    def work(share: list[str]) -> None:
        with requests.Session() as session:
            for task_id in share:
                response = session.get(f"{base}/api/v1/Tasks/{task_id}", headers=HEADERS)
                response.raise_for_status()
                MODEL.model_validate_json(response.content)

    in_threads(work, ids)


def httpx_threads(base: str, ids: list[str]) -> None:
    def work(share: list[str]) -> None:
        with httpx.Client(headers=HEADERS) as client:
            for task_id in share:
                response = client.get(f"{base}/api/v1/Tasks/{task_id}")
                response.raise_for_status()
                MODEL.model_validate_json(response.content)

    in_threads(work, ids)


# 3. the hand-off


def handoff_us(base: str, ids: list[str]) -> tuple[float, float, float, float]:
    """Microseconds per call: (blocking get, await get) of a refused id (no I/O: the
    hand-off alone), then (blocking get, await get) of sequential gets over HTTP."""
    calls = 20_000

    def refused_sync(bridge: SyncTaskBridge) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            with contextlib.suppress(InvalidTaskIdError):
                bridge.get("cakewalk", "not-a-uuid")
        return (time.perf_counter() - started) / calls * 1e6

    with SyncTaskBridge(cakewalk=config(base)) as bridge:
        bridge.get("cakewalk", ids[0])
        refused_blocking = refused_sync(bridge)
        started = time.perf_counter()
        for task_id in ids:
            bridge.get("cakewalk", task_id)
        blocking = (time.perf_counter() - started) / len(ids) * 1e6

    async def run() -> tuple[float, float]:
        async with TaskBridge(cakewalk=config(base)) as bridge:
            await bridge.get("cakewalk", ids[0])
            started = time.perf_counter()
            for _ in range(calls):
                with contextlib.suppress(InvalidTaskIdError):
                    await bridge.get("cakewalk", "not-a-uuid")
            refused = (time.perf_counter() - started) / calls * 1e6
            started = time.perf_counter()
            for task_id in ids:
                await bridge.get("cakewalk", task_id)
            return refused, (time.perf_counter() - started) / len(ids) * 1e6

    refused_awaited, awaited = asyncio.run(run())
    return refused_blocking, refused_awaited, blocking, awaited


def rounds_of(
    contenders: dict[str, Runner], base: str, ids: list[str], rounds: int
) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for r, order in _common.alternate(list(contenders), rounds):
        line = []
        for name in order:
            rps, cpu = timed(contenders[name], base, ids)
            out[name].append((rps, cpu))
            line.append(f"{name} {rps:,.0f}/s {cpu:,.0f}us")
        print(f"  round {r + 1}/{rounds}: " + ", ".join(line), flush=True)
    return out


def table(data: dict[str, list[tuple[float, float]]], against: str) -> None:
    base_rps = _common.median([x[0] for x in data[against]])
    base_cpu = _common.median([x[1] for x in data[against]])
    rows = []
    for name, runs in data.items():
        rps = _common.median([x[0] for x in runs])
        cpu = _common.median([x[1] for x in runs])
        rows.append(
            [name, f"{rps:,.0f}", f"{cpu:,.0f}", f"{rps / base_rps:.2f}x", f"{base_cpu / cpu:.2f}x"]
        )
    _common.print_table(
        [
            "contender",
            "req/s (median)",
            "CPU us/req (median)",
            f"req/s vs {against}",
            f"CPU: {against} / it",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--handoff-n", type=int, default=1000)
    args = parser.parse_args()
    _common.print_machine("bench_sync")
    ids = [_common.cakewalk_id(k) for k in range(args.n)]
    with _common.sandbox() as base:
        print(f"\n1. get_many of {args.n:,} refs, max_concurrency={THREADS}")
        many = rounds_of(
            {"SyncTaskBridge.get_many": sync_get_many, "TaskBridge.get_many": async_get_many},
            base,
            ids,
            args.rounds,
        )
        table(many, "TaskBridge.get_many")
        print(f"\n2. {THREADS} threads calling get, {args.n:,} ids in all")
        threads = rounds_of(
            {
                "SyncTaskBridge.get": sync_threads,
                "requests.Session+pydantic": requests_threads,
                "httpx.Client+pydantic": httpx_threads,
            },
            base,
            ids,
            args.rounds,
        )
        table(threads, "SyncTaskBridge.get")
        print(f"\n3. one blocking get vs one await get, {args.handoff_n:,} sequential gets")
        runs = [handoff_us(base, ids[: args.handoff_n]) for _ in range(args.rounds)]
        m = [_common.median([run[k] for run in runs]) for k in range(4)]
        print(
            f"  no I/O (an id refused on the loop): blocking {m[0]:,.1f} us, await "
            f"{m[1]:,.1f} us: hand-off {m[0] - m[1]:,.1f} us per call\n"
            f"  over HTTP: blocking get {m[2]:,.1f} us, await get {m[3]:,.1f} us "
            f"(medians of {args.rounds} rounds)"
        )


if __name__ == "__main__":
    main()
