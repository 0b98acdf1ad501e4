"""taskbridge: one async client for Cakewalk and Alumio tasks.

```python
from taskbridge import TaskBridge

async with TaskBridge.from_env() as bridge:
    task = await bridge.get("alumio", "order-export-42")
    results = await bridge.get_many([("cakewalk", id1), ("alumio", id2)])
```
"""

import importlib as _importlib
import typing as _typing

from ._version import __version__

if _typing.TYPE_CHECKING:
    from ._base.config import RetryPolicy
    from ._base.errors import (
        APIError,
        AuthenticationError,
        BatchTimeoutError,
        BridgeClosedError,
        ConfigurationError,
        DecodeError,
        InvalidTaskIdError,
        ProviderError,
        QueueTimeoutError,
        RateLimitedError,
        RequestTimeoutError,
        ServerError,
        TaskBridgeError,
        TaskNotFoundError,
        TransportError,
        WaitTimeoutError,
    )
    from ._base.limits import Limits
    from ._base.models import (
        Provider,
        TaskFailure,
        TaskRef,
        TaskResult,
        TaskStatus,
        TaskSuccess,
        UnifiedTask,
    )
    from ._engine.hooks import (
        CallScope,
        EventHooks,
        PauseEvent,
        QueueWaitEvent,
        RequestEvent,
        ResponseEvent,
        RetryEvent,
    )
    from ._engine.retry import default_retry_on
    from ._engine.stats import BridgeStats, ProviderStats
    from ._facade.bridge import TaskBridge
    from ._facade.hookup import TaskResponse
    from ._facade.sync import SyncTaskBridge
    from ._facade.watch import TaskUpdate
    from .providers.alumio import AlumioConfig, AlumioTask
    from .providers.cakewalk import CakewalkConfig, CakewalkTask

__all__ = [
    "APIError",
    "AlumioConfig",
    "AlumioTask",
    "AuthenticationError",
    "BatchTimeoutError",
    "BridgeClosedError",
    "BridgeStats",
    "CakewalkConfig",
    "CakewalkTask",
    "CallScope",
    "ConfigurationError",
    "DecodeError",
    "EventHooks",
    "InvalidTaskIdError",
    "Limits",
    "PauseEvent",
    "Provider",
    "ProviderError",
    "ProviderStats",
    "QueueTimeoutError",
    "QueueWaitEvent",
    "RateLimitedError",
    "RequestEvent",
    "RequestTimeoutError",
    "ResponseEvent",
    "RetryEvent",
    "RetryPolicy",
    "ServerError",
    "SyncTaskBridge",
    "TaskBridge",
    "TaskBridgeError",
    "TaskFailure",
    "TaskNotFoundError",
    "TaskRef",
    "TaskResponse",
    "TaskResult",
    "TaskStatus",
    "TaskSuccess",
    "TaskUpdate",
    "TransportError",
    "UnifiedTask",
    "WaitTimeoutError",
    "__version__",
    "default_retry_on",
]


# Each public name and the module that defines it (relative to this package). Nothing
# is imported until a name is first used: `import taskbridge` costs next to nothing,
# and a program (or a CLI's --help) pays only for the parts it touches.
_SOURCES: dict[str, str] = {
    "APIError": "._base.errors",
    "AlumioConfig": ".providers.alumio",
    "AlumioTask": ".providers.alumio",
    "AuthenticationError": "._base.errors",
    "BatchTimeoutError": "._base.errors",
    "BridgeClosedError": "._base.errors",
    "BridgeStats": "._engine.stats",
    "CakewalkConfig": ".providers.cakewalk",
    "CakewalkTask": ".providers.cakewalk",
    "CallScope": "._engine.hooks",
    "ConfigurationError": "._base.errors",
    "DecodeError": "._base.errors",
    "EventHooks": "._engine.hooks",
    "InvalidTaskIdError": "._base.errors",
    "Limits": "._base.limits",
    "PauseEvent": "._engine.hooks",
    "Provider": "._base.models",
    "ProviderError": "._base.errors",
    "ProviderStats": "._engine.stats",
    "QueueTimeoutError": "._base.errors",
    "QueueWaitEvent": "._engine.hooks",
    "RateLimitedError": "._base.errors",
    "RequestEvent": "._engine.hooks",
    "RequestTimeoutError": "._base.errors",
    "ResponseEvent": "._engine.hooks",
    "RetryEvent": "._engine.hooks",
    "RetryPolicy": "._base.config",
    "ServerError": "._base.errors",
    "SyncTaskBridge": "._facade.sync",
    "TaskBridge": "._facade.bridge",
    "TaskBridgeError": "._base.errors",
    "TaskFailure": "._base.models",
    "TaskNotFoundError": "._base.errors",
    "TaskRef": "._base.models",
    "TaskResponse": "._facade.hookup",
    "TaskResult": "._base.models",
    "TaskStatus": "._base.models",
    "TaskSuccess": "._base.models",
    "TaskUpdate": "._facade.watch",
    "TransportError": "._base.errors",
    "UnifiedTask": "._base.models",
    "WaitTimeoutError": "._base.errors",
    "default_retry_on": "._engine.retry",
}


if not _typing.TYPE_CHECKING:  # type checkers see the imports above, and no __getattr__

    def __getattr__(name: str) -> object:
        """Import a public name on first use (PEP 562), then keep it in the module."""
        source = _SOURCES.get(name)
        if source is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(_importlib.import_module(source, __name__), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
