"""The sandbox as a running server: ``Sandbox`` for tests, ``serve()`` for the command line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from taskbridge.providers._kit.emulation import Credentials

from ._app import create_app
from ._faults import Faults
from ._lifecycle import Lifecycle
from ._state import SandboxState
from ._surface import SandboxSurface

__all__ = ["Sandbox", "serve"]


class Sandbox(SandboxSurface):
    """A local emulator of every registered provider's task endpoint on a loopback port.

    Each provider with an emulator (see `ProviderSpec.emulator`) is served: the two
    built in and any plug-in's. Its methods (`answer`, `set_faults`, `add_task`,
    `config`, ...) are the same on `BackgroundSandbox`.

    Args:
        seed: decides the seeded tasks (same seed, same ids and bodies).
        host: the interface to listen on.
        port: the port; 0 picks a free one (read it back from ``url`` or ``port``).
        tasks_per_provider: seeded tasks per provider (50 or more covers every enum
            value and nullable field).
        faults: one ``Faults`` for every provider or ``{"cakewalk": ..., "alumio": ...}``.
        any_id: also answer ids outside the seeded set, generated from the id.
        credentials: what the sandbox accepts; default ``Credentials()``.
        track_requests: record each id and arrival time in ``stats``.
        lifecycle: make tasks advance through their statuses (see `Lifecycle`).
        clock: the monotonic clock of the rate limit and the lifecycle (injectable
            for tests).
        webhook_url: POST signed Cakewalk webhooks there (``action_task.actionable``
            as each task of the lifecycle reaches ``InProgress``); see
            `send_webhooks_to`. Needs the ``webhooks`` extra.

    Example:
        ```python
        async with Sandbox(seed=1) as sb:
            async with TaskBridge(cakewalk=sb.cakewalk_config()) as bridge:
                task = await bridge.get("cakewalk", sb.cakewalk_ids[0])
            assert sb.stats.cakewalk.requests == 1
        ```
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        tasks_per_provider: int = 50,
        faults: Faults | Mapping[str, Faults] | None = None,
        any_id: bool = False,
        credentials: Credentials | None = None,
        track_requests: bool = True,
        lifecycle: Lifecycle | None = None,
        clock: Callable[[], float] = time.monotonic,
        webhook_url: str | None = None,
    ) -> None:
        self.state = SandboxState(
            webhook_url=webhook_url,
            seed=seed,
            tasks_per_provider=tasks_per_provider,
            faults=faults,
            any_id=any_id,
            credentials=credentials,
            track_requests=track_requests,
            lifecycle=lifecycle,
            clock=clock,
        )
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"<Sandbox seed={self.state.seed} {where}>"

    async def start(self) -> Sandbox:
        """Start listening; prefer ``async with``."""
        if self._runner is not None:
            raise RuntimeError("the sandbox is already started")
        # No access log: it would cost more than the answer itself in benchmarks.
        runner = web.AppRunner(
            create_app(self.state), handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port, backlog=1024)
            await site.start()
            self._port = int(runner.addresses[0][1])
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        return self

    async def aclose(self) -> None:
        """Stop listening and end every pending answer; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            self.state.wake_all()
            # Let connections accepted a moment ago finish their set-up first: on Python
            # 3.13 one still being set up when the server closes is never closed (an
            # unraisable ResourceWarning, a failure under ``filterwarnings = error``).
            for _ in range(3):
                await asyncio.sleep(0)
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def port(self) -> int:
        """The port listened on; ``RuntimeError`` before ``start``."""
        if self._port is None:
            raise RuntimeError("the sandbox is not started")
        return self._port

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT``, for both providers."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def _announce(sandbox: Sandbox) -> None:
    print(f"taskbridge sandbox listening on {sandbox.url}", flush=True)


async def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    seed: int = 0,
    *,
    track_requests: bool = False,
    ready: Callable[[Sandbox], object] | None = None,
    **options: Any,
) -> None:
    """Serve the sandbox until cancelled, then shut it down cleanly.

    ``options`` are `Sandbox`'s other keyword arguments (``faults``, ``any_id``,
    ``credentials``, ``lifecycle``...). ``ready`` is called with the started
    ``Sandbox``; by default it prints ``taskbridge sandbox listening on
    http://HOST:PORT`` to stdout, flushed. Requests are only counted
    (``track_requests=False``), so memory stays flat over millions of requests;
    ``GET /_sandbox/stats`` reads the counters.
    """
    sandbox = Sandbox(host=host, port=port, seed=seed, track_requests=track_requests, **options)
    async with sandbox:
        (ready or _announce)(sandbox)
        await asyncio.get_running_loop().create_future()
