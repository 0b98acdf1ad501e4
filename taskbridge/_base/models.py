"""The unified task model, task references and batch results."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Literal,
    NamedTuple,
    NoReturn,
    TypeAlias,
    TypeVar,
)

import attrs

from .errors import TaskBridgeError
from .slots import direct_constructor
from .status import TERMINAL, Provider, TaskStatus

__all__ = [
    "Provider",
    "TaskFailure",
    "TaskRef",
    "TaskResult",
    "TaskStatus",
    "TaskSuccess",
    "UnifiedTask",
]

_D = TypeVar("_D")


@attrs.frozen(slots=True)
class UnifiedTask(Generic[_D]):
    """One task from any provider, in one shape.

    ``detail`` is the full typed provider record (``CakewalkTask`` or ``AlumioTask``).
    A decoded answer was validated whole before ``get`` returned; its ``detail`` models
    are built on first access (then kept), and the task compares, hashes, pickles and
    copies as if they had been built at once.

    Tasks are hashable, so they can be set members and dict keys. Equal tasks are
    equal in every field, ``detail`` included; the hash leaves ``detail`` out (it
    holds free-form JSON dicts, which are not hashable), so it is that of the
    unified fields: provider, id, status, provider status, kind and timestamps.
    """

    provider: str
    id: str
    status: TaskStatus
    provider_status: str
    kind: str | None
    created_at: datetime | None
    updated_at: datetime | None
    detail: _D = attrs.field(repr=False, eq=True, hash=False)

    @property
    def is_terminal(self) -> bool:
        """Whether ``status`` is terminal (succeeded, failed, rejected, cancelled, skipped)."""
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data: ISO 8601 datetimes, enum values as strings, and
        ``detail`` in the provider's wire format (camelCase, as the API sends it).

        `UnifiedTask.from_dict` rebuilds an equal task from it (or from its JSON).
        """
        # The provider's converter is found through the registry, above this module.
        from ..providers._kit.serialize import task_to_dict

        return task_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UnifiedTask[Any]:
        """Rebuild a task from `to_dict` data; ``detail`` is decoded by the provider's
        converter, as leniently and strictly as an answer.

        Raises:
            DecodeError: the data does not describe a task (the message says why).
        """
        from ..providers._kit.serialize import task_from_dict

        return task_from_dict(cls, data)


class TaskRef(NamedTuple):
    """A task to fetch: ``TaskRef("cakewalk", "3fa85f64-...")``; a plain tuple works too."""

    provider: str
    task_id: str


@attrs.frozen(slots=True)
class TaskSuccess:
    """A ref that was fetched: ``ok`` is ``True``, ``task`` is set, ``error`` is ``None``.

    ``attempts`` is how many HTTP attempts this ref's fetch made (retries included; 0
    when it joined an identical request already in flight, or was built by hand), and
    ``elapsed`` the seconds from its turn in the batch to its result (waits for a slot,
    the rate limit and retry pauses included). Both are metadata: they take no part in
    ``==`` or ``hash``.
    """

    ref: TaskRef
    task: UnifiedTask[Any]
    error: None = None
    attempts: int = attrs.field(default=0, kw_only=True, eq=False)
    elapsed: float = attrs.field(default=0.0, kw_only=True, eq=False)

    ok: ClassVar[Literal[True]] = True
    """Always ``True``: after ``if result.ok:`` a type checker knows ``task`` is set."""

    def unwrap(self) -> UnifiedTask[Any]:
        """Return the task."""
        return self.task


@attrs.frozen(slots=True)
class TaskFailure:
    """A ref that failed: ``ok`` is ``False``, ``error`` is set, ``task`` is ``None``.

    ``attempts`` and ``elapsed`` as on `TaskSuccess`: 0 and 0.0 for a ref refused before
    any request (a bad ref, an unknown provider, a turn that came too late) and for one
    cut off by ``get_many(timeout=)``. Metadata: no part in ``==`` or ``hash``.
    """

    ref: TaskRef
    task: None = None
    error: TaskBridgeError = attrs.field(kw_only=True)
    attempts: int = attrs.field(default=0, kw_only=True, eq=False)
    elapsed: float = attrs.field(default=0.0, kw_only=True, eq=False)

    ok: ClassVar[Literal[False]] = False
    """Always ``False``: in the ``else`` of ``if result.ok:`` ``error`` is set."""

    def unwrap(self) -> NoReturn:
        """Raise the error this ref failed with."""
        raise self.error


if TYPE_CHECKING:
    TaskResult: TypeAlias = TaskSuccess | TaskFailure
else:

    class _ResultType(type):
        def __call__(
            cls,
            ref: TaskRef,
            task: UnifiedTask[Any] | None = None,
            error: TaskBridgeError | None = None,
        ) -> TaskSuccess | TaskFailure:
            if error is not None:
                return TaskFailure(ref, error=error)
            if task is None:
                raise TypeError("TaskResult needs a task or an error")
            return TaskSuccess(ref, task)

        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, (TaskSuccess, TaskFailure))

        def __subclasscheck__(cls, sub: type) -> bool:
            return issubclass(sub, (TaskSuccess, TaskFailure))

    class TaskResult(metaclass=_ResultType):
        """The outcome of one ref in a batch: a `TaskSuccess` or a `TaskFailure`.

        Both have ``ref``, ``ok``, ``task``, ``error`` and ``unwrap()``; ``ok`` is a
        literal ``True``/``False``, so ``if result.ok:`` narrows the type.
        ``TaskResult(ref, task=...)`` and ``TaskResult(ref, error=...)`` build the right
        one, and ``isinstance(x, TaskResult)`` accepts both.
        """


#: ``new_unified_task(provider, id, status, provider_status, kind, created_at,
#: updated_at, detail)``: a `UnifiedTask`, equal to the one its ``__init__`` builds.
#: ``detail`` may be a `PendingDetail`, built on first access.
new_unified_task: Callable[..., UnifiedTask[Any]] = direct_constructor(UnifiedTask)

#: ``new_task_success(ref, task, None, attempts, elapsed)``: a `TaskSuccess`, built the
#: same way (one per ref).
new_task_success: Callable[[TaskRef, UnifiedTask[Any], None, int, float], TaskSuccess] = (
    direct_constructor(TaskSuccess)
)


class PendingDetail(functools.partial[Any]):
    """What a `UnifiedTask` holds in place of ``detail`` until first read.

    ``PendingDetail(build, source)``: calling it returns the model, ``build(source)``,
    from the decoder's validated data (msgspec Structs of the body, nothing else: no
    secret) through a generated cattrs structure hook. A `functools.partial`, built in C.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<PendingDetail>"


# One lock for every first build: two threads reading a fresh ``detail`` get one model.
_BUILD_LOCK = threading.Lock()


class _LazyDetail:
    """``UnifiedTask.detail``: a data descriptor over attrs' slot that builds a
    `PendingDetail` on first read and stores the model in the slot.

    Writes go to the slot (attrs' ``__init__``, ``__setstate__`` and ``evolve`` use
    them), and everything attrs generates reads ``self.detail`` (``==``, ``pickle``,
    ``copy``, ``evolve``, ``asdict``), so a lazy task behaves as an eager one.
    """

    __slots__ = ("_get", "_set", "member")

    def __init__(self, member: Any) -> None:
        self.member = member
        self._get: Callable[[object, object], Any] = member.__get__
        self._set: Callable[[object, object], None] = member.__set__

    def __get__(self, obj: object, owner: object = None) -> Any:
        if obj is None:
            return self
        value = self._get(obj, owner)
        if type(value) is not PendingDetail:
            return value
        with _BUILD_LOCK:
            value = self._get(obj, owner)
            if type(value) is PendingDetail:
                value = value()
                self._set(obj, value)
        return value

    def __set__(self, obj: object, value: object) -> None:
        self._set(obj, value)

    def __delete__(self, obj: object) -> None:
        self.member.__delete__(obj)


# After `new_unified_task` took the slot's own setter (it stores a `PendingDetail` as is).
type.__setattr__(UnifiedTask, "detail", _LazyDetail(UnifiedTask.__dict__["detail"]))
