"""The events Cakewalk sends, typed, and the cattrs converter that reads them.

A body is one envelope ``{"eventType": ..., "data": {...}}`` or an array of them (the
documentation shows both). ``action_task.actionable`` becomes an `ActionableTaskEvent`,
``test`` a `TestEvent`, and any other type an `UnknownEvent` that keeps the raw
``data`` (never an error: Cakewalk may add types). Every event keeps ``type`` and the
raw ``data``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, override

from .._base.models import Provider, TaskRef
from ._errors import WebhookPayloadError

__all__ = [
    "ACTIONABLE",
    "ActionableTaskEvent",
    "Person",
    "RequestMetadata",
    "TestEvent",
    "UnknownEvent",
    "WebhookEvent",
    "WorkApp",
    "make_webhooks_converter",
    "parse_events",
]

ACTIONABLE = "action_task.actionable"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@attrs.frozen
class Person:
    """Someone named in an event (``reviewedBy``, ``requestedBy``, ``targetUser``)."""

    id: str | None = None
    email: str | None = None
    full_name: str | None = None


@attrs.frozen
class WorkApp:
    """The app a request is about (``targetWorkApp``)."""

    id: str | None = None
    name: str | None = None


@attrs.frozen
class RequestMetadata:
    """``data.requestMetadata`` of an `ActionableTaskEvent`."""

    reviewed_by: tuple[Person, ...] = ()
    request_type: str | None = None
    requested_by: Person | None = None
    target_work_app: WorkApp | None = None
    permission_level: Any = None
    target_user: Person | None = None


@attrs.frozen(eq=True, hash=False)
class WebhookEvent:
    """One verified event: its ``type`` (the envelope's ``eventType``) and raw ``data``."""

    type: str
    data: Mapping[str, Any] = attrs.field(repr=False)


@attrs.frozen(eq=True, hash=False)
class UnknownEvent(WebhookEvent):
    """An event of a type taskbridge does not know; ``data`` is the raw dict."""


@attrs.frozen(eq=True, hash=False)
class TestEvent(WebhookEvent):
    """Cakewalk's ``test`` event (``data.message`` is ``"Hello, World!"``)."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    message: str | None = None


@attrs.frozen(eq=True, hash=False)
class ActionableTaskEvent(WebhookEvent):
    """``action_task.actionable``: the action step of a Cakewalk task can be executed.

    ``ref`` is the `TaskRef` of the task (``("cakewalk", task_id)``), ready for
    `TaskBridge.get`; the event is a hint, the task as fetched is the truth.
    """

    task_id: str
    assigned_to: tuple[Any, ...] = ()
    request_metadata: RequestMetadata | None = None

    @property
    def ref(self) -> TaskRef:
        """The task, as ``TaskRef("cakewalk", task_id)``."""
        return TaskRef(Provider.CAKEWALK.value, self.task_id)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def make_webhooks_converter() -> cattrs.Converter:
    """The converter of the event payloads: camelCase wire names, extra keys ignored."""
    converter = cattrs.Converter(forbid_extra_keys=False)
    for cls in (Person, WorkApp, RequestMetadata):
        overrides: dict[str, Any] = {
            f.name: override(rename=_camel(f.name)) for f in attrs.fields(cls)
        }
        hook = make_dict_structure_fn(cls, converter, **overrides)
        converter.register_structure_hook(cls, hook)
    return converter


_CONVERTER = make_webhooks_converter()


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _actionable(data: Mapping[str, Any], index: int) -> ActionableTaskEvent:
    task_id = data.get("taskId")
    if not isinstance(task_id, str) or _UUID.fullmatch(task_id) is None:
        shown = repr(task_id[:80]) if isinstance(task_id, str) else type(task_id).__name__
        raise WebhookPayloadError(
            f"event {index}: {ACTIONABLE} data.taskId must be a canonical UUID, got {shown}"
        )
    assigned = data.get("assignedTo") or []
    metadata = data.get("requestMetadata")
    try:
        parsed = None if metadata is None else _CONVERTER.structure(metadata, RequestMetadata)
    except (cattrs.BaseValidationError, TypeError, ValueError, AttributeError) as exc:
        raise WebhookPayloadError(
            f"event {index}: {ACTIONABLE} data.requestMetadata does not fit: {type(exc).__name__}"
        ) from None
    if not isinstance(assigned, list):
        raise WebhookPayloadError(f"event {index}: {ACTIONABLE} data.assignedTo is not an array")
    return ActionableTaskEvent(ACTIONABLE, data, task_id.lower(), tuple(assigned), parsed)


def _event(envelope: object, index: int) -> WebhookEvent:
    if not isinstance(envelope, dict):
        raise WebhookPayloadError(f"event {index} is a {type(envelope).__name__}, not an object")
    kind = envelope.get("eventType")
    if not isinstance(kind, str):
        raise WebhookPayloadError(f"event {index} has no string 'eventType'")
    data = envelope.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WebhookPayloadError(
            f"event {index}: 'data' is a {type(data).__name__}, not an object"
        )
    if kind == ACTIONABLE:
        return _actionable(data, index)
    if kind == "test":
        return TestEvent(kind, data, _optional_str(data.get("message")))
    return UnknownEvent(kind, data)


def parse_events(body: bytes) -> list[WebhookEvent]:
    """Parse a verified body (one envelope or an array) into events.

    Raises:
        WebhookPayloadError: not JSON, or not envelopes of the documented shape.
    """
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise WebhookPayloadError(f"the body ({len(body)} bytes) is not JSON") from None
    envelopes = parsed if isinstance(parsed, list) else [parsed]
    return [_event(envelope, index) for index, envelope in enumerate(envelopes)]
