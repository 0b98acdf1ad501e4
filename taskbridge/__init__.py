"""taskbridge: one async client for Cakewalk and Alumio tasks.

```python
from taskbridge import TaskBridge

async with TaskBridge.from_env() as bridge:
    task = await bridge.get("alumio", "order-export-42")
    results = await bridge.get_many([("cakewalk", id1), ("alumio", id2)])
```
"""

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
from ._version import __version__
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
