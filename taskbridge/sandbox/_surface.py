"""What a sandbox offers its user, written once for `Sandbox` and `BackgroundSandbox`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from ._faults import Faults
from ._state import SandboxState
from ._stats import SandboxStats
from ._webhooks import WebhookFaults

if TYPE_CHECKING:
    from taskbridge.providers import ProviderConfig
    from taskbridge.providers._kit.emulation import Credentials
    from taskbridge.providers.alumio._config import AlumioConfig
    from taskbridge.providers.cakewalk._config import CakewalkConfig

__all__ = ["SandboxSurface"]

P = ParamSpec("P")
T = TypeVar("T")


class SandboxSurface:
    """The public methods of a sandbox, on its ``state`` and ``url``.

    Where a call runs is `_on_loop`'s choice: `Sandbox` runs it at once (its caller is
    on the loop that serves); `BackgroundSandbox` hands it to its serving thread's
    loop, so that changes are safe while it serves.
    """

    state: SandboxState

    @property
    def url(self) -> str:
        raise NotImplementedError

    def _on_loop(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` where the sandbox's state may change: here, at once."""
        return fn(*args, **kwargs)

    @property
    def credentials(self) -> Credentials:
        """The credentials the sandbox accepts."""
        return self.state.credentials

    @property
    def providers(self) -> tuple[str, ...]:
        """The names of the providers served, built-ins first."""
        return self.state.providers

    @property
    def stats(self) -> SandboxStats:
        """What the sandbox has received so far (read as it is, from any thread)."""
        return self.state.stats

    @property
    def cakewalk_ids(self) -> tuple[str, ...]:
        """The seeded Cakewalk task ids (lowercase UUIDs); ``ids("cakewalk")``."""
        return self.ids("cakewalk")

    @property
    def alumio_ids(self) -> tuple[str, ...]:
        """The seeded Alumio identifiers, some with ``/``, spaces, unicode, ``?``, ``#``;
        ``ids("alumio")``."""
        return self.ids("alumio")

    def ids(self, provider: str) -> tuple[str, ...]:
        """Return the seeded ids of a served provider, in seeded order."""
        return self.state.ids(provider)

    def space_of(self, identifier: str) -> str:
        """Return the space of a seeded Alumio task (``"default"`` or ``"staging"``)."""
        served = self._on_loop(self.state.lookup, "alumio", identifier)
        if served is None or not served.space:
            raise KeyError(identifier)
        return served.space

    def expected(self, provider: str, task_id: str) -> dict[str, Any]:
        """Return the exact ``data``/``object`` dict served for an id; ``KeyError`` if none."""
        return self._on_loop(self.state.expected, provider, task_id)

    def advance(self, seconds: float) -> None:
        """Move the lifecycle ``seconds`` ahead at once (needs ``lifecycle=``)."""
        self._on_loop(self.state.advance, seconds)

    def schedule(self, provider: str, task_id: str) -> tuple[tuple[float, str], ...]:
        """Return ``(lifecycle time, status)`` of each stage of a task (needs ``lifecycle=``).

        ``sb.state.lifecycle_clock.clock_time(at)`` turns a stage's time into a reading
        of the sandbox's clock.
        """
        return self._on_loop(self.state.schedule, provider, task_id)

    def reset_stats(self) -> None:
        """Forget the requests counted so far; requests in flight stay counted as such."""
        self._on_loop(self.state.stats.reset)

    def faults(self, provider: str) -> Faults:
        """Return the faults now applied to a provider."""
        return self._on_loop(self.state.faults, provider)

    def set_faults(self, provider: str, faults: Faults | None) -> None:
        """Change a provider's faults at once (``None`` turns them off); draws start afresh."""
        self._on_loop(self.state.set_faults, provider, faults)

    def answer(
        self,
        provider: str,
        task_id: str,
        status: int,
        *,
        times: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Script an id's answers: ``status`` for its next ``times`` requests (all if None),
        then whatever comes next (another script, or the normal answer).

        A 2xx status answers the task as usual; scripts of one id run in the order added.

        Example:
            ```python
            sb.answer("cakewalk", task_id, 404)  # this id answers 404
            sb.answer("alumio", "order-7", 503, times=2)  # fails twice, then succeeds
            sb.answer("alumio", "order-8", 429, times=1, retry_after=2)
            ```
        """
        state = self.state
        name, key = state.key(provider, task_id)
        detail = "Scripted failure." if status != 404 else state.emulators[name].not_found(task_id)
        add = state.scripts.add
        self._on_loop(add, name, key, status, times=times, retry_after=retry_after, detail=detail)

    def clear_answers(self, provider: str | None = None, task_id: str | None = None) -> None:
        """Forget scripted answers (of one id, one provider, or all)."""
        state = self.state
        if provider is None:
            self._on_loop(state.scripts.clear)
            return
        name = state.name(provider)
        key = None if task_id is None else state.key(name, task_id)[1]
        self._on_loop(state.scripts.clear, name, key)

    def add_task(
        self,
        provider: str,
        task_id: str | None = None,
        *,
        status: str | None = None,
        **fields: Any,
    ) -> str:
        """Serve one more task and return its id (a fresh one if not given).

        The body is a complete generated task; ``status`` (the provider's own value,
        ``"Approved"``, ``"failed"``...) and ``fields`` (wire names, like ``entityType``)
        replace its values. It is not added to ``ids()``.

        Example:
            ```python
            task_id = sb.add_task("alumio", "order-9", status="failed", entityType="order")
            ```
        """
        return self._on_loop(self.state.add_task, provider, task_id, status, fields)

    def env(self) -> dict[str, str]:
        """Return the ``TASKBRIDGE_*`` variables that point `TaskBridge.from_env` here.

        Its credentials are fake; client-side rate limits stay the defaults.
        """
        env: dict[str, str] = {}
        for name, emulator in self.state.emulators.items():
            env.update(emulator.env(self.url, self.state.credentials_of(name)))
        return env

    def config(self, provider: object, **overrides: Any) -> ProviderConfig:
        """Return a client config of ``provider`` for this sandbox; keywords override
        its defaults."""
        state = self.state
        name = state.name(provider)
        config: ProviderConfig = state.emulators[name].config(
            self.url, state.credentials_of(name), **overrides
        )
        return config

    def configs(self, **overrides: Any) -> list[ProviderConfig]:
        """Return a config of every served provider, for ``TaskBridge(providers=...)``."""
        return [self.config(name, **overrides) for name in self.providers]

    # Cakewalk's webhooks (the ``webhooks`` extra).

    def webhook_public_key(self) -> bytes:
        """The PEM public key the sandbox signs webhooks with (also at ``/api/Keys``)."""
        pem: bytes = self._on_loop(self.state.webhooks.public_key_pem)
        return pem

    def sign_webhook(self, body: bytes) -> dict[str, str]:
        """The ``X-SIGNATURE`` header the sandbox would send with ``body``."""
        headers: dict[str, str] = self._on_loop(self.state.webhooks.sign, body)
        return headers

    def send_webhooks_to(self, url: str | None, faults: WebhookFaults | None = None) -> None:
        """POST a signed ``action_task.actionable`` event to ``url`` as each Cakewalk
        task of the lifecycle reaches ``InProgress`` (``None`` stops); ``faults`` send
        bad signatures, duplicates or late events."""
        self._on_loop(self.state.webhooks.configure, url, faults)

    def send_webhook(self, task_id: str) -> None:
        """Send ``task_id``'s ``action_task.actionable`` event now (to the target set)."""
        self._on_loop(self.state.webhooks.send, task_id)

    @property
    def webhook_deliveries(self) -> list[tuple[str, int | None]]:
        """``(task_id, status answered or None)`` of each webhook sent, in order."""
        return list(self.state.webhooks.deliveries)

    def cakewalk_config(self, **overrides: Any) -> CakewalkConfig:
        """Return a ``CakewalkConfig`` for this sandbox; keywords override its defaults."""
        config: CakewalkConfig = self.config("cakewalk", **overrides)  # type: ignore[assignment]
        return config

    def alumio_config(self, **overrides: Any) -> AlumioConfig:
        """Return an ``AlumioConfig`` for this sandbox; keywords override its defaults."""
        config: AlumioConfig = self.config("alumio", **overrides)  # type: ignore[assignment]
        return config
