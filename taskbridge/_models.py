"""The unified task model, task references and batch results."""

from __future__ import annotations

import enum
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

from ._errors import TaskBridgeError

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


class Provider(str, enum.Enum):
    """The providers taskbridge knows; plain strings are accepted wherever this is."""

    CAKEWALK = "cakewalk"
    ALUMIO = "alumio"

    def __str__(self) -> str:
        return self.value


class TaskStatus(str, enum.Enum):
    """The unified status of a task, whatever its provider."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """Whether a task in this status will not change any more."""
        return self in _TERMINAL

    def __str__(self) -> str:
        return self.value


_TERMINAL = frozenset(
    {
        TaskStatus.SUCCEEDED,
        TaskStatus.FAILED,
        TaskStatus.REJECTED,
        TaskStatus.CANCELLED,
        TaskStatus.SKIPPED,
    }
)


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
        return self.status in _TERMINAL

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data: ISO 8601 datetimes, enum values as strings, and
        ``detail`` in the provider's wire format (camelCase, as the API sends it).

        `UnifiedTask.from_dict` rebuilds an equal task from it (or from its JSON).
        """
        if not _codec:
            raise RuntimeError("taskbridge._serialize was not imported")
        return _codec[0][0](self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UnifiedTask[Any]:
        """Rebuild a task from `to_dict` data; ``detail`` is decoded by the provider's
        converter, as leniently and strictly as an answer.

        Raises:
            DecodeError: the data does not describe a task (the message says why).
        """
        if not _codec:
            raise RuntimeError("taskbridge._serialize was not imported")
        return _codec[0][1](cls, data)


# `to_dict` / `from_dict` need the provider registry, and the providers import this
# module: `_serialize` installs them here when imported (`taskbridge` imports it), so
# that this module imports nothing above it, not even inside a function.
_codec: list[
    tuple[
        Callable[[UnifiedTask[Any]], dict[str, Any]],
        Callable[[type[UnifiedTask[Any]], object], UnifiedTask[Any]],
    ]
] = []


def install_codec(
    to_dict: Callable[[UnifiedTask[Any]], dict[str, Any]],
    from_dict: Callable[[type[UnifiedTask[Any]], object], UnifiedTask[Any]],
) -> None:
    """Called once by `_serialize`: the implementations of `to_dict` and `from_dict`."""
    _codec[:] = [(to_dict, from_dict)]


class TaskRef(NamedTuple):
    """A task to fetch: ``TaskRef("cakewalk", "3fa85f64-...")``; a plain tuple works too."""

    provider: str
    task_id: str


@attrs.frozen(slots=True)
class TaskSuccess:
    """A ref that was fetched: ``ok`` is ``True``, ``task`` is set, ``error`` is ``None``."""

    ref: TaskRef
    task: UnifiedTask[Any]
    error: None = None

    ok: ClassVar[Literal[True]] = True
    """Always ``True``: after ``if result.ok:`` a type checker knows ``task`` is set."""

    def unwrap(self) -> UnifiedTask[Any]:
        """Return the task."""
        return self.task


@attrs.frozen(slots=True)
class TaskFailure:
    """A ref that failed: ``ok`` is ``False``, ``error`` is set, ``task`` is ``None``."""

    ref: TaskRef
    task: None = None
    error: TaskBridgeError = attrs.field(kw_only=True)

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


def fills_slots(cls: type[Any]) -> bool:
    """Whether ``cls`` can be built by filling its slots directly: a slotted attrs class
    whose fields have no validator or converter and nothing to run at init."""
    return (
        "__slots__" in cls.__dict__
        and not hasattr(cls, "__attrs_post_init__")
        and not hasattr(cls, "__attrs_pre_init__")
        and all(f.validator is None and f.converter is None and f.init for f in attrs.fields(cls))
    )


def slot_fill_lines(
    cls: type[Any], names: dict[str, Any], value_of: Callable[[attrs.Attribute[Any]], str]
) -> list[str]:
    """Generated lines that return a new ``cls`` whose slots are filled with the
    expressions ``value_of(field)``; the setters they call go into ``names``.

    A frozen attrs ``__init__`` sets each field through ``object.__setattr__``, which
    costs about twice as much. Only for a class `fills_slots` accepts.
    """
    names["__new"], names["__cl"] = object.__new__, cls
    lines = ["  i = __new(__cl)"]
    for f in attrs.fields(cls):
        names[f"s_{f.name}"] = cls.__dict__[f.name].__set__
        lines.append(f"  s_{f.name}(i, {value_of(f)})")
    lines.append("  return i")
    return lines


def _direct_constructor(cls: type[Any]) -> Callable[..., Any]:
    """Return ``make(*fields)`` that builds ``cls`` by filling its slots directly.

    One is built per request. Every field is passed (defaults are not applied).
    """
    if not fills_slots(cls):
        raise TypeError(f"{cls.__name__} cannot be built by filling its slots")
    namespace: dict[str, Any] = {}
    lines = [f"def make({', '.join(f.name for f in attrs.fields(cls))}):"]
    lines += slot_fill_lines(cls, namespace, lambda f: f.name)
    exec("\n".join(lines), namespace)
    make: Callable[..., Any] = namespace["make"]
    return make


#: ``new_unified_task(provider, id, status, provider_status, kind, created_at,
#: updated_at, detail)``: a `UnifiedTask`, equal to the one its ``__init__`` builds.
#: ``detail`` may be a `PendingDetail`, built on first access.
new_unified_task: Callable[..., UnifiedTask[Any]] = _direct_constructor(UnifiedTask)

#: ``new_task_success(ref, task, None)``: a `TaskSuccess`, built the same way (one per ref).
new_task_success: Callable[[TaskRef, UnifiedTask[Any], None], TaskSuccess] = _direct_constructor(
    TaskSuccess
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
