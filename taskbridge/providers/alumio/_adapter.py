"""Alumio adapter: request building, decoding and normalization."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import timezone
from typing import Any, Protocol
from urllib.parse import quote

from ..._convert import Decoder, SchemaError
from ..._errors import InvalidTaskIdError
from ..._models import PendingDetail, TaskStatus, UnifiedTask, new_unified_task
from ..._msgspec import FastDecoder
from ..._version import __version__
from .._base import CommonSettings, ErrorInfo, Request, UrlBuilder, new_request
from ._converter import make_alumio_converter, parse_error
from ._models import AlumioTask, AlumioTaskResult, AlumioTaskStatus

__all__ = ["MAX_IDENTIFIER_LENGTH", "STATUS_MAP", "AlumioAdapter", "encode_identifier"]

# Longer identifiers are refused before any request: percent-encoded, 1,024 characters
# can take up to 12 KiB of request line, about what servers accept (8-16 KiB).
MAX_IDENTIFIER_LENGTH = 1024
_UTC = timezone.utc
_UNKNOWN = TaskStatus.UNKNOWN  # a global: an enum member lookup costs ~70 ns

STATUS_MAP: dict[str, TaskStatus] = {
    AlumioTaskStatus.NEW: TaskStatus.PENDING,
    AlumioTaskStatus.PROCESSING: TaskStatus.RUNNING,
    AlumioTaskStatus.WAITING: TaskStatus.WAITING,
    AlumioTaskStatus.RETRY: TaskStatus.WAITING,
    AlumioTaskStatus.FINISHED: TaskStatus.SUCCEEDED,
    AlumioTaskStatus.RESOLVED: TaskStatus.SUCCEEDED,
    AlumioTaskStatus.FAILED: TaskStatus.FAILED,
    "rejected": TaskStatus.REJECTED,  # documented by Alumio, absent from the spec's enum
    AlumioTaskStatus.KILLED: TaskStatus.CANCELLED,
    AlumioTaskStatus.SKIPPED: TaskStatus.SKIPPED,
}


class AlumioSettings(CommonSettings, Protocol):
    """What the adapter reads of a `AlumioConfig` (no import of it: no cycle)."""

    @property
    def token(self) -> str: ...

    @property
    def space(self) -> str | None: ...


# The characters quote(..., safe="") never encodes (RFC 3986 unreserved).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")


def encode_identifier(identifier: str) -> str:
    """Percent-encode an identifier as exactly one path segment.

    Every reserved character is encoded (``/`` ``?`` ``#`` ``%`` included), and the dot
    segments ``.`` and ``..`` are sent as ``%2E`` so no URL normalizer can climb a level.
    """
    if identifier in (".", ".."):
        return "%2E" * len(identifier)
    if _UNRESERVED.fullmatch(identifier):
        return identifier  # what quote() gives back, at a third of its cost
    return quote(identifier, safe="")


def _utf8(text: str) -> bool:
    # A lone surrogate cannot be percent-encoded; caught here, before any request.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@functools.cache
def _decoder() -> Decoder[AlumioTaskResult]:
    """The decoder, built once per process: its structure hooks are generated code
    (registered in `linecache`), which a decoder per bridge would pile up."""
    return Decoder(
        AlumioTaskResult, make_alumio_converter(), make_alumio_converter(detailed_validation=True)
    )


@functools.cache
def _fast() -> tuple[Callable[[bytes], Any], Callable[[Any], AlumioTask]]:
    """The msgspec mirror's decode of the record, and the hook that builds ``detail``."""
    mirror = FastDecoder(AlumioTaskResult)
    return mirror.decode, mirror.builder(AlumioTask)


class AlumioAdapter:
    """Serves one `AlumioConfig`: ``GET /api/v1/tasks/{identifier}?space=``."""

    __slots__ = (
        "_base",
        "_build",
        "_decode",
        "_fast",
        "_headers",
        "_query",
        "_url",
        "max_concurrency",
        "max_poll_interval",
        "max_queue_wait",
        "poll_interval",
        "requests_per_minute",
    )

    name = "alumio"

    def __init__(self, config: AlumioSettings) -> None:
        self.max_concurrency = config.max_concurrency
        self.requests_per_minute = config.requests_per_minute
        self.poll_interval = config.poll_interval
        self.max_poll_interval = config.max_poll_interval
        self.max_queue_wait = config.max_queue_wait
        self._base = f"{config.base_url}/api/v1/tasks/"
        self._query = "" if config.space is None else f"?space={quote(config.space, safe='')}"
        self._url = UrlBuilder(self._base, self._query)
        self._headers = {
            "Authorization": f"Bearer {config.token}",
            "Accept": "application/json",
            "User-Agent": f"taskbridge/{__version__}",
        }
        self._decode = _decoder()
        self._fast, self._build = _fast()

    def __repr__(self) -> str:
        return f"<AlumioAdapter {self._base}>"

    def check_id(self, task_id: object) -> str:
        """Return the identifier unchanged, or raise `InvalidTaskIdError`.

        An identifier is a non-empty Unicode string of at most `MAX_IDENTIFIER_LENGTH`
        characters.
        """
        if (
            not isinstance(task_id, str)
            or not task_id
            or len(task_id) > MAX_IDENTIFIER_LENGTH
            or not (task_id.isascii() or _utf8(task_id))
        ):
            shown = repr(task_id[:80]) if isinstance(task_id, str) else type(task_id).__name__
            if isinstance(task_id, str) and len(task_id) > 80:
                shown += f"... ({len(task_id)} characters)"
            raise InvalidTaskIdError(
                "alumio task identifiers are non-empty Unicode strings of at most "
                f"{MAX_IDENTIFIER_LENGTH} characters, got {shown}",
                provider=self.name,
                # Kept whole up to the bound: a 1 MiB id would ride along everywhere.
                task_id=str(task_id)[: MAX_IDENTIFIER_LENGTH + 1],
            )
        return task_id

    def request(self, task_id: str) -> Request:
        """Build the GET for a checked identifier."""
        return new_request(Request, (self._url(encode_identifier(task_id)), self._headers))

    def decode_task(self, body: bytes, task_id: str) -> UnifiedTask[AlumioTask]:
        """Decode a 200 body into a `UnifiedTask`; raise `SchemaError` when it does not fit.

        The body is validated whole by its msgspec mirror, and ``detail`` built from it
        on first access; a body the mirror refuses (or without a task) is decoded by
        `decode_checked`, whose answer or error message is the one returned.
        """
        try:
            task = self._fast(body).task
        except Exception:
            task = None
        if task is None:
            return self.decode_checked(body, task_id)
        status = task.status
        raw = "" if status is None else status
        created, updated = task.created_at, task.updated_at
        return new_unified_task(
            self.name,  # provider
            task.identifier if task.identifier is not None else task_id,  # id
            STATUS_MAP.get(raw, _UNKNOWN),
            raw,  # provider_status
            task.entity_type,  # kind
            created
            if created is None or created.tzinfo is not None
            else created.replace(tzinfo=_UTC),
            updated
            if updated is None or updated.tzinfo is not None
            else updated.replace(tzinfo=_UTC),
            PendingDetail(self._build, task),  # detail
        )

    def decode_checked(self, body: bytes, task_id: str) -> UnifiedTask[AlumioTask]:
        """`decode_task` by the converters alone (orjson and cattrs hooks), ``detail``
        built at once: the fallback, naming the offending fields when it raises."""
        task = self._decode(body).task
        if task is None:
            raise SchemaError("required field missing @ $.object")
        status = task.status
        raw = (
            ""
            if status is None
            else status.value
            if isinstance(status, AlumioTaskStatus)
            else status
        )
        return new_unified_task(
            self.name,  # provider
            task.identifier if task.identifier is not None else task_id,  # id
            STATUS_MAP.get(raw, TaskStatus.UNKNOWN),
            raw,  # provider_status
            task.entity_type,  # kind
            task.created_at,
            task.updated_at,
            task,  # detail
        )

    def decode_error(self, body: bytes) -> ErrorInfo:
        """Read an ``Error`` body; never raises."""
        error = parse_error(body)
        if error is None:
            return ErrorInfo()
        return ErrorInfo(title=error.title, detail=error.detail, body=error)
