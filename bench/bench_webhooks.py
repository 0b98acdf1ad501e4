"""Webhooks: RSA-2048 verifications per second, and detection delay with events vs without.

1. ``verify``: one signed ``action_task.actionable`` body, verified in a loop, side by
   side in one process (contenders alternate round by round):

   - ``crypto``: `cryptography`'s own ``public_key.verify`` (the floor);
   - ``signature``: ``CakewalkWebhooks.verify_signature`` (header lookup, base64, verify);
   - ``verify``: ``CakewalkWebhooks.verify`` (plus parsing into typed events);
   - ``asgi``: the ASGI receiver called directly (body read, verify, callback, 204).

   Reported: verifications/s (median of the rounds) and each one's time as a ratio over
   the floor.

2. ``delay``: N seeded Cakewalk tasks in an in-process sandbox whose lifecycle moves each
   to ``InProgress`` (the actionable stage) after ``step`` s give or take half; a watch
   follows them all until ``InProgress``, with the same rate budget and poll intervals,
   once without events and once with the sandbox POSTing its signed webhooks to an
   aiohttp receiver whose ``CakewalkWebhooks`` is the watch's ``events=``. Reported: the
   detection delay (stage reached in the sandbox -> update yielded) mean / p50 / p95 /
   max, and the polls made. When the polls wanted exceed the budget (``--tasks 30``: 15/s
   wanted for 10/s), an event's poll still waits for the polls already queued for a
   rate token (up to half ``max_concurrency`` of them), though it goes before every
   overdue one.

Run from the repo root::

    .venv/bin/python bench/bench_webhooks.py
    .venv/bin/python bench/bench_webhooks.py --only verify --n 2000 --rounds 7
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import _common
import orjson
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from taskbridge import TaskBridge
from taskbridge.sandbox import Lifecycle, Sandbox
from taskbridge.webhooks import CakewalkWebhooks, WebhookEvent, aiohttp_handler, asgi_app

TASK_ID = "7ac60a4b-4b4d-4fc1-988c-f95254591f06"


def bench_verify(n: int, rounds: int) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body = orjson.dumps(
        {
            "eventType": "action_task.actionable",
            "data": {
                "taskId": TASK_ID,
                "assignedTo": [],
                "requestMetadata": {
                    "reviewedBy": [{"id": "c1", "email": "r@example.com", "fullName": "R"}],
                    "requestType": "GrantAccessRequest",
                    "targetWorkApp": {"id": "b9", "name": "Google Workspace"},
                },
            },
        }
    )
    signature = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    headers = {"X-SIGNATURE": base64.b64encode(signature).decode()}
    hooks = CakewalkWebhooks(public_key=pem)
    received = 0

    def on_events(events: list[WebhookEvent]) -> None:
        nonlocal received
        received += len(events)

    app = asgi_app(hooks, on_events)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"x-signature", headers["X-SIGNATURE"].encode())],
    }
    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    async def send(_: MutableMapping[str, Any]) -> None:
        return None

    async def crypto() -> None:
        for _ in range(n):
            public.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())

    async def signature_only() -> None:
        for _ in range(n):
            await hooks.verify_signature(body, headers)

    async def verify() -> None:
        for _ in range(n):
            await hooks.verify(body, headers)

    async def asgi() -> None:
        for _ in range(n):
            await app(scope, receive, send)

    contenders: dict[str, Callable[[], Any]] = {
        "crypto": crypto,
        "signature": signature_only,
        "verify": verify,
        "asgi": asgi,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}

    async def main() -> None:
        for _, order in _common.alternate(list(contenders), rounds):
            for name in order:
                start = time.perf_counter()
                await contenders[name]()
                times[name].append(time.perf_counter() - start)

    asyncio.run(main())
    assert received == n * rounds
    floor = statistics.median(times["crypto"])
    rows = []
    for name, spent in times.items():
        median = statistics.median(spent)
        rows.append((name, n / median, median / n * 1e6, median / floor))
    print(f"### RSA-2048 PKCS#1 v1.5 SHA-256, {n} verifications x {rounds} rounds")
    _common.print_table(["contender", "verifications/s", "us each", "time / crypto"], rows)
    print()


async def watch_once(  # noqa: PLR0917 - the scenario's parameters
    n: int, step: float, rpm: int, poll: float, max_poll: float, events: bool
) -> tuple[list[float], int]:
    async with Sandbox(seed=7, tasks_per_provider=n, lifecycle=Lifecycle(step=step)) as sb:
        hooks = CakewalkWebhooks(public_key=sb.webhook_public_key())
        runner: web.AppRunner | None = None
        if events:
            app = web.Application()
            app.router.add_post("/hooks", aiohttp_handler(hooks, lambda _: None))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            sb.send_webhooks_to(f"http://127.0.0.1:{runner.addresses[0][1]}/hooks")
        config = sb.cakewalk_config(
            requests_per_minute=rpm, poll_interval=poll, max_poll_interval=max_poll
        )
        delays: list[float] = []
        before = sb.stats.cakewalk.requests
        try:
            async with TaskBridge(cakewalk=config) as bridge:
                watch = bridge.watch(
                    [("cakewalk", t) for t in sb.cakewalk_ids],
                    until=lambda task: task.provider_status != "Pending",
                    events=hooks if events else None,
                )
                async with watch:
                    async for update in watch:
                        if update.task is None or update.task.provider_status == "Pending":
                            continue
                        seen = time.monotonic()
                        clock = sb.state.lifecycle_clock
                        at = sb.schedule("cakewalk", update.ref.task_id)[1][0]
                        delays.append(seen - clock.clock_time(at))
        finally:
            if runner is not None:
                await runner.cleanup()
        return delays, sb.stats.cakewalk.requests - before


def bench_delay(n: int, step: float, rpm: int, poll: float, max_poll: float) -> None:
    rows = []
    for events in (False, True):
        delays, polls = asyncio.run(watch_once(n, step, rpm, poll, max_poll, events))
        delays.sort()
        rows.append(
            (
                "with events" if events else "polling only",
                len(delays),
                statistics.mean(delays),
                delays[len(delays) // 2],
                delays[int(0.95 * (len(delays) - 1))],
                delays[-1],
                polls,
            )
        )
    print(
        f"### Detection delay (s): {n} tasks reaching InProgress after {step} s +- 50 %, "
        f"{rpm} requests/min, poll_interval {poll} s (up to {max_poll} s)"
    )
    _common.print_table(["", "tasks", "mean", "p50", "p95", "max", "polls"], rows)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", default="verify,delay")
    parser.add_argument("--n", type=int, default=3000, help="verifications per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--step", type=float, default=4.0)
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--poll", type=float, default=2.0)
    parser.add_argument("--max-poll", type=float, default=10.0)
    args = parser.parse_args()
    only = set(args.only.split(","))
    _common.print_machine("bench_webhooks")
    if "verify" in only:
        bench_verify(args.n, args.rounds)
    if "delay" in only:
        bench_delay(args.tasks, args.step, args.rpm, args.poll, args.max_poll)


if __name__ == "__main__":
    main()
