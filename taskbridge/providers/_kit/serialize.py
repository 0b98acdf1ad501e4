"""`UnifiedTask.to_dict` / `UnifiedTask.from_dict`: JSON-ready data and back.

``detail`` travels in its provider's wire format (camelCase names, as the API sends
them), produced and read by that provider's own cattrs converter. `from_dict` refuses
data whose top level (``id``, ``status``, ``provider_status``, ``kind`` and the two
timestamps) disagrees with what the provider's adapter derives from ``detail``
(`ProviderSpec.unified`): a task that contradicts itself is a `DecodeError` naming both
values, never rebuilt.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import cattrs

from ..._base.errors import DecodeError
from ..._base.status import TaskStatus
from ..._decode.convert import _describe, parse_datetime
from .registry import find, get_spec

if TYPE_CHECKING:
    from ..._base.models import UnifiedTask

__all__ = ["task_from_dict", "task_to_dict"]

_FIELDS = ("provider", "id", "status", "provider_status", "kind", "created_at", "updated_at")


def _known(provider: str) -> bool:
    spec = find(provider)
    return spec is not None and spec.detail_format is not None


@functools.cache
def _format(provider: str) -> tuple[type[Any], cattrs.Converter, cattrs.Converter]:
    detail_format = get_spec(provider).detail_format
    assert detail_format is not None  # checked by _known
    cls, factory = detail_format()
    return cls, factory(), factory(detailed_validation=True)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def task_to_dict(task: UnifiedTask[Any]) -> dict[str, Any]:
    """See `UnifiedTask.to_dict`."""
    if not _known(task.provider):
        raise DecodeError(
            f"no serialization known for provider {task.provider!r}",
            provider=task.provider,
            task_id=task.id,
        )
    _, converter, _ = _format(task.provider)
    return {
        "provider": task.provider,
        "id": task.id,
        "status": task.status.value,
        "provider_status": task.provider_status,
        "kind": task.kind,
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
        "detail": converter.unstructure(task.detail),
    }


def _text(data: Mapping[str, Any], key: str, fail: Callable[[str], DecodeError]) -> str:
    value = data.get(key)
    if type(value) is not str:
        raise fail(f"{key!r} must be a string, got {type(value).__name__}")
    return value


def _when(data: Mapping[str, Any], key: str, fail: Callable[[str], DecodeError]) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if type(value) is not str:
        raise fail(f"{key!r} must be an ISO 8601 string or null, got {type(value).__name__}")
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise fail(f"{key!r}: {exc}") from None


def task_from_dict(cls: type[UnifiedTask[Any]], data: object) -> UnifiedTask[Any]:
    """See `UnifiedTask.from_dict`."""
    if not isinstance(data, Mapping):
        raise DecodeError(
            f"UnifiedTask.from_dict expects a mapping, got {type(data).__name__}",
            provider="",
            task_id="",
        )
    provider = data.get("provider")
    task_id = data.get("id")
    where = (provider if isinstance(provider, str) else "", task_id if type(task_id) is str else "")

    def fail(why: str) -> DecodeError:
        return DecodeError(f"UnifiedTask.from_dict: {why}", provider=where[0], task_id=where[1])

    provider = _text(data, "provider", fail)
    if not _known(provider):
        raise fail(f"unknown provider {provider!r}")
    status_text = _text(data, "status", fail)
    try:
        status = TaskStatus(status_text)
    except ValueError:
        raise fail(f"unknown status {status_text[:40]!r}") from None
    kind = data.get("kind")
    if kind is not None and type(kind) is not str:
        raise fail(f"'kind' must be a string or null, got {type(kind).__name__}")
    detail_cls, fast, detailed = _format(provider)
    raw = data.get("detail")
    if type(raw) is not dict:
        raise fail(f"'detail' must be an object, got {type(raw).__name__}")
    try:
        detail = fast.structure(raw, detail_cls)
    except Exception as exc:
        why = _describe(exc, detailed, raw, detail_cls)
        raise fail(f"'detail' does not fit the spec: {why}") from exc
    top = (
        _text(data, "id", fail),
        status,
        _text(data, "provider_status", fail),
        kind,
        _when(data, "created_at", fail),
        _when(data, "updated_at", fail),
    )
    unified = get_spec(provider).unified
    if unified is not None:
        _agree(top, unified(detail), fail)
    return cls(provider, *top, detail=detail)


def _shown(value: object) -> str:
    if isinstance(value, TaskStatus):
        value = value.value
    elif isinstance(value, datetime):
        value = value.isoformat()
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:80]}..."


def _agree(
    top: tuple[Any, ...], derived: tuple[Any, ...], fail: Callable[[str], DecodeError]
) -> None:
    """Raise when the top level says other than ``detail`` (an empty derived id: the
    detail names no task, as an Alumio task may not)."""
    for name, have, want in zip(_FIELDS[1:], top, derived, strict=False):
        if have != want and not (name == "id" and want == ""):
            raise fail(
                f"{name!r} is {_shown(have)} but 'detail' says {_shown(want)}: "
                "the task contradicts itself"
            )
