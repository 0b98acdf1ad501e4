"""Cakewalk adapter: request building, decoding and normalization."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import timezone
from typing import Any, Protocol

from ..._convert import Decoder
from ..._errors import InvalidTaskIdError
from ..._models import PendingDetail, TaskStatus, UnifiedTask, new_unified_task
from ..._msgspec import FastDecoder
from ..._version import __version__
from .._base import CommonSettings, ErrorInfo, Request, UrlBuilder, new_request
from ._converter import make_cakewalk_converter, parse_problem_details
from ._models import CakewalkTask, CakewalkTaskRecord, CakewalkTaskStatus, CakewalkTaskType

__all__ = ["STATUS_MAP", "CakewalkAdapter"]

STATUS_MAP: dict[str, TaskStatus] = {
    CakewalkTaskStatus.PENDING: TaskStatus.PENDING,
    CakewalkTaskStatus.DRAFTED: TaskStatus.PENDING,
    CakewalkTaskStatus.IN_PROGRESS: TaskStatus.RUNNING,
    CakewalkTaskStatus.BLOCKED: TaskStatus.WAITING,
    CakewalkTaskStatus.NO_CLAIMERS: TaskStatus.WAITING,
    CakewalkTaskStatus.APPROVED: TaskStatus.SUCCEEDED,
    CakewalkTaskStatus.DECLINED: TaskStatus.REJECTED,
    CakewalkTaskStatus.CANCELLED: TaskStatus.CANCELLED,
}

_UTC = timezone.utc
_UNKNOWN = TaskStatus.UNKNOWN  # a global: an enum member lookup costs ~70 ns
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class CakewalkSettings(CommonSettings, Protocol):
    """What the adapter reads of a `CakewalkConfig` (no import of it: no cycle)."""

    @property
    def api_key(self) -> str: ...

    @property
    def api_secret(self) -> str: ...


@functools.cache
def _decoder() -> Decoder[CakewalkTaskRecord]:
    """The decoder, built once per process: its structure hooks are generated code
    (registered in `linecache`), which a decoder per bridge would pile up."""
    return Decoder(
        CakewalkTaskRecord,
        make_cakewalk_converter(),
        make_cakewalk_converter(detailed_validation=True),
    )


@functools.cache
def _fast() -> tuple[Callable[[bytes], Any], Callable[[Any], CakewalkTask]]:
    """The msgspec mirror's decode of the record, and the hook that builds ``detail``."""
    mirror = FastDecoder(CakewalkTaskRecord)
    return mirror.decode, mirror.builder(CakewalkTask)


class CakewalkAdapter:
    """Serves one `CakewalkConfig`: ``GET /api/v1/Tasks/{taskId}``."""

    __slots__ = (
        "_base",
        "_build",
        "_decode",
        "_fast",
        "_headers",
        "_url",
        "max_concurrency",
        "max_poll_interval",
        "max_queue_wait",
        "poll_interval",
        "requests_per_minute",
    )

    name = "cakewalk"

    def __init__(self, config: CakewalkSettings) -> None:
        self.max_concurrency = config.max_concurrency
        self.requests_per_minute = config.requests_per_minute
        self.poll_interval = config.poll_interval
        self.max_poll_interval = config.max_poll_interval
        self.max_queue_wait = config.max_queue_wait
        self._base = f"{config.base_url}/api/v1/Tasks/"
        self._url = UrlBuilder(self._base)
        self._headers = {
            "X-API-KEY": config.api_key,
            "X-API-SECRET": config.api_secret,
            "Accept": "application/json",
            "User-Agent": f"taskbridge/{__version__}",
        }
        self._decode = _decoder()
        self._fast, self._build = _fast()

    def __repr__(self) -> str:
        return f"<CakewalkAdapter {self._base}>"

    def check_id(self, task_id: object) -> str:
        """Return the lower-cased UUID, or raise `InvalidTaskIdError`."""
        if not isinstance(task_id, str) or _UUID.fullmatch(task_id) is None:
            shown = task_id[:80] if isinstance(task_id, str) else type(task_id).__name__
            raise InvalidTaskIdError(
                f"cakewalk task ids are canonical UUIDs (8-4-4-4-12 hex digits), got {shown!r}",
                provider=self.name,
                task_id=str(task_id),
            )
        return task_id.lower()

    def request(self, task_id: str) -> Request:
        """Build the GET for a checked task id."""
        return new_request(Request, (self._url(task_id), self._headers))

    def decode_task(self, body: bytes, task_id: str) -> UnifiedTask[CakewalkTask]:
        """Decode a 200 body into a `UnifiedTask`; raise `SchemaError` when it does not fit.

        The body is validated whole by its msgspec mirror, and ``detail`` built from it
        on first access; a body the mirror refuses is decoded by `decode_checked`, whose
        answer or error message is the one returned.
        """
        try:
            task = self._fast(body).data
        except Exception:
            return self.decode_checked(body, task_id)
        status, created, updated = task.status, task.created_at, task.last_updated_at
        return new_unified_task(
            self.name,  # provider
            task.id,
            STATUS_MAP.get(status, _UNKNOWN),
            status,  # provider_status
            task.type,  # kind
            created if created.tzinfo is not None else created.replace(tzinfo=_UTC),
            updated if updated.tzinfo is not None else updated.replace(tzinfo=_UTC),
            PendingDetail(self._build, task),  # detail
        )

    def decode_checked(self, body: bytes, task_id: str) -> UnifiedTask[CakewalkTask]:
        """`decode_task` by the converters alone (orjson and cattrs hooks), ``detail``
        built at once: the fallback, naming the offending fields when it raises."""
        task = self._decode(body).data
        status = task.status
        raw = status.value if isinstance(status, CakewalkTaskStatus) else status
        kind = task.type.value if isinstance(task.type, CakewalkTaskType) else task.type
        return new_unified_task(
            self.name,  # provider
            task.id,
            STATUS_MAP.get(status, TaskStatus.UNKNOWN),
            raw,  # provider_status
            kind,
            task.created_at,
            task.last_updated_at,  # updated_at
            task,  # detail
        )

    def decode_error(self, body: bytes) -> ErrorInfo:
        """Read a ProblemDetails body; never raises."""
        problem = parse_problem_details(body)
        if problem is None:
            return ErrorInfo()
        return ErrorInfo(title=problem.title, detail=problem.detail, body=problem)
