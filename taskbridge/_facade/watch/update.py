"""`TaskUpdate`: one event of `TaskBridge.watch`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ..._base.errors import TaskBridgeError
from ..._base.models import TaskRef, UnifiedTask

__all__ = ["TaskUpdate", "Until"]

#: ``until=``: a ref leaves (a wait returns) once this is true of its task.
Until = Callable[[UnifiedTask[Any]], object]


@attrs.frozen(slots=True)
class TaskUpdate:
    """One event of `TaskBridge.watch` for one ref.

    The first observation of a ref has ``previous=None``; later ones come when its
    ``provider_status`` changed, with ``previous`` the task as last seen before. A
    fatal error (not found, auth, ...) comes once with ``task=None`` and ``error`` set,
    and the ref leaves the watch.
    """

    ref: TaskRef
    task: UnifiedTask[Any] | None
    previous: UnifiedTask[Any] | None = None
    error: TaskBridgeError | None = None
