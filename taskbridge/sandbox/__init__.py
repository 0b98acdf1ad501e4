"""A local emulator of every registered provider's task endpoint, for demos, tests and benchmarks.

It writes the providers' wire JSON itself (it never imports the client), so it is
an independent check of the client. Seeded data is deterministic; faults are
reproducible per id under their seed.

Example:
    ```python
    from taskbridge.sandbox import Faults, Sandbox

    async with Sandbox(seed=1, faults={"alumio": Faults(error_rate=0.1)}) as sb:
        config = sb.cakewalk_config(requests_per_minute=None)
        ...
        assert sb.stats.cakewalk.requests > 0
    ```

Run one from a shell with ``python -m taskbridge.sandbox --port 8080 --seed 1``.
"""

from __future__ import annotations

from typing import Any as _Any

from taskbridge.providers._kit.emulation import (
    Credentials,
    Emulator,
    EmulatorBase,
    Served,
    equal,
    task_rng,
)

from ._app import STATE_KEY, create_app
from ._emulator import STAGES as LIFECYCLE_STAGES
from ._faults import Faults
from ._lifecycle import Lifecycle
from ._server import Sandbox, serve
from ._state import SandboxState
from ._stats import ProviderStats, SandboxStats
from ._thread import BackgroundSandbox
from ._webhooks import WebhookFaults

__all__ = [
    "ALUMIO_STATUSES",
    "ALUMIO_UNUSUAL_IDS",
    "CAKEWALK_REASONS",
    "CAKEWALK_STATUSES",
    "CAKEWALK_TYPES",
    "LIFECYCLE_STAGES",
    "STATE_KEY",
    "BackgroundSandbox",
    "Credentials",
    "Emulator",
    "EmulatorBase",
    "Faults",
    "Lifecycle",
    "ProviderStats",
    "Sandbox",
    "SandboxState",
    "SandboxStats",
    "Served",
    "WebhookFaults",
    "create_app",
    "equal",
    "serve",
    "task_rng",
]

# The built-in providers' wire values live with their emulators; read them on first use,
# so that importing the sandbox imports no provider.
_PROVIDER_DATA = {
    "ALUMIO_STATUSES": "taskbridge.providers.alumio._sandbox_data",
    "ALUMIO_UNUSUAL_IDS": "taskbridge.providers.alumio._sandbox_data",
    "CAKEWALK_REASONS": "taskbridge.providers.cakewalk._sandbox_data",
    "CAKEWALK_STATUSES": "taskbridge.providers.cakewalk._sandbox_data",
    "CAKEWALK_TYPES": "taskbridge.providers.cakewalk._sandbox_data",
}


def __getattr__(name: str) -> _Any:
    provider = _PROVIDER_DATA.get(name)
    if provider is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    data = importlib.import_module(provider)
    return getattr(data, name)
