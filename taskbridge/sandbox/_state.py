"""The sandbox's data, credentials, faults and counters, shared by its handlers."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import orjson

from taskbridge.providers._kit.emulation import Credentials, Emulator, Served, task_rng

from ._emulator import load_emulators
from ._faults import Decision, Faults, Outcome, SlidingWindow, decide
from ._lifecycle import Lifecycle, LifecycleClock, schedule, status_at
from ._script import ScriptBook, Scripted
from ._stats import SandboxStats

__all__ = ["Credentials", "SandboxState"]

_NO_FAULTS = Faults()
# Stands for the requested id inside an on-demand template, until the id is spliced in.
_ID_MARK = "__taskbridge_sandbox_id__"


class _FaultState:
    __slots__ = ("attempts", "faults", "window")

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.attempts: dict[str, int] = {}
        limit = faults.rate_limit_per_minute
        self.window = SlidingWindow(limit) if limit is not None else None


class SandboxState:
    """Everything the sandbox's handlers share; build one per app.

    Args:
        seed: decides the seeded tasks; the same seed gives the same ids and bodies.
        tasks_per_provider: seeded tasks per provider; 50 or more covers every enum
            value and every nullable field both set and null.
        faults: one ``Faults`` for both providers, or a mapping per provider.
        any_id: also answer ids outside the seeded set (any canonical UUID, any
            non-empty Alumio identifier, in any space) with a task derived from
            ``(seed, provider, id)``.
        credentials: what the sandbox accepts; defaults to the fixed fake ones.
        track_requests: record every id and arrival time in ``stats`` (memory grows
            with requests); counters are kept either way.
        clock: the monotonic clock the rate limit reads.
        templates: distinct on-demand bodies per provider. An on-demand task is one of
            these, picked by its id, with the id spliced in: answering a new id costs
            about as little as a seeded one, and memory stays bounded.
        lifecycle: make every task advance through its statuses on ``clock`` (see
            `Lifecycle`); ``None`` (the default) keeps each status fixed.
        webhook_url: where to POST Cakewalk's signed webhooks (see `Sandbox`).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        tasks_per_provider: int = 50,
        faults: Faults | Mapping[str, Faults] | None = None,
        any_id: bool = False,
        credentials: Credentials | None = None,
        track_requests: bool = True,
        clock: Callable[[], float] = time.monotonic,
        templates: int = 1024,
        lifecycle: Lifecycle | None = None,
        webhook_url: str | None = None,
    ) -> None:
        if tasks_per_provider < 0:
            raise ValueError("tasks_per_provider must be >= 0")
        self.seed = seed
        self.any_id = any_id
        self.credentials = credentials or Credentials()
        self.emulators: dict[str, Emulator] = load_emulators()
        names = tuple(self.emulators)
        self.providers = names
        self.stats = SandboxStats(track=track_requests, providers=names)
        self.clock = clock
        self._ids: dict[str, tuple[str, ...]] = {}
        self._seeded: dict[str, dict[str, Served]] = {}
        for name, emulator in self.emulators.items():
            seeded = emulator.seeded(seed, tasks_per_provider)
            self._ids[name] = tuple(task_id for task_id, _, _ in seeded)
            self._seeded[name] = {i: emulator.serve(t, space) for i, t, space in seeded}
        self._credentials = {
            name: emulator.credentials(self.credentials)
            for name, emulator in self.emulators.items()
        }
        if templates < 1:
            raise ValueError("templates must be >= 1")
        self.templates = templates
        self._templates: dict[str, dict[int, tuple[bytes, ...]]] = {p: {} for p in names}
        self._faults: dict[str, _FaultState] = {p: _FaultState(_NO_FAULTS) for p in names}
        if isinstance(faults, Faults):
            faults = dict.fromkeys(names, faults)
        for name, value in (faults or {}).items():
            self.set_faults(name, value)
        self._sleepers: set[asyncio.Future[None]] = set()
        self.closing = False
        self.lifecycle = lifecycle
        self.lifecycle_clock = LifecycleClock(lifecycle, clock) if lifecycle is not None else None
        # Each seeded task's body per status it has reached: at most three per task.
        self._staged: dict[tuple[str, str, str], Served] = {}
        self.scripts = ScriptBook()
        self._added = 0
        self.webhook_url = webhook_url
        #: The Cakewalk webhook sender (`_webhooks.WebhookSender`), set by `create_app`.
        self.webhooks: Any = None

    def schedule(self, provider: str, task_id: str) -> tuple[tuple[float, str], ...]:
        """Return ``(lifecycle time, status)`` of each stage of a task; needs a lifecycle."""
        if self.lifecycle is None:
            raise RuntimeError("this sandbox has no lifecycle")
        name, key = self.key(provider, task_id)
        return schedule(self.lifecycle, self.seed, name, key, self.emulators[name].stages)

    def advance(self, seconds: float) -> None:
        """Move lifecycle time ``seconds`` ahead at once; needs a lifecycle."""
        if self.lifecycle_clock is None:
            raise RuntimeError("this sandbox has no lifecycle")
        self.lifecycle_clock.advance(seconds)
        if self.webhooks is not None:
            self.webhooks.poke()

    def _staged_answer(self, provider: str, task_id: str, served: Served, seeded: bool) -> Served:
        assert self.lifecycle is not None
        assert self.lifecycle_clock is not None
        emulator = self.emulators[provider]
        stages = schedule(self.lifecycle, self.seed, provider, task_id, emulator.stages)
        status = status_at(stages, self.lifecycle_clock.now())
        key = (provider, task_id, status)
        if seeded and (cached := self._staged.get(key)) is not None:
            return cached
        body = orjson.loads(served.body)
        emulator.task_of(body)["status"] = status
        staged = attrs.evolve(served, body=orjson.dumps(body))
        if seeded:
            self._staged[key] = staged
        return staged

    def name(self, provider: object) -> str:
        """The served provider's name for a name or a str enum; else ``ValueError``."""
        name = str(getattr(provider, "value", provider))
        if name not in self.emulators:
            raise ValueError(f"unknown provider {provider!r}; expected one of {self.providers}")
        return name

    def credentials_of(self, provider: str) -> Mapping[str, str]:
        """The fake credentials a provider's endpoint accepts."""
        return self._credentials[self.name(provider)]

    def key(self, provider: object, task_id: str) -> tuple[str, str]:
        """The served provider's name and the id as it looks it up (as given if unknown)."""
        name = self.name(provider)
        return name, self.emulators[name].key(task_id) or task_id

    def scripted(self, provider: str, task_id: str) -> Scripted | None:
        """Return (and count) the scripted answer for this request, if any."""
        return self.scripts.take(*self.key(provider, task_id))

    def add_task(
        self, provider: object, task_id: str | None, status: str | None, fields: Mapping[str, Any]
    ) -> str:
        """Serve one more task and return its id; see `Sandbox.add_task`."""
        name = self.name(provider)
        emulator = self.emulators[name]
        self._added += 1
        rng = task_rng(self.seed, name, f"added:{self._added}")
        if task_id is None:
            task_id = emulator.new_id(rng, self._added)
        key = emulator.key(task_id)
        if key is None:
            raise ValueError(f"{name} cannot serve a task with the id {task_id!r}")
        task_id = key
        task = emulator.generate(rng, task_id, self._added)
        if status is not None:
            task["status"] = status
        task.update(fields)
        self._seeded[name][task_id] = emulator.serve(task, "")
        return task_id

    def served_ids(self, provider: object) -> tuple[str, ...]:
        """The ids of the seeded and added tasks of a provider."""
        return tuple(self._seeded[self.name(provider)])

    def ids(self, provider: object) -> tuple[str, ...]:
        """Return the seeded ids of a provider, in seeded order."""
        return self._ids[self.name(provider)]

    def lookup(self, provider: str, task_id: str) -> Served | None:
        """Return the 200 answer for an id, or ``None`` if it is not served.

        The provider's emulator decides how ids match (Cakewalk's in any case).
        """
        key = self.emulators[provider].key(task_id)
        if key is None:
            return None
        task_id = key
        served = self._seeded[provider].get(task_id)
        seeded = served is not None
        if served is None and self.any_id:
            served = self._on_demand(provider, task_id)
        if served is not None and self.lifecycle is not None:
            served = self._staged_answer(provider, task_id, served, seeded)
        return served

    def _on_demand(self, provider: str, task_id: str) -> Served:
        # A second CRC start value keeps the template independent of the content type.
        index = zlib.crc32(task_id.encode(errors="replace"), 0x5EED) % self.templates
        parts = self._templates[provider].get(index)
        if parts is None:
            parts = self._templates[provider][index] = self._template(provider, index)
        return self.emulators[provider].fill(parts, task_id)

    def _template(self, provider: str, index: int) -> tuple[bytes, ...]:
        emulator = self.emulators[provider]
        rng = task_rng(self.seed, provider, f"template:{index}")
        body = emulator.serve(emulator.generate(rng, _ID_MARK, index), "").body
        return emulator.split(body, _ID_MARK)

    def expected(self, provider: str, task_id: str) -> dict[str, Any]:
        """Return the wire task served for an id (Cakewalk's ``data``, Alumio's ``object``).

        Raises:
            KeyError: the sandbox does not serve this id.
        """
        name = self.name(provider)
        served = self.lookup(name, task_id)
        if served is None:
            raise KeyError(f"{name} task {task_id!r} is not served by this sandbox")
        return self.emulators[name].task_of(orjson.loads(served.body))

    def faults(self, provider: str) -> Faults:
        """Return the faults now applied to a provider."""
        return self._faults[self.name(provider)].faults

    def set_faults(self, provider: str, faults: Faults | None) -> None:
        """Apply new faults to a provider (``None`` for none); their draws start afresh."""
        self._faults[self.name(provider)] = _FaultState(faults or _NO_FAULTS)

    def draw(self, provider: str, task_id: str) -> tuple[Decision | None, int | None]:
        """Return the fault decision and, if the rate limit is hit, its ``Retry-After``."""
        state = self._faults[provider]
        decision = None
        faults = state.faults
        if faults.random:
            n = state.attempts.get(task_id, 0)
            state.attempts[task_id] = n + 1
            decision = decide(faults, provider, task_id, n)
        elif faults.latency:
            decision = Decision(Outcome.OK, 200, faults.latency)
        if state.window is not None:
            return decision, state.window.admit(self.clock())
        return decision, None

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the sandbox shuts down meanwhile."""
        if seconds <= 0 or self.closing:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        handle = loop.call_later(seconds, _wake, waiter)
        self._sleepers.add(waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._sleepers.discard(waiter)

    def wake_all(self) -> None:
        """End every pending delay, so that shutting down never waits for slow answers."""
        self.closing = True
        for waiter in list(self._sleepers):
            _wake(waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
