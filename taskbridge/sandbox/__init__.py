"""A local emulator of the Cakewalk and Alumio task endpoints, for demos, tests and benchmarks.

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

from ._alumio_data import ALUMIO_STATUSES, ALUMIO_UNUSUAL_IDS
from ._app import STATE_KEY, create_app
from ._data import CAKEWALK_REASONS, CAKEWALK_STATUSES, CAKEWALK_TYPES
from ._faults import Faults
from ._lifecycle import STAGES as LIFECYCLE_STAGES
from ._lifecycle import Lifecycle
from ._server import Sandbox, serve
from ._state import Credentials, SandboxState
from ._stats import ProviderStats, SandboxStats
from ._thread import BackgroundSandbox

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
    "Faults",
    "Lifecycle",
    "ProviderStats",
    "Sandbox",
    "SandboxState",
    "SandboxStats",
    "create_app",
    "serve",
]
