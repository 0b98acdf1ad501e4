"""The sandbox as a running server: ``Sandbox`` for tests, ``serve()`` for the command line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._app import create_app
from ._faults import Faults
from ._lifecycle import Lifecycle
from ._state import Credentials, SandboxState
from ._stats import SandboxStats

if TYPE_CHECKING:
    from taskbridge.providers import ProviderConfig
    from taskbridge.providers.alumio._config import AlumioConfig
    from taskbridge.providers.cakewalk._config import CakewalkConfig

__all__ = ["Sandbox", "serve"]


class Sandbox:
    """A local emulator of every registered provider's task endpoint on a loopback port.

    Each provider with an emulator (see `ProviderSpec.emulator`) is served: the two
    built in and any plug-in's.

    Args:
        seed: decides the seeded tasks (same seed, same ids and bodies).
        tasks_per_provider: seeded tasks per provider (50 or more covers every enum
            value and nullable field).
        faults: one ``Faults`` for both providers or ``{"cakewalk": ..., "alumio": ...}``.
        any_id: also answer ids outside the seeded set, generated from the id.
        host: the interface to listen on.
        port: the port; 0 picks a free one (read it back from ``url`` or ``port``).
        credentials: what the sandbox accepts; default ``Credentials()``.
        track_requests: record each id and arrival time in ``stats``.
        lifecycle: make tasks advance through their statuses (see `Lifecycle`).
        clock: the monotonic clock of the rate limit and the lifecycle (injectable
            for tests).

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
        tasks_per_provider: int = 50,
        faults: Faults | Mapping[str, Faults] | None = None,
        any_id: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: Credentials | None = None,
        track_requests: bool = True,
        lifecycle: Lifecycle | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = SandboxState(
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

    @property
    def credentials(self) -> Credentials:
        """The credentials the sandbox accepts."""
        return self.state.credentials

    @property
    def cakewalk_ids(self) -> tuple[str, ...]:
        """The seeded Cakewalk task ids (lowercase UUIDs)."""
        return self.state.cakewalk_ids

    @property
    def alumio_ids(self) -> tuple[str, ...]:
        """The seeded Alumio identifiers, some with ``/``, spaces, unicode, ``?``, ``#``."""
        return self.state.alumio_ids

    @property
    def providers(self) -> tuple[str, ...]:
        """The names of the providers served, built-ins first."""
        return self.state.providers

    @property
    def stats(self) -> SandboxStats:
        """What the sandbox has received so far."""
        return self.state.stats

    def ids(self, provider: str) -> tuple[str, ...]:
        """Return the seeded ids of a served provider."""
        return self.state.ids(provider)

    def space_of(self, identifier: str) -> str:
        """Return the space of a seeded Alumio task (``"default"`` or ``"staging"``)."""
        from taskbridge import Provider

        served = self.state.lookup(Provider.ALUMIO.value, identifier)
        if served is None or not served.space:
            raise KeyError(identifier)
        return served.space

    def expected(self, provider: str, task_id: str) -> dict[str, Any]:
        """Return the exact ``data``/``object`` dict served for an id; ``KeyError`` if none."""
        return self.state.expected(provider, task_id)

    def advance(self, seconds: float) -> None:
        """Move the lifecycle ``seconds`` ahead at once (needs ``lifecycle=``)."""
        self.state.advance(seconds)

    def schedule(self, provider: str, task_id: str) -> tuple[tuple[float, str], ...]:
        """Return ``(lifecycle time, status)`` of each stage of a task (needs ``lifecycle=``).

        ``sb.state.lifecycle_clock.clock_time(at)`` turns a stage's time into a reading
        of the sandbox's clock.
        """
        return self.state.schedule(provider, task_id)

    def reset_stats(self) -> None:
        """Forget the requests counted so far."""
        self.state.reset_stats()

    def faults(self, provider: str) -> Faults:
        """Return the faults now applied to a provider."""
        return self.state.faults(provider)

    def set_faults(self, provider: str, faults: Faults | None) -> None:
        """Change a provider's faults at once (``None`` turns them off)."""
        self.state.set_faults(provider, faults)

    def answer(
        self,
        provider: str,
        task_id: str,
        status: int,
        *,
        times: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Script an id's answers: ``status`` for its next ``times`` requests (all if None).

        A 2xx status answers the task as usual; scripts of one id run in the order added.

        Example:
            ```python
            sb.answer("cakewalk", task_id, 404)  # this id answers 404
            sb.answer("alumio", "order-7", 503, times=2)  # fails twice, then succeeds
            sb.answer("alumio", "order-8", 429, times=1, retry_after=2)
            ```
        """
        self.state.answer(provider, task_id, status, times=times, retry_after=retry_after)

    def clear_answers(self, provider: str | None = None, task_id: str | None = None) -> None:
        """Forget scripted answers (of one id, one provider, or all)."""
        self.state.clear_answers(provider, task_id)

    def add_task(
        self, provider: str, task_id: str | None = None, *, status: str | None = None, **fields: Any
    ) -> str:
        """Serve one more task and return its id.

        ``status`` is the provider's own value and ``fields`` use wire names.

        Example:
            ```python
            task_id = sb.add_task("alumio", "order-9", status="failed", entityType="order")
            ```
        """
        return self.state.add_task(provider, task_id, status=status, **fields)

    def env(self) -> dict[str, str]:
        """Return the ``TASKBRIDGE_*`` variables that point `TaskBridge.from_env` here.

        Its credentials are fake; client-side rate limits stay the defaults.
        """
        state = self.state
        env: dict[str, str] = {}
        for name, emulator in state.emulators.items():
            env.update(emulator.env(self.url, state.credentials_of(name)))
        return env

    def config(self, provider: object, **overrides: Any) -> ProviderConfig:
        """Return a client config of ``provider`` for this sandbox; keywords override
        its defaults."""
        state = self.state
        name = state.name(provider)
        return state.emulators[name].config(self.url, state.credentials_of(name), **overrides)

    def configs(self, **overrides: Any) -> list[ProviderConfig]:
        """Return a config of every served provider, for ``TaskBridge(providers=...)``."""
        return [self.config(name, **overrides) for name in self.providers]

    def cakewalk_config(self, **overrides: Any) -> CakewalkConfig:
        """Return a ``CakewalkConfig`` for this sandbox; keywords override its defaults."""
        from taskbridge import Provider

        config: CakewalkConfig = self.config(Provider.CAKEWALK, **overrides)  # type: ignore[assignment]
        return config

    def alumio_config(self, **overrides: Any) -> AlumioConfig:
        """Return an ``AlumioConfig`` for this sandbox; keywords override its defaults."""
        from taskbridge import Provider

        config: AlumioConfig = self.config(Provider.ALUMIO, **overrides)  # type: ignore[assignment]
        return config


def _announce(sandbox: Sandbox) -> None:
    print(f"taskbridge sandbox listening on {sandbox.url}", flush=True)


async def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    seed: int = 0,
    *,
    tasks_per_provider: int = 50,
    faults: Faults | Mapping[str, Faults] | None = None,
    any_id: bool = False,
    credentials: Credentials | None = None,
    track_requests: bool = False,
    ready: Callable[[Sandbox], object] | None = None,
    lifecycle: Lifecycle | None = None,
) -> None:
    """Serve the sandbox until cancelled, then shut it down cleanly.

    ``ready`` is called with the started ``Sandbox``; by default it prints
    ``taskbridge sandbox listening on http://HOST:PORT`` to stdout, flushed.
    Requests are only counted (``track_requests=False``), so memory stays flat
    over millions of requests; ``GET /_sandbox/stats`` reads the counters. With a
    ``lifecycle``, tasks advance through their statuses (see `Lifecycle`).
    """
    sandbox = Sandbox(
        seed=seed,
        tasks_per_provider=tasks_per_provider,
        faults=faults,
        any_id=any_id,
        host=host,
        port=port,
        credentials=credentials,
        track_requests=track_requests,
        lifecycle=lifecycle,
    )
    async with sandbox:
        (ready or _announce)(sandbox)
        await asyncio.get_running_loop().create_future()
