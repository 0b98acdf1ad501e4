"""taskbridge: one async client for Cakewalk and Alumio tasks.

```python
from taskbridge import TaskBridge

async with TaskBridge.from_env() as bridge:
    task = await bridge.get("alumio", "order-export-42")
    results = await bridge.get_many([("cakewalk", id1), ("alumio", id2)])
```
"""

# Imported for their registrations: `TaskBridge.with_options`, `UnifiedTask.to_dict`.
from . import _options, _serialize  # noqa: F401
from ._bridge import TaskBridge
from ._config import RetryPolicy
from ._errors import (
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
from ._models import (
    Provider,
    TaskFailure,
    TaskRef,
    TaskResult,
    TaskStatus,
    TaskSuccess,
    UnifiedTask,
)
from ._stats import BridgeStats, ProviderStats
from ._version import __version__
from ._watch import TaskUpdate
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
    "ConfigurationError",
    "DecodeError",
    "InvalidTaskIdError",
    "Provider",
    "ProviderError",
    "ProviderStats",
    "QueueTimeoutError",
    "RateLimitedError",
    "RequestTimeoutError",
    "RetryPolicy",
    "ServerError",
    "TaskBridge",
    "TaskBridgeError",
    "TaskFailure",
    "TaskNotFoundError",
    "TaskRef",
    "TaskResult",
    "TaskStatus",
    "TaskSuccess",
    "TaskUpdate",
    "TransportError",
    "UnifiedTask",
    "WaitTimeoutError",
    "__version__",
]
