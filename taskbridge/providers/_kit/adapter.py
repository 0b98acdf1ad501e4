"""`TaskAdapter`: the adapter skeleton every provider folder fills in.

What is the same for every provider lives here once: the GET with its headers, the
fast decode (the msgspec mirror validates the whole body in C, ``detail`` is built on
first read) with the converters' checked decode as its fallback, timestamps made
timezone-aware (a naive value is UTC), unknown statuses kept raw, and error bodies read
without ever raising, and an answer for another task than the one asked for refused
(a misrouting proxy or cache must not swap tasks silently). A provider states only what
differs: its name, path, wire models, converter, status map, how to find the task in its
record and which of its fields are the unified ones (`TaskAdapter.summary`), its id
rule (and how two ids compare, `TaskAdapter.same_id`) and its error body.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar, Generic, TypeVar

import cattrs

from ..._base.models import PendingDetail, TaskStatus, UnifiedTask, new_unified_task
from ..._decode.convert import Decoder, SchemaError
from ..._decode.mirror import FastDecoder
from ..._version import __version__
from .base import ErrorInfo, Request, UrlBuilder, new_request

__all__ = ["Summary", "TaskAdapter", "Unified", "other_task"]

_D = TypeVar("_D")
_UTC = timezone.utc
_UNKNOWN = TaskStatus.UNKNOWN  # a global: an enum member lookup costs ~70 ns

#: ``(id, provider_status, kind, created_at, updated_at)`` of one provider task, as its
#: record holds them (enum members or strings, naive or aware datetimes, ``None``).
Summary = tuple[str, Any, Any, "datetime | None", "datetime | None"]

#: ``(id, status, provider_status, kind, created_at, updated_at)`` as a `UnifiedTask`
#: holds them (``id`` is ``""`` when the detail names no task).
Unified = tuple[str, TaskStatus, str, "str | None", "datetime | None", "datetime | None"]


def _utc(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo is not None else moment.replace(tzinfo=_UTC)


def _text(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _shown(task_id: object) -> str:
    text = str(task_id)
    return repr(text) if len(text) <= 80 else f"{text[:80]!r}... ({len(text)} characters)"


def other_task(got: object, asked: str) -> SchemaError:
    """The error for an answer that holds task ``got`` when ``asked`` was asked for."""
    return SchemaError(
        f"the answer is for another task: asked for {_shown(asked)}, got {_shown(got)}"
    )


@functools.cache
def _codecs(cls: type[TaskAdapter[Any]]) -> tuple[Decoder[Any], Callable[[bytes], Any], Any]:
    """One adapter class's decoders, built once per process: their hooks are generated
    code (registered in `linecache`), which a decoder per bridge would pile up."""
    checked = Decoder(
        cls.record, cls.make_converter(), cls.make_converter(detailed_validation=True)
    )
    mirror = FastDecoder(cls.record)
    return checked, mirror.decode, mirror.builder(cls.detail_type)


class TaskAdapter(Generic[_D]):
    """The skeleton of a provider adapter (a `ProviderAdapter`).

    Subclasses set the class attributes and implement `unwrap`, `summary`, `check_id`
    and `parse_error` (and `encode_id` when an id needs quoting in the path); they call
    ``super().__init__(base_url, headers, query)`` with their credentials' headers.
    """

    __slots__ = ("_base", "_build", "_checked", "_fast", "_headers", "_url")

    name: ClassVar[str]
    """The provider name, as registered."""
    path: ClassVar[str]
    """The path under the base URL that the encoded id is appended to."""
    record: ClassVar[type[Any]]
    """The attrs model of a whole 200 body."""
    detail_type: ClassVar[type[Any]]
    """The attrs model of the task inside it: what ``UnifiedTask.detail`` holds."""
    status_map: ClassVar[Mapping[str, TaskStatus]]
    """The provider's status strings to the unified status; others are ``UNKNOWN``."""
    missing_task: ClassVar[str] = "required field missing @ $.data"
    """The `SchemaError` message for a record without a task (`unwrap` gave ``None``)."""

    @staticmethod
    def make_converter(*, detailed_validation: bool = False) -> cattrs.Converter:
        """The provider's cattrs converter (a factory, as ``cattrs.preconf`` has)."""
        raise NotImplementedError

    def __init__(self, base_url: str, headers: Mapping[str, str], query: str = "") -> None:
        self._base = f"{base_url}{self.path}"
        self._url = UrlBuilder(self._base, query)
        self._headers = {
            **headers,
            "Accept": "application/json",
            "User-Agent": f"taskbridge/{__version__}",
        }
        self._checked, self._fast, self._build = _codecs(type(self))  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._base}>"

    # What a provider states.

    def unwrap(self, record: Any) -> Any:
        """The task inside a decoded record, or ``None`` when it has none."""
        raise NotImplementedError

    def summary(self, task: Any, task_id: str) -> Summary:
        """The unified fields of ``task`` (``task_id``: the id that was asked for)."""
        raise NotImplementedError

    def check_id(self, task_id: object) -> str:
        """Return the id to send (normalized), or raise `InvalidTaskIdError`."""
        raise NotImplementedError

    def same_id(self, got: str, asked: str) -> bool:
        """Whether the answer's id ``got`` names the task ``asked`` for (a checked id).

        Exact by default; a provider whose ids compare otherwise (Cakewalk's UUIDs,
        case-insensitively) overrides it. Called only when the two strings differ.
        """
        return False

    def encode_id(self, task_id: str) -> str:
        """The checked id as a path segment (already safe unless overridden)."""
        return task_id

    def parse_error(self, body: bytes) -> ErrorInfo:
        """Read the provider's error body; never raises."""
        return ErrorInfo()

    # What is the same for every provider.

    def request(self, task_id: str) -> Request:
        """Build the GET for a checked task id."""
        return new_request(Request, (self._url(self.encode_id(task_id)), self._headers))

    def decode_task(self, body: bytes, task_id: str) -> UnifiedTask[_D]:
        """Decode a 200 body into a `UnifiedTask`; raise `SchemaError` when it does not fit.

        The body is validated whole by its msgspec mirror, and ``detail`` built from it
        on first access; a body the mirror refuses (or without a task) is decoded by
        `decode_checked`, whose answer or error message is the one returned.
        """
        try:
            task = self.unwrap(self._fast(body))
        except Exception:
            task = None
        if task is None:
            return self.decode_checked(body, task_id)
        key, status, kind, created, updated = self.summary(task, task_id)
        if key != task_id and not self.same_id(key, task_id):
            raise other_task(key, task_id)
        return new_unified_task(
            self.name,  # provider
            key,  # id
            self.status_map.get(status, _UNKNOWN),
            status,  # provider_status
            kind,
            _utc(created),
            _utc(updated),
            PendingDetail(self._build, task),  # detail
        )

    def decode_checked(self, body: bytes, task_id: str) -> UnifiedTask[_D]:
        """`decode_task` by the converters alone (orjson and cattrs hooks), ``detail``
        built at once: the fallback, naming the offending fields when it raises."""
        task = self.unwrap(self._checked(body))
        if task is None:
            raise SchemaError(self.missing_task)
        key, status, kind, created, updated = self.summary(task, task_id)
        if key != task_id and not self.same_id(key, task_id):
            raise other_task(key, task_id)
        status = _text(status)
        return new_unified_task(
            self.name,  # provider
            key,  # id
            self.status_map.get(status, _UNKNOWN),
            status,  # provider_status
            _text(kind),
            _utc(created),
            _utc(updated),
            task,  # detail
        )

    @classmethod
    def unified_of(cls, detail: Any) -> Unified:
        """The unified fields a task with this ``detail`` has, as `decode_task` derives
        them (`ProviderSpec.unified`: `UnifiedTask.from_dict` checks a task against it).

        `summary` is called on an adapter without settings: it reads only the task.
        """
        bare = cls.__new__(cls)
        key, status, kind, created, updated = bare.summary(detail, "")
        status = _text(status)
        return (
            key,
            cls.status_map.get(status, _UNKNOWN),
            status,
            _text(kind),
            _utc(created),
            _utc(updated),
        )

    def decode_error(self, body: bytes) -> ErrorInfo:
        """Read an error body; never raises."""
        try:
            return self.parse_error(body)
        except Exception:
            return ErrorInfo()
