"""The decoding contract every provider adapter keeps, as a pytest suite to subclass.

The built-in providers run it (``tests/test_decoding_contract.py``), and so can a
plug-in's tests: fill in the class attributes and `body`, and pytest collects the rest.

```python
from taskbridge.testing.contract import ProviderContract

class TestJiralikeContract(ProviderContract):
    config = JiralikeConfig("https://jira.example", "pat")
    task_id = "PROJ-1"
    statuses = {"open": TaskStatus.PENDING, "done": TaskStatus.SUCCEEDED}
    status_path = ("fields", "status")
    timestamp_paths = (("fields", "created"), ("fields", "updated"))
    required_paths = (("key",),)
    error_body = {"errorMessages": ["gone"]}
    bad_ids = ["", "no key"]

    def body(self) -> dict[str, Any]:
        return {"key": "PROJ-1", "fields": {...}}
```

Needs pytest (`aiotaskbridge[test]`); nothing else of taskbridge imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar
from urllib.parse import unquote

import orjson
import pytest

from .._base.errors import InvalidTaskIdError
from .._base.models import UnifiedTask
from .._base.status import TaskStatus
from .._decode.convert import SchemaError
from ..providers import ProviderAdapter, ProviderConfig, get_spec

__all__ = ["ProviderContract"]

Path = tuple[str, ...]

_NOT_A_DOCUMENT = (b"[]", b"null", b"1", b'"text"', b"true", b"{not json", b"")
_GARBAGE_ERRORS = (b"", b"null", b"[1, 2]", b"<html>502</html>", b'{"title": 5}', b"\xff\xfe")


def _set(doc: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def _drop(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return doc


class ProviderContract:
    """What every provider's adapter must do with its answers (subclass it as ``Test...``).

    Class attributes to set:
        config: a config of the provider (its base URL is never contacted).
        task_id: the id of the task `body` describes.
        statuses: each status string the provider documents, to its unified status.
        status_path: where the status string is in `body`.
        timestamp_paths: where the created and updated timestamps are (ISO 8601 strings).
        required_paths: fields whose absence must be a `SchemaError` naming them.
        error_body: an error answer with a title and/or detail the adapter reads.
        bad_ids: ids `check_id` must refuse with `InvalidTaskIdError`.
    """

    config: ClassVar[ProviderConfig]
    task_id: ClassVar[str]
    statuses: ClassVar[Mapping[str, TaskStatus]]
    status_path: ClassVar[Path]
    timestamp_paths: ClassVar[Sequence[Path]] = ()
    required_paths: ClassVar[Sequence[Path]] = ()
    error_body: ClassVar[Mapping[str, Any]]
    bad_ids: ClassVar[Sequence[object]] = ()

    def body(self) -> dict[str, Any]:
        """A full, valid 200 answer for `task_id`."""
        raise NotImplementedError

    # helpers

    @property
    def adapter(self) -> ProviderAdapter:
        return self.config.adapter()

    def decode(self, body: dict[str, Any] | bytes) -> UnifiedTask[Any]:
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        return self.adapter.decode_task(raw, self.task_id)

    def with_status(self, raw: str) -> dict[str, Any]:
        return _set(self.body(), self.status_path, raw)

    # the contract

    def test_a_full_body_decodes_into_a_unified_task(self) -> None:
        task = self.decode(self.body())
        assert isinstance(task, UnifiedTask)
        assert task.provider == self.adapter.name
        assert task.id == self.task_id
        assert task.detail is not None

    def test_every_documented_status_maps_to_its_unified_status(self) -> None:
        for raw, unified in self.statuses.items():
            task = self.decode(self.with_status(raw))
            assert (raw, task.status) == (raw, unified)
            assert task.is_terminal is unified.is_terminal

    def test_the_provider_status_is_the_string_as_sent(self) -> None:
        for raw in self.statuses:
            assert self.decode(self.with_status(raw)).provider_status == raw

    def test_an_unknown_status_is_unknown_and_kept_raw(self) -> None:
        for raw in ("SomethingNew", "x" * 300, next(iter(self.statuses)).swapcase() + "!"):
            task = self.decode(self.with_status(raw))
            assert (task.status, task.provider_status) == (TaskStatus.UNKNOWN, raw)
            assert not task.is_terminal

    def test_unknown_keys_are_ignored(self) -> None:
        plain = self.decode(self.body())
        body = self.body()
        body["unknownTopLevelKey"] = {"nested": [1, 2, 3]}
        _set(body, (*self.status_path[:-1], "unknownFieldOfTheTask"), "ignored")
        assert self.decode(body) == plain

    def test_a_body_that_is_not_a_document_is_a_schema_error(self) -> None:
        for raw in _NOT_A_DOCUMENT:
            with pytest.raises(SchemaError):
                self.decode(raw)

    def test_a_missing_required_field_is_a_schema_error_naming_it(self) -> None:
        for path in self.required_paths:
            with pytest.raises(SchemaError, match=path[-1]):
                self.decode(_drop(self.body(), path))

    def test_a_mistyped_status_is_a_schema_error_naming_it(self) -> None:
        with pytest.raises(SchemaError, match=self.status_path[-1]):
            self.decode(_set(self.body(), self.status_path, {"not": "a string"}))

    def test_a_naive_timestamp_is_taken_as_utc(self) -> None:
        for path in self.timestamp_paths:
            task = self.decode(_set(self.body(), path, "2026-03-01T09:30:00"))
            moment = self._moment(task, path)
            assert moment == datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
            assert moment.utcoffset() == timedelta(0)

    def test_a_timestamp_offset_is_kept(self) -> None:
        for path in self.timestamp_paths:
            task = self.decode(_set(self.body(), path, "2026-03-01T09:30:00+05:30"))
            assert self._moment(task, path).utcoffset() == timedelta(hours=5, minutes=30)

    def _moment(self, task: UnifiedTask[Any], path: Path) -> datetime:
        index = list(self.timestamp_paths).index(path)
        moment = (task.created_at, task.updated_at)[index]
        assert moment is not None, path
        return moment

    def test_an_error_body_gives_its_title_or_detail(self) -> None:
        info = self.adapter.decode_error(orjson.dumps(dict(self.error_body)))
        assert info.title is not None or info.detail is not None
        assert info.body is not None

    def test_decode_error_never_raises(self) -> None:
        for raw in _GARBAGE_ERRORS:
            info = self.adapter.decode_error(raw)
            assert info is not None

    def test_a_task_survives_to_dict_and_from_dict(self) -> None:
        if get_spec(self.adapter.name).detail_format is None:
            pytest.skip(
                f"{self.adapter.name} declares no detail_format: its tasks do not serialize"
            )
        task = self.decode(self.body())
        assert UnifiedTask.from_dict(orjson.loads(orjson.dumps(task.to_dict()))) == task

    def test_the_checked_decoder_agrees_with_the_fast_one(self) -> None:
        checked = getattr(self.adapter, "decode_checked", None)
        if checked is None:
            pytest.skip("the adapter has a single decoder")
        raw = orjson.dumps(self.body())
        assert checked(raw, self.task_id) == self.adapter.decode_task(raw, self.task_id)

    def test_bad_ids_are_refused_before_any_request(self) -> None:
        for bad in self.bad_ids:
            with pytest.raises(InvalidTaskIdError):
                self.adapter.check_id(bad)

    def test_the_request_carries_the_id_as_its_last_segment_and_no_secret_in_its_repr(
        self,
    ) -> None:
        checked = self.adapter.check_id(self.task_id)
        request = self.adapter.request(checked)
        assert unquote(request.url.raw_path.rsplit("/", 1)[-1]) == checked
        shown = repr(request) + repr(self.adapter) + repr(self.config)
        for secret in getattr(self.config, "secrets", ()):
            assert secret not in shown
