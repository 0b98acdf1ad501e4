"""Throughput: taskbridge ``get_many`` vs hand-written aiohttp + orjson vs httpx.

All contenders fetch the same N distinct ids from one sandbox running in a separate
process (``--any-id``), with the same concurrency C, the same headers, and each checks
``status == 200``, parses the JSON body and keeps the result in input order (as
``get_many`` returns its list); taskbridge also decodes each body into its
typed models and a ``UnifiedTask`` (that is the point of it); a diagnostic contender
runs taskbridge with decoding stubbed to ``orjson.loads``, to split the cost. Contenders
alternate in rounds; each run gets a fresh client whose connections are opened by a
C-request warm-up outside the timing. Reported: median requests/s and client CPU
microseconds per request.

Run from the repo root::

    .venv/bin/python bench/bench_throughput.py                      # defaults below
    .venv/bin/python bench/bench_throughput.py --n 5000 --rounds 5 --concurrency 16,50 \\
        --providers cakewalk,alumio --profile 20      # + cProfile of one taskbridge run
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import time
import types
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

import _common
import aiohttp
import httpx
import orjson

from taskbridge import AlumioConfig, CakewalkConfig, TaskBridge, __version__
from taskbridge.providers.alumio import AlumioAdapter
from taskbridge.providers.cakewalk import CakewalkAdapter

Runner = Callable[[str, str, list[str], int], Coroutine[Any, Any, None]]

TARGET_RAW = 0.90
TARGET_HTTPX = 3.0


def ids_for(provider: str, start: int, count: int) -> list[str]:
    if provider == "cakewalk":
        return [_common.cakewalk_id(n) for n in range(start, start + count)]
    return [f"bench-task-{n:09d}" for n in range(start, start + count)]


def headers_for(provider: str) -> dict[str, str]:
    """The exact headers taskbridge's adapters send."""
    common = {"Accept": "application/json", "User-Agent": f"taskbridge/{__version__}"}
    if provider == "cakewalk":
        return {"X-API-KEY": _common.API_KEY, "X-API-SECRET": _common.API_SECRET, **common}
    return {"Authorization": f"Bearer {_common.TOKEN}", **common}


def url_for(base: str, provider: str, task_id: str) -> str:
    if provider == "cakewalk":
        return f"{base}/api/v1/Tasks/{task_id}"
    return f"{base}/api/v1/tasks/{quote(task_id, safe='')}"


async def run_taskbridge(base: str, provider: str, ids: list[str], c: int) -> None:
    if provider == "cakewalk":
        config = CakewalkConfig(
            _common.API_KEY,
            _common.API_SECRET,
            base_url=base,
            requests_per_minute=None,
            max_concurrency=c,
        )
        bridge = TaskBridge(cakewalk=config)
    else:
        bridge = TaskBridge(alumio=AlumioConfig(base, _common.TOKEN, max_concurrency=c))
    async with bridge:
        warm = await bridge.get_many([(provider, i) for i in ids_for(provider, 10**8, c)])
        assert all(r.ok for r in warm)
        refs = [(provider, i) for i in ids]
        started = _start()
        results = await bridge.get_many(refs)
        _stop(started)
        bad = [r for r in results if not r.ok]
        assert not bad, f"{len(bad)} failures, first: {bad[0].error!r}"


async def run_raw(base: str, provider: str, ids: list[str], c: int) -> None:
    headers = headers_for(provider)
    connector = aiohttp.TCPConnector(limit=c)

    async def fetch_all(session: aiohttp.ClientSession, todo: list[str]) -> list[object]:
        out: list[object] = [None] * len(todo)
        it = iter(enumerate(todo))

        async def worker() -> None:
            for i, task_id in it:
                async with session.get(url_for(base, provider, task_id), headers=headers) as r:
                    if r.status != 200:
                        raise RuntimeError(f"HTTP {r.status}")
                    out[i] = orjson.loads(await r.read())

        await asyncio.gather(*(worker() for _ in range(c)))
        return out

    async with aiohttp.ClientSession(connector=connector) as session:
        await fetch_all(session, ids_for(provider, 10**8, c))
        started = _start()
        await fetch_all(session, ids)
        _stop(started)


async def run_httpx(base: str, provider: str, ids: list[str], c: int) -> None:
    headers = headers_for(provider)
    # Keep-alive pool as large as the connection limit (the default keeps only 20).
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)

    async def fetch_all(client: httpx.AsyncClient, todo: list[str]) -> list[object]:
        out: list[object] = [None] * len(todo)
        it = iter(enumerate(todo))

        async def worker() -> None:
            for i, task_id in it:
                r = await client.get(url_for(base, provider, task_id), headers=headers)
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}")
                out[i] = orjson.loads(r.content)

        await asyncio.gather(*(worker() for _ in range(c)))
        return out

    async with httpx.AsyncClient(limits=limits) as client:
        await fetch_all(client, ids_for(provider, 10**8, c))
        started = _start()
        await fetch_all(client, ids)
        _stop(started)


async def run_httpx_sniffio(base: str, provider: str, ids: list[str], c: int) -> None:
    """httpx with ``sniffio`` importable. httpcore 1.0.9 imports sniffio on every lock it
    makes and anyio 4.16 no longer installs it, so as installed each of those imports fails
    anew (a ``sys.path`` scan); a stub standing for the real package removes that cost."""
    stub = types.ModuleType("sniffio")
    stub.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
    sys.modules["sniffio"] = stub
    try:
        await run_httpx(base, provider, ids, c)
    finally:
        del sys.modules["sniffio"]


async def run_taskbridge_loads_only(base: str, provider: str, ids: list[str], c: int) -> None:
    """Diagnostic: taskbridge with decoding stubbed to ``orjson.loads`` (no models built).

    Its distance to taskbridge is what typed decoding and keeping the models cost in the
    request loop; its distance to raw aiohttp is everything else taskbridge does."""
    adapters: tuple[type, ...] = (CakewalkAdapter, AlumioAdapter)
    saved = [getattr(a, "decode_task") for a in adapters]  # noqa: B009

    def loads_only(_self: object, body: bytes, _task_id: str) -> None:
        orjson.loads(body)

    for a in adapters:
        setattr(a, "decode_task", loads_only)  # noqa: B010
    try:
        await run_taskbridge(base, provider, ids, c)
    finally:
        for a, original in zip(adapters, saved, strict=True):
            setattr(a, "decode_task", original)  # noqa: B010


CONTENDERS: dict[str, Runner] = {
    "taskbridge": run_taskbridge,
    "taskbridge (decode stubbed)": run_taskbridge_loads_only,
    "raw aiohttp+orjson": run_raw,
    "httpx": run_httpx,
    "httpx+sniffio": run_httpx_sniffio,
}

_last: dict[str, float] = {}


def _start() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _stop(started: tuple[float, float]) -> None:
    _last["wall"] = time.perf_counter() - started[0]
    _last["cpu"] = time.process_time() - started[1]


def measure(
    base: str, provider: str, c: int, n: int, *, rounds: int, names: list[str]
) -> dict[str, list[tuple[float, float]]]:
    """Return, per contender, ``(req/s, client CPU us per request)`` for each round."""
    ids = ids_for(provider, 0, n)
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for r, order in _common.alternate(names, rounds):
        line = []
        for name in order:
            asyncio.run(CONTENDERS[name](base, provider, ids, c))
            rps, cpu_us = n / _last["wall"], _last["cpu"] / n * 1e6
            out[name].append((rps, cpu_us))
            line.append(f"{name} {rps:,.0f}/s")
        print(f"  {provider} C={c} round {r + 1}/{rounds}: " + ", ".join(line), flush=True)
    return out


def report(provider: str, c: int, data: dict[str, list[tuple[float, float]]]) -> list[str]:
    rows = []
    tb = data["taskbridge"]
    for name, runs in data.items():
        rps = [x[0] for x in runs]
        rows.append(
            [
                name,
                _common.median(rps),
                min(rps),
                max(rps),
                _common.median([x[1] for x in runs]),
            ]
        )
    print(f"\n### {provider}, concurrency {c}, {len(tb)} rounds")
    _common.print_table(["contender", "median req/s", "min", "max", "client CPU us/req"], rows)
    verdicts = []
    pairs = (("raw aiohttp+orjson", TARGET_RAW), ("httpx", TARGET_HTTPX))
    if "taskbridge (decode stubbed)" in data:
        stub = data["taskbridge (decode stubbed)"]
        ceiling = _common.median(
            [a[0] / b[0] for a, b in zip(stub, data[pairs[0][0]], strict=True)]
        )
        verdicts.append(f"(diagnostic) decode stubbed / raw, paired median: {ceiling:.3f}")
    for other, target in (*pairs, ("httpx+sniffio", TARGET_HTTPX)):
        if other not in data:
            continue
        med = _common.ratio(
            _common.median([x[0] for x in tb]), _common.median([x[0] for x in data[other]])
        )
        paired = _common.median([a[0] / b[0] for a, b in zip(tb, data[other], strict=True)])
        cpu = _common.ratio(
            _common.median([x[1] for x in data[other]]), _common.median([x[1] for x in tb])
        )
        ok = "PASS" if med >= target else "MISS"
        verdicts.append(
            f"taskbridge/{other}: {med:.3f} (paired per-round median {paired:.3f}; "
            f"CPU-per-request ratio {cpu:.3f}) target >= {target} -> {ok}"
        )
    for v in verdicts:
        print("  " + v)
    return verdicts


def profile_taskbridge(base: str, provider: str, c: int, n: int, top: int) -> None:
    """cProfile one taskbridge run: where the client's time goes (inflates small calls)."""
    ids = ids_for(provider, 0, n)
    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(run_taskbridge(base, provider, ids, c))
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    print(f"\n### cProfile: taskbridge get_many, {provider}, C={c}, N={n}, by own time")
    print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="ids per run (default 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--concurrency", default="16,50", help="comma list (default 16,50)")
    parser.add_argument("--providers", default="cakewalk,alumio", help="comma list")
    parser.add_argument(
        "--contenders", default=",".join(CONTENDERS), help=f"comma list of: {', '.join(CONTENDERS)}"
    )
    parser.add_argument("--profile", type=int, default=0, metavar="TOP", help="print top rows")
    args = parser.parse_args()
    _common.print_machine("throughput")
    levels = [int(x) for x in args.concurrency.split(",")]
    providers = [p.strip() for p in args.providers.split(",")]
    names = [x.strip() for x in args.contenders.split(",")]
    if "taskbridge" not in names or not set(names) <= set(CONTENDERS):
        parser.error(f"--contenders: taskbridge plus any of {', '.join(CONTENDERS)}")
    summary: list[str] = []
    with _common.sandbox() as base:
        print(f"sandbox (separate process): {base}; N={args.n}, rounds={args.rounds}\n")
        for provider in providers:
            for c in levels:
                data = measure(base, provider, c, args.n, rounds=args.rounds, names=names)
                summary += [f"{provider} C={c}: {v}" for v in report(provider, c, data)]
                print()
        for provider in providers if args.profile else ():
            profile_taskbridge(base, provider, levels[0], args.n, args.profile)
    print("\n## summary")
    for line in summary:
        print("  " + line)
    print(f"  load average at the end: {_common.machine_info()['load avg (1/5/15 min)']}")


if __name__ == "__main__":
    main()
