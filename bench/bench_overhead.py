"""Where taskbridge's per-request CPU goes, outside aiohttp: each layer timed alone.

Every figure is microseconds of CPU per request for one layer of the request path, run
in a tight loop in this process, with the layers below it replaced by a stub that
returns a prebuilt result (so a layer's figure is its own cost, not its callees'):

- ``resolve``: checking one ref (``TaskRef``, provider lookup, ``check_id``);
- ``get_many`` bookkeeping: the dedup map, per-provider queues, workers, result slots
  (with the engine's ``fetch`` stubbed);
- ``engine.fetch``: the dedup map, the gate and the retry loop (with ``attempt``
  stubbed);
- the gate alone (``try_enter`` and the awaited ``enter``), and the rate limiter alone
  (a rate too high to ever wait: ``try_acquire`` and ``acquire``);
- ``adapter.request``: the URL and headers of one GET;
- one ``TaskSuccess``; the ``logging`` check ``attempt`` does;
- decoding a body: ``decode_task`` (bytes to ``UnifiedTask``), and for comparison
  ``orjson.loads``, the generated msgspec Structs and pydantic models (the sandbox's 50
  seeded bodies of each provider, mean per body); then ``decode_task`` over the 3,000
  bodies ``bench_throughput.py`` fetches, with the garbage collector off (the steadiest
  figure for comparing two versions of the decode path).

Not covered here: aiohttp itself, and the garbage collector's passes over the models
kept in memory; ``bench_throughput.py`` reports those inside the request loop.

Run from the repo root::

    .venv/bin/python bench/bench_overhead.py
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import timeit
from collections.abc import Awaitable, Callable
from typing import Any

import _common
import msgspec
import orjson
from bench_throughput import MSGSPEC_ROOTS, PYDANTIC_ROOTS, ids_for

from taskbridge import AlumioConfig, CakewalkConfig, TaskBridge, TaskRef
from taskbridge._base.models import new_task_success
from taskbridge._engine.gate import ProviderGate
from taskbridge._engine.ratelimit import RateLimiter
from taskbridge.sandbox import SandboxState

BATCH = 2000


def per_call_us(fn: Callable[[], object], repeat: int, per: int = 1) -> float:
    """Best of ``repeat`` timeit runs, in microseconds per item (``per`` items a call)."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number / per * 1e6


def async_us(make: Callable[[], Awaitable[object]], repeat: int, per: int) -> float:
    """Like `per_call_us` for a coroutine run ``per`` items at a time in one loop."""
    loop = asyncio.new_event_loop()
    try:
        return per_call_us(lambda: loop.run_until_complete(make()), repeat, per)
    finally:
        loop.close()


def sandbox_bodies(provider: str) -> list[tuple[str, bytes]]:
    state = SandboxState(seed=1, tasks_per_provider=50)
    ids = state.ids(provider)
    out = []
    for task_id in ids:
        served = state.lookup(provider, task_id)
        assert served is not None
        out.append((task_id, served.body))
    return out


def layers(provider: str, repeat: int) -> list[tuple[str, float]]:
    if provider == "cakewalk":
        bridge = TaskBridge(cakewalk=CakewalkConfig("k", "s", requests_per_minute=None))
    else:
        bridge = TaskBridge(alumio=AlumioConfig("http://127.0.0.1", "t"))
    bodies = sandbox_bodies(provider)
    caller = bridge._call
    engine = caller.engine
    gate = engine.gates[provider]
    adapter = gate.adapter
    task_id, body = bodies[0]
    task = adapter.decode_task(body, task_id)
    ids = [_common.cakewalk_id(n) for n in range(BATCH)]
    if provider != "cakewalk":
        ids = [f"bench-task-{n:09d}" for n in range(BATCH)]
    refs = [(provider, i) for i in ids]
    ref = TaskRef(provider, task_id)
    rows: list[tuple[str, float]] = []

    async def stub(*_: Any, **__: Any) -> Any:
        return task

    async def direct() -> None:
        for _ in range(BATCH):
            await stub()

    base = async_us(direct, repeat, BATCH)
    rows.append(("(awaiting a stub coroutine: subtracted below)", base))

    resolve_us = per_call_us(lambda: [engine.resolve(r) for r in refs], repeat, BATCH)
    rows.append(("resolve: TaskRef, provider lookup, check_id", resolve_us))

    engine.fetch = stub  # type: ignore[method-assign]
    try:
        rows.append(
            (
                "get_many bookkeeping (workers, dedup map, results)",
                async_us(lambda: bridge.get_many(refs), repeat, BATCH) - resolve_us - base,
            )
        )
    finally:
        del engine.fetch

    # The engine binds its attempt function when it is built: stub the engine's own.
    saved_attempt = engine.attempt
    engine.attempt = stub  # type: ignore[method-assign]
    engine.session = object()  # type: ignore[assignment]  # fetch only checks it is set
    settings = caller.settings

    async def fetch_loop() -> None:
        for i in ids:
            await engine.fetch(gate, i, settings)

    try:
        engine.check_loop = lambda: None  # type: ignore[method-assign]  # loops differ here
        rows.append(
            (
                "engine.fetch: dedup map, gate, retry loop (attempt stubbed)",
                async_us(fetch_loop, repeat, BATCH) - base,
            )
        )
    finally:
        engine.attempt = saved_attempt  # type: ignore[method-assign]
        engine.session = None
        del engine.check_loop

    def fast_gate(g: ProviderGate = gate) -> None:
        for _ in range(BATCH):
            g.try_enter()
            g.leave()

    rows.append(("gate.try_enter + leave (no rate limit)", per_call_us(fast_gate, repeat, BATCH)))

    async def gate_loop(g: ProviderGate = gate) -> None:
        for _ in range(BATCH):
            await g.enter()
            g.leave()

    rows.append(("gate.enter + leave (the awaited path)", async_us(gate_loop, repeat, BATCH)))

    def try_limiter() -> None:
        limiter = RateLimiter(1e12)
        for _ in range(BATCH):
            limiter.try_acquire()

    rows.append(("rate limiter try_acquire (a token due)", per_call_us(try_limiter, repeat, BATCH)))

    async def limiter_loop() -> None:
        limiter = RateLimiter(1e12)
        for _ in range(BATCH):
            await limiter.acquire()

    rows.append(("rate limiter acquire (never waits)", async_us(limiter_loop, repeat, BATCH)))
    rows.append(
        ("adapter.request: URL and headers", per_call_us(lambda: adapter.request(task_id), repeat))
    )
    rows.append(
        (
            "new_task_success(ref, task, None)",
            per_call_us(lambda: new_task_success(ref, task, None, 1, 0.0), repeat),
        )
    )
    logger = logging.getLogger("taskbridge")
    rows.append(
        (
            "logging: isEnabledFor(DEBUG)",
            per_call_us(lambda: logger.isEnabledFor(logging.DEBUG), repeat),
        )
    )

    n = len(bodies)
    raw = [b for _, b in bodies]
    ms = msgspec.json.Decoder(MSGSPEC_ROOTS[provider]).decode
    pd = PYDANTIC_ROOTS[provider].model_validate_json
    rows.append(
        (
            "decode_task: bytes -> UnifiedTask (sandbox mix)",
            per_call_us(lambda: [adapter.decode_task(b, i) for i, b in bodies], repeat, n),
        )
    )
    rows.append(
        (
            "  for comparison: orjson.loads",
            per_call_us(lambda: [orjson.loads(b) for b in raw], repeat, n),
        )
    )
    rows.append(
        (
            "  for comparison: generated msgspec Structs",
            per_call_us(lambda: [ms(b) for b in raw], repeat, n),
        )
    )
    rows.append(
        (
            "  for comparison: generated pydantic models",
            per_call_us(lambda: [pd(b) for b in raw], repeat, n),
        )
    )
    rows += bench_bodies(provider, adapter, repeat)
    return rows


def bench_bodies(provider: str, adapter: Any, repeat: int) -> list[tuple[str, float]]:
    """``decode_task`` over the 3,000 bodies bench_throughput.py fetches (the same
    sandbox seed), with the garbage collector off: the steadiest figure for comparing two
    versions of the decode path (``--decode-only``). Three versions alternate in each
    repeat: ``decode_task`` (msgspec mirror, ``detail`` pending), the same then reading
    ``detail`` (the lazy build), and ``decode_checked`` (the converters alone, the path
    before msgspec, now the fallback)."""
    state = SandboxState(seed=1, any_id=True)
    ids = ids_for(provider, 0, 3000)
    served = [state.lookup(provider, i) for i in ids]
    bodies = [(i, f.body) for i, f in zip(ids, served, strict=True) if f is not None]
    decode, checked = adapter.decode_task, adapter.decode_checked
    versions: dict[str, Callable[[], object]] = {
        "decode_task (msgspec, detail pending)": lambda: [decode(b, i) for i, b in bodies],
        "decode_task, then read detail": lambda: [decode(b, i).detail for i, b in bodies],
        "decode_checked (converters alone: the fallback)": lambda: [
            checked(b, i) for i, b in bodies
        ],
    }
    best = dict.fromkeys(versions, float("inf"))
    gc.disable()
    try:
        for _ in range(repeat):
            for name, fn in versions.items():
                best[name] = min(best[name], per_call_us(fn, 1, 3000))
    finally:
        gc.enable()
    return [(f"{name}, bench's 3,000 bodies, gc off", us) for name, us in best.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timeit repeats (default 5)")
    parser.add_argument("--providers", default="cakewalk,alumio", help="comma list")
    parser.add_argument("--decode-only", action="store_true", help="only the last row")
    args = parser.parse_args()
    _common.print_machine("overhead")
    for provider in args.providers.split(","):
        if args.decode_only:
            config = CakewalkConfig("k", "s") if provider == "cakewalk" else None
            adapter = (config or AlumioConfig("http://127.0.0.1", "t")).adapter()
            rows = bench_bodies(provider, adapter, args.repeat)
        else:
            rows = layers(provider.strip(), args.repeat)
        print(f"\n### {provider}: CPU us per request, best of {args.repeat}")
        _common.print_table(["layer", "us/request"], [[k, v] for k, v in rows])


if __name__ == "__main__":
    main()
