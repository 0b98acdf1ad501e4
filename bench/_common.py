"""Helpers shared by the benchmarks: the sandbox subprocess, rounds, medians, machine info.

Not a benchmark itself; the ``bench_*.py`` scripts import it (run them from the repo root).
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import re
import selectors
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from importlib import metadata
from typing import TypeVar

__all__ = [
    "API_KEY",
    "API_SECRET",
    "TOKEN",
    "alternate",
    "as_generator",
    "cakewalk_id",
    "machine_info",
    "median",
    "print_machine",
    "print_table",
    "ratio",
    "sandbox",
]

API_KEY = "sandbox-key"
API_SECRET = "sandbox-secret"
TOKEN = "sandbox-token"

_READY = re.compile(r"taskbridge sandbox listening on (http://\S+)")
T = TypeVar("T")


@contextlib.contextmanager
def sandbox(*extra: str, seed: int = 1, timeout: float = 30.0) -> Iterator[str]:
    """Run ``python -m taskbridge.sandbox --any-id`` in a separate process; yield its URL.

    The server is stopped with SIGTERM (then SIGKILL after 5 s) when the block ends.
    """
    cmd = [
        sys.executable,
        "-m",
        "taskbridge.sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--seed",
        str(seed),
        "--any-id",
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        yield _wait_ready(proc, timeout)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _wait_ready(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not sel.select(left):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            match = _READY.search(line)
            if match:
                return match.group(1)
    raise RuntimeError(f"sandbox did not announce its URL within {timeout}s (rc={proc.poll()})")


def as_generator(stream: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """``TaskBridge.stream`` is an async generator typed as an ``AsyncIterator``; this
    narrows it so that ``contextlib.aclosing`` type-checks."""
    assert isinstance(stream, AsyncGenerator)
    return stream


def cakewalk_id(n: int) -> str:
    """A distinct canonical UUID (version 4 layout) for each ``n``; cheap and deterministic."""
    # The last 12 digits are n itself (distinct); the rest is a hash of n, for variety.
    h = f"{(n * 0x9E3779B97F4A7C15) & ((1 << 80) - 1):020x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{n & ((1 << 48) - 1):012x}"


def alternate(names: Sequence[T], rounds: int) -> Iterator[tuple[int, list[T]]]:
    """Yield ``(round, order)``: the contenders rotated by one each round (and reversed on
    odd rounds), so none always runs first, right after another, or on a warm cache."""
    items = list(names)
    for r in range(rounds):
        k = r % len(items)
        order = items[k:] + items[:k]
        if r % 2:
            order.reverse()
        yield r, order


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a GitHub-flavoured markdown table (pasteable into BENCHMARKS.md)."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_info() -> dict[str, str]:
    """CPU model, cores, load, Python and the versions of the libraries compared."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    info = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "load avg (1/5/15 min)": load,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }
    for dist in (
        "aiotaskbridge",
        "aiohttp",
        "orjson",
        "cattrs",
        "attrs",
        "httpx",
        "pydantic",
        "msgspec",
    ):
        info[dist] = _version(dist)
    return info


def print_machine(title: str) -> None:
    print(f"## {title}")
    print(", ".join(f"{k}: {v}" for k, v in machine_info().items()))
    print()
