"""Throughput: taskbridge against what users would write instead, in one run.

All contenders fetch the same N distinct ids from one sandbox running in a separate
process (``--any-id``), with the same concurrency C and the same headers; each checks
``status == 200``, decodes the body and keeps the result in input order:

- ``aiohttp+orjson``: untyped dicts, the floor;
- ``aiohttp+msgspec`` / ``aiohttp+pydantic``: msgspec Structs / pydantic v2 models
  generated from the vendored specs by datamodel-code-generator (``bench/generated/``,
  see ``bench/generate_models.py``), ``Decoder.decode`` / ``model_validate_json``;
- ``httpx+pydantic``: the same pydantic models over ``httpx.AsyncClient`` (the stack of
  generated SDKs), as installed; it runs ``--httpx-n`` ids, since it is ~15x slower;
- ``taskbridge get_many`` and ``taskbridge stream``: typed models and a ``UnifiedTask``.

Diagnostics: ``taskbridge get_many (+detail)`` (every result's ``detail`` read too: it
is built on first access), ``taskbridge (decode stubbed)`` (decoding replaced by
``orjson.loads``), ``httpx+orjson`` and ``httpx+sniffio`` (see BENCHMARKS.md).
Contenders alternate in rounds; each run gets a fresh client whose connections are
opened by a C-request warm-up outside the timing. Reported per contender: median
requests/s, client CPU microseconds per request (its best round, and the median), the
garbage collector's share of it, and "tb is": that contender's best CPU/request divided
by taskbridge ``get_many``'s (>= 1 means taskbridge uses less CPU per request). Other
people's load only ever adds CPU per request, so the best round is the steadiest;
compare ratios within one run, not absolute figures across runs.

Run from the repo root::

    .venv/bin/python bench/bench_throughput.py             # N=3000, 3 rounds, C=1,16,64
    .venv/bin/python bench/bench_throughput.py --providers cakewalk --concurrency 16 \\
        --contenders "taskbridge get_many,aiohttp+orjson" --profile 25
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import pstats
import sys
import time
import types
from collections.abc import Callable, Coroutine, Iterator
from typing import Any
from urllib.parse import quote

import _common
import aiohttp
import httpx
import msgspec
import orjson
from generated import alumio_msgspec, alumio_pydantic, cakewalk_msgspec, cakewalk_pydantic

from taskbridge import AlumioConfig, CakewalkConfig, TaskBridge, __version__
from taskbridge.providers.alumio import AlumioAdapter
from taskbridge.providers.cakewalk import CakewalkAdapter

Runner = Callable[[str, str, list[str], int], Coroutine[Any, Any, None]]
Decode = Callable[[bytes], object]

TB = "taskbridge get_many"
TARGET = 0.90  # taskbridge CPU/request at most 1/0.9 of the floor's and msgspec's
TARGETS = {"aiohttp+orjson": TARGET, "aiohttp+msgspec": TARGET}

PYDANTIC_ROOTS = {
    "cakewalk": cakewalk_pydantic.TaskDetailedRecordViewModelV1,
    "alumio": alumio_pydantic.DetailedTaskResult,
}
MSGSPEC_ROOTS = {
    "cakewalk": cakewalk_msgspec.TaskDetailedRecordViewModelV1,
    "alumio": alumio_msgspec.DetailedTaskResult,
}


def decoder_for(kind: str, provider: str) -> Decode:
    if kind == "orjson":
        return orjson.loads
    if kind == "msgspec":
        return msgspec.json.Decoder(MSGSPEC_ROOTS[provider]).decode
    return PYDANTIC_ROOTS[provider].model_validate_json


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


def make_bridge(base: str, provider: str, c: int) -> TaskBridge:
    if provider == "cakewalk":
        config = CakewalkConfig(
            _common.API_KEY,
            _common.API_SECRET,
            base_url=base,
            requests_per_minute=None,
            max_concurrency=c,
        )
        return TaskBridge(cakewalk=config)
    return TaskBridge(alumio=AlumioConfig(base, _common.TOKEN, max_concurrency=c))


async def run_taskbridge(
    base: str, provider: str, ids: list[str], c: int, *, detail: bool = False
) -> None:
    async with make_bridge(base, provider, c) as bridge:
        warm = await bridge.get_many([(provider, i) for i in ids_for(provider, 10**8, c)])
        assert all(r.ok for r in warm)
        refs = [(provider, i) for i in ids]
        started = _start()
        results = await bridge.get_many(refs)
        if detail:
            for result in results:
                if result.ok:
                    result.task.detail  # noqa: B018  # built on first access: timed here
        _stop(started)
        bad = [r for r in results if not r.ok]
        assert not bad, f"{len(bad)} failures, first: {bad[0].error!r}"


async def run_taskbridge_detail(base: str, provider: str, ids: list[str], c: int) -> None:
    """Diagnostic: ``get_many``, then ``result.task.detail`` of every result, inside the
    timing: the typed models' cost, since ``detail`` is built on first access."""
    await run_taskbridge(base, provider, ids, c, detail=True)


async def run_taskbridge_stream(base: str, provider: str, ids: list[str], c: int) -> None:
    async with make_bridge(base, provider, c) as bridge:
        warm = await bridge.get_many([(provider, i) for i in ids_for(provider, 10**8, c)])
        assert all(r.ok for r in warm)
        results = []
        started = _start()
        async with contextlib.aclosing(
            _common.as_generator(bridge.stream((provider, i) for i in ids))
        ) as stream:
            async for result in stream:
                results.append(result)
        _stop(started)
        bad = [r for r in results if not r.ok]
        assert not bad, f"{len(bad)} failures, first: {bad[0].error!r}"
        assert len(results) == len(ids)


def aiohttp_runner(kind: str) -> Runner:
    """aiohttp, one session with ``limit=C``, C workers pulling from one iterator."""

    async def run(base: str, provider: str, ids: list[str], c: int) -> None:
        headers = headers_for(provider)
        decode = decoder_for(kind, provider)
        connector = aiohttp.TCPConnector(limit=c)

        async def fetch_all(session: aiohttp.ClientSession, todo: list[str]) -> list[object]:
            out: list[object] = [None] * len(todo)
            it = iter(enumerate(todo))

            async def worker() -> None:
                for i, task_id in it:
                    url = url_for(base, provider, task_id)
                    async with session.get(url, headers=headers) as r:
                        if r.status != 200:
                            raise RuntimeError(f"HTTP {r.status}")
                        out[i] = decode(await r.read())

            await asyncio.gather(*(worker() for _ in range(c)))
            return out

        async with aiohttp.ClientSession(connector=connector) as session:
            await fetch_all(session, ids_for(provider, 10**8, c))
            started = _start()
            await fetch_all(session, ids)
            _stop(started)

    return run


def httpx_runner(kind: str, *, sniffio: bool = False) -> Runner:
    """httpx ``AsyncClient``, keep-alive pool as large as the connection limit (the
    default keeps only 20). ``sniffio``: see `_sniffio_stub`."""

    async def run(base: str, provider: str, ids: list[str], c: int) -> None:
        headers = headers_for(provider)
        decode = decoder_for(kind, provider)
        limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)

        async def fetch_all(client: httpx.AsyncClient, todo: list[str]) -> list[object]:
            out: list[object] = [None] * len(todo)
            it = iter(enumerate(todo))

            async def worker() -> None:
                for i, task_id in it:
                    r = await client.get(url_for(base, provider, task_id), headers=headers)
                    if r.status_code != 200:
                        raise RuntimeError(f"HTTP {r.status_code}")
                    out[i] = decode(r.content)

            await asyncio.gather(*(worker() for _ in range(c)))
            return out

        with _sniffio_stub() if sniffio else contextlib.nullcontext():
            async with httpx.AsyncClient(limits=limits) as client:
                await fetch_all(client, ids_for(provider, 10**8, c))
                started = _start()
                await fetch_all(client, ids)
                _stop(started)

    return run


@contextlib.contextmanager
def _sniffio_stub() -> Iterator[None]:
    """Make ``sniffio`` importable. httpcore 1.0.9 imports sniffio on every lock it
    makes and anyio 4.16 no longer installs it, so as installed each of those imports fails
    anew (a ``sys.path`` scan); a stub standing for the real package removes that cost."""
    stub = types.ModuleType("sniffio")
    stub.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
    sys.modules["sniffio"] = stub
    try:
        yield
    finally:
        del sys.modules["sniffio"]


async def run_taskbridge_loads_only(base: str, provider: str, ids: list[str], c: int) -> None:
    """Diagnostic: taskbridge with decoding stubbed to ``orjson.loads`` (no models built).

    Its distance to taskbridge is what typed decoding and keeping the models cost in the
    request loop; its distance to raw aiohttp is everything else taskbridge does."""
    adapters: tuple[type, ...] = (CakewalkAdapter, AlumioAdapter)
    saved = [getattr(a, "decode_task") for a in adapters]  # noqa: B009

    from taskbridge import TaskStatus, UnifiedTask

    def loads_only(_self: object, body: bytes, task_id: str) -> object:
        # The engine accepts only a UnifiedTask; the dict is its detail.
        data = orjson.loads(body)
        return UnifiedTask("bench", task_id, TaskStatus.UNKNOWN, "", None, None, None, data)

    for a in adapters:
        setattr(a, "decode_task", loads_only)  # noqa: B010
    try:
        await run_taskbridge(base, provider, ids, c)
    finally:
        for a, original in zip(adapters, saved, strict=True):
            setattr(a, "decode_task", original)  # noqa: B010


async def run_taskbridge_decode_timed(base: str, provider: str, ids: list[str], c: int) -> None:
    """Diagnostic: taskbridge with the time spent in ``decode_task`` added up (printed)."""
    adapters: tuple[type, ...] = (CakewalkAdapter, AlumioAdapter)
    saved = [getattr(a, "decode_task") for a in adapters]  # noqa: B009
    spent = [0.0, 0]

    def timed(original: Callable[..., Any]) -> Callable[..., Any]:
        def decode_task(self: object, body: bytes, task_id: str) -> object:
            t0 = time.thread_time()
            try:
                return original(self, body, task_id)
            finally:
                spent[0] += time.thread_time() - t0
                spent[1] += 1

        return decode_task

    for a, original in zip(adapters, saved, strict=True):
        setattr(a, "decode_task", timed(original))  # noqa: B010
    try:
        await run_taskbridge(base, provider, ids, c)
    finally:
        for a, original in zip(adapters, saved, strict=True):
            setattr(a, "decode_task", original)  # noqa: B010
    print(f"    decode_task in the loop: {spent[0] / spent[1] * 1e6:.1f} us/call over {spent[1]}")


async def run_taskbridge_msgspec_detail(base: str, provider: str, ids: list[str], c: int) -> None:
    """Diagnostic, the ceiling of "validate in C, build ``detail`` lazily": taskbridge with
    ``decode_task`` replaced by the generated msgspec Structs plus the ``UnifiedTask``,
    whose ``detail`` is the Struct (no attrs models are built)."""
    from taskbridge import TaskStatus, UnifiedTask
    from taskbridge.providers.alumio import STATUS_MAP as ALUMIO_MAP
    from taskbridge.providers.cakewalk import STATUS_MAP as CAKEWALK_MAP

    cw = msgspec.json.Decoder(MSGSPEC_ROOTS["cakewalk"]).decode
    al = msgspec.json.Decoder(MSGSPEC_ROOTS["alumio"]).decode

    def cakewalk(_self: object, body: bytes, _task_id: str) -> object:
        task = cw(body).data
        status = task.status.value
        return UnifiedTask(
            "cakewalk",
            task.id,
            CAKEWALK_MAP.get(status, TaskStatus.UNKNOWN),
            status,
            task.type.value,
            task.createdAt,
            task.lastUpdatedAt,
            task,
        )

    def alumio(_self: object, body: bytes, task_id: str) -> object:
        task = al(body).object
        status = task.status or ""
        return UnifiedTask(
            "alumio",
            task.identifier or task_id,
            ALUMIO_MAP.get(status, TaskStatus.UNKNOWN),
            status,
            task.entityType or None,
            task.createdAt or None,
            task.updatedAt or None,
            task,
        )

    adapters: tuple[type, ...] = (CakewalkAdapter, AlumioAdapter)
    saved = [getattr(a, "decode_task") for a in adapters]  # noqa: B009
    for a, fn in zip(adapters, (cakewalk, alumio), strict=True):
        setattr(a, "decode_task", fn)  # noqa: B010
    try:
        await run_taskbridge(base, provider, ids, c)
    finally:
        for a, original in zip(adapters, saved, strict=True):
            setattr(a, "decode_task", original)  # noqa: B010


CONTENDERS: dict[str, Runner] = {
    TB: run_taskbridge,
    "taskbridge stream": run_taskbridge_stream,
    "aiohttp+orjson": aiohttp_runner("orjson"),
    "aiohttp+msgspec": aiohttp_runner("msgspec"),
    "aiohttp+pydantic": aiohttp_runner("pydantic"),
    "httpx+pydantic": httpx_runner("pydantic"),
    # diagnostics, not in the default set
    "taskbridge get_many (+detail)": run_taskbridge_detail,
    "taskbridge (decode stubbed)": run_taskbridge_loads_only,
    "taskbridge (decode timed)": run_taskbridge_decode_timed,
    "taskbridge (msgspec detail)": run_taskbridge_msgspec_detail,
    "httpx+orjson": httpx_runner("orjson"),
    "httpx+sniffio+orjson": httpx_runner("orjson", sniffio=True),
}
DEFAULT = list(CONTENDERS)[:6]
SLOW = {"httpx+pydantic", "httpx+orjson", "httpx+sniffio+orjson"}

_last: dict[str, float] = {}
_gc = {"started": 0.0, "total": 0.0}


def _gc_callback(phase: str, _info: dict[str, int]) -> None:
    """Adds up the time the cyclic garbage collector runs (its passes over what the
    contender keeps are part of the per-request cost of keeping typed results)."""
    if phase == "start":
        _gc["started"] = time.perf_counter()
    else:
        _gc["total"] += time.perf_counter() - _gc["started"]


gc.callbacks.append(_gc_callback)


def _start() -> tuple[float, float]:
    _gc["total"] = 0.0
    return time.perf_counter(), time.process_time()


def _stop(started: tuple[float, float]) -> None:
    _last["wall"] = time.perf_counter() - started[0]
    _last["cpu"] = time.process_time() - started[1]
    _last["gc"] = _gc["total"]


def measure(
    base: str, provider: str, c: int, n: int, *, rounds: int, names: list[str], slow_n: int
) -> dict[str, list[tuple[float, float, float]]]:
    """Return, per contender, ``(req/s, client CPU us/request, of which gc)`` per round."""
    ids = ids_for(provider, 0, n)
    out: dict[str, list[tuple[float, float, float]]] = {name: [] for name in names}
    for r, order in _common.alternate(names, rounds):
        line = []
        for name in order:
            todo = ids[:slow_n] if name in SLOW else ids
            asyncio.run(CONTENDERS[name](base, provider, todo, c))
            rps, cpu_us = len(todo) / _last["wall"], _last["cpu"] / len(todo) * 1e6
            out[name].append((rps, cpu_us, _last["gc"] / len(todo) * 1e6))
            line.append(f"{name} {rps:,.0f}/s {cpu_us:,.0f}us")
        print(f"  {provider} C={c} round {r + 1}/{rounds}: " + ", ".join(line), flush=True)
    return out


def best(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The round with the least CPU per request: other people's load on a shared box only
    ever adds to it (cache and core contention), so the least is the steadiest figure."""
    return min(runs, key=lambda x: x[1])


def tb_is(data: dict[str, list[tuple[float, float, float]]], other: str) -> float:
    """(other's CPU/request) / (taskbridge get_many's), each its best round: >= 1 is
    taskbridge using less CPU per request."""
    return best(data[other])[1] / best(data[TB])[1]


def report(provider: str, c: int, data: dict[str, list[tuple[float, float, float]]]) -> None:
    rows = []
    for name, runs in data.items():
        rows.append(
            [
                name,
                _common.median([x[0] for x in runs]),
                best(runs)[1],
                _common.median([x[1] for x in runs]),
                best(runs)[2],
                "" if name == TB else f"{tb_is(data, name):.2f}x",
            ]
        )
    print(f"\n### {provider}, concurrency {c}, {len(data[TB])} rounds")
    headers = ["contender", "median req/s", "CPU us/req", "median", "of which gc", f"{TB} is"]
    _common.print_table(headers, rows)
    for other, target in TARGETS.items():
        if other in data:
            ratio = tb_is(data, other)
            verdict = "PASS" if ratio >= target else "MISS"
            print(f"  taskbridge vs {other}: {ratio:.2f}x (target >= {target}) -> {verdict}")


def summary_table(
    results: dict[tuple[str, int], dict[str, list[tuple[float, float, float]]]],
) -> None:
    """One row per provider and C: each contender's CPU us/request and taskbridge's ratio."""
    names = list(next(iter(results.values())))
    headers = ["provider", "C", *names]
    rows = []
    for (provider, c), data in results.items():
        cells: list[object] = [provider, c]
        for name in names:
            cpu = best(data[name])[1]
            cells.append(f"{cpu:,.0f}" if name == TB else f"{cpu:,.0f} ({tb_is(data, name):.2f}x)")
        rows.append(cells)
    print("\n## CPU us/request, best round (in brackets: that / taskbridge get_many)")
    _common.print_table(headers, rows)


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
    parser.add_argument("--n", type=int, default=3000, help="ids per run (default 3000)")
    parser.add_argument("--httpx-n", type=int, default=0, help="ids per httpx run (default N/6)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--concurrency", default="1,16,64", help="comma list (default 1,16,64)")
    parser.add_argument("--providers", default="cakewalk,alumio", help="comma list")
    parser.add_argument(
        "--contenders", default=",".join(DEFAULT), help=f"comma list of: {', '.join(CONTENDERS)}"
    )
    parser.add_argument("--profile", type=int, default=0, metavar="TOP", help="print top rows")
    args = parser.parse_args()
    _common.print_machine("throughput")
    levels = [int(x) for x in args.concurrency.split(",")]
    providers = [p.strip() for p in args.providers.split(",")]
    names = [x.strip() for x in args.contenders.split(",")]
    if TB not in names or not set(names) <= set(CONTENDERS):
        parser.error(f"--contenders: {TB!r} plus any of {', '.join(CONTENDERS)}")
    slow_n = args.httpx_n or max(args.n // 6, 1)
    results: dict[tuple[str, int], dict[str, list[tuple[float, float, float]]]] = {}
    with _common.sandbox() as base:
        print(f"sandbox (separate process): {base}; N={args.n} (httpx: {slow_n}), ", end="")
        print(f"rounds={args.rounds}\n")
        for provider in providers:
            for c in levels:
                data = measure(
                    base, provider, c, args.n, rounds=args.rounds, names=names, slow_n=slow_n
                )
                results[provider, c] = data
                report(provider, c, data)
                print()
        for provider in providers if args.profile else ():
            profile_taskbridge(base, provider, levels[-1], args.n, args.profile)
    summary_table(results)
    print(f"\nload average at the end: {_common.machine_info()['load avg (1/5/15 min)']}")


if __name__ == "__main__":
    main()
