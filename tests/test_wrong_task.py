"""An answer for another task than the one asked for is a `DecodeError` naming both ids
(a misrouting proxy or cache must not swap tasks silently); ids compare as the provider
compares them. Duplicate keys: the last value wins, on both decoding paths, and an id
smuggled in as the last value is refused like any other wrong id.

The answers are bytes: the ScriptedServer answers a dict body for the task asked for."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from taskbridge import AlumioConfig, DecodeError, TaskBridge, TaskStatus
from taskbridge.providers import SchemaError

from .conftest import CAKEWALK_ID, ScriptedServer, alumio_body, cakewalk_body, dumps

OTHER_UUID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


def other_alumio_id() -> str:
    return f"SOMEONE-ELSES-TASK-{secrets.token_hex(16)}"


async def test_alumio_answer_for_another_task_is_a_decode_error_naming_both(
    server: ScriptedServer, bridge: TaskBridge
) -> None:
    other = other_alumio_id()
    server.answer_json(dumps(alumio_body(identifier=other)))
    with pytest.raises(DecodeError) as caught:
        await bridge.get("alumio", "my-task")
    assert "'my-task'" in str(caught.value) and repr(other) in str(caught.value)
    assert caught.value.task_id == "my-task"


async def test_alumio_identifiers_compare_exactly(
    server: ScriptedServer, bridge: TaskBridge
) -> None:
    server.answer_json(dumps(alumio_body(identifier="MY-TASK")))
    with pytest.raises(DecodeError, match="asked for 'my-task', got 'MY-TASK'"):
        await bridge.get("alumio", "my-task")


async def test_cakewalk_answer_for_another_task_is_a_decode_error_naming_both(
    server: ScriptedServer, bridge: TaskBridge
) -> None:
    server.answer_json(dumps(cakewalk_body(id=OTHER_UUID)))
    with pytest.raises(DecodeError) as caught:
        await bridge.get("cakewalk", CAKEWALK_ID)
    assert CAKEWALK_ID in str(caught.value) and OTHER_UUID in str(caught.value)


async def test_cakewalk_ids_compare_case_insensitively(
    server: ScriptedServer, bridge: TaskBridge
) -> None:
    server.answer_json(dumps(cakewalk_body(id=CAKEWALK_ID.upper())))
    task = await bridge.get("cakewalk", CAKEWALK_ID)
    assert task.id == CAKEWALK_ID.upper()


async def test_get_many_sets_the_wrong_task_error_on_that_result_only(
    server: ScriptedServer, bridge: TaskBridge
) -> None:
    other = other_alumio_id()
    server.answer_json(dumps(alumio_body(identifier=other)))
    [wrong] = await bridge.get_many([("alumio", "my-task")])
    assert isinstance(wrong.error, DecodeError) and other in str(wrong.error)


def alumio_raw(*pairs: tuple[str, Any]) -> bytes:
    """An Alumio answer whose task object holds ``pairs`` in order (keys may repeat)."""
    inner = ",".join(f"{dumps(k).decode()}:{dumps(v).decode()}" for k, v in pairs)
    return b'{"object":{' + inner.encode() + b"}}"


@pytest.mark.parametrize("path", ["fast", "checked"])
def test_a_duplicate_identifier_keeps_the_last_and_a_smuggled_id_is_refused(path: str) -> None:
    adapter = AlumioConfig("https://acme.alumio.com", "t" * 32).adapter()
    decode = adapter.decode_task if path == "fast" else adapter.decode_checked
    body = alumio_raw(("identifier", "other"), ("identifier", "my-task"))
    assert decode(body, "my-task").id == "my-task"
    smuggled = alumio_raw(("identifier", "my-task"), ("identifier", "other"))
    with pytest.raises(SchemaError, match="asked for 'my-task', got 'other'"):
        decode(smuggled, "my-task")


@pytest.mark.parametrize("path", ["fast", "checked"])
def test_a_duplicate_status_keeps_the_last_value(path: str) -> None:
    adapter = AlumioConfig("https://acme.alumio.com", "t" * 32).adapter()
    decode = adapter.decode_task if path == "fast" else adapter.decode_checked
    body = alumio_raw(("identifier", "t"), ("status", "finished"), ("status", "failed"))
    task = decode(body, "t")
    assert (task.status, task.provider_status) == (TaskStatus.FAILED, "failed")


def test_long_ids_are_shown_cut_after_80_characters_with_their_length() -> None:
    adapter = AlumioConfig("https://acme.alumio.com", "t" * 32).adapter()
    exactly, longer = "e" * 80, "f" * 81
    with pytest.raises(SchemaError) as caught:
        adapter.decode_task(alumio_raw(("identifier", exactly)), "my-task")
    assert str(caught.value).endswith(f"got {exactly!r}")  # whole, nothing after
    with pytest.raises(SchemaError) as caught:
        adapter.decode_task(alumio_raw(("identifier", longer)), "my-task")
    assert f"got {'f' * 80!r}... (81 characters)" in str(caught.value)
