"""`UnifiedTask.to_dict` / `from_dict`: JSON-ready, wire-format ``detail``, exact round trip."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskbridge import DecodeError, TaskBridge, TaskStatus, UnifiedTask
from taskbridge.providers import get_spec
from taskbridge.providers.alumio import STATUS_MAP as ALUMIO_STATUS_MAP
from taskbridge.sandbox import Sandbox

from .test_fuzz import BODIES, decode, fixed_bodies, fuzz, near_misses

SNAKE = re.compile(r"[a-z0-9]_[a-z]")


def round_trip(task: UnifiedTask[Any]) -> UnifiedTask[Any]:
    data = task.to_dict()
    # Stdlib json, not orjson: the data must be plain JSON types already.
    return UnifiedTask.from_dict(json.loads(json.dumps(data, allow_nan=False)))


def wire_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in wire_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in wire_keys(v)}
    return set()


@pytest.mark.parametrize("provider", ["cakewalk", "alumio"])
@fuzz(150)
@given(data=st.data())
def test_round_trip_over_the_fuzz_corpus(provider: str, data: st.DataObject) -> None:
    task = decode(provider, data.draw(BODIES[provider]))
    assert round_trip(task) == task


@pytest.mark.parametrize("provider", ["cakewalk", "alumio"])
def test_round_trip_of_the_fixed_bodies(provider: str) -> None:
    for body in fixed_bodies(provider):
        task = decode(provider, body)
        assert round_trip(task) == task


@fuzz(60)
@given(status=near_misses(["Pending", "Approved", "InProgress"]))
def test_round_trip_keeps_an_unknown_enum_value_raw(status: str) -> None:
    body = fixed_bodies("cakewalk")[0]
    body["data"]["status"] = status
    task = decode("cakewalk", body)
    again = round_trip(task)
    assert again == task
    assert again.detail.status == status
    assert again.to_dict()["detail"]["status"] == status


def test_to_dict_is_json_ready_with_iso_datetimes_and_enum_values() -> None:
    task = decode("cakewalk", fixed_bodies("cakewalk")[0])
    data = task.to_dict()
    assert data["status"] == "pending" and type(data["status"]) is str
    assert data["created_at"] == task.created_at.isoformat()  # type: ignore[union-attr]
    assert set(data) == {
        "provider", "id", "status", "provider_status", "kind", "created_at", "updated_at", "detail"
    }  # fmt: skip
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize("provider", ["cakewalk", "alumio"])
async def test_detail_is_in_the_wire_format_the_api_sends(provider: str) -> None:
    async with Sandbox(seed=5) as sb:
        config = {f"{provider}": getattr(sb, f"{provider}_config")()}
        async with TaskBridge(**config) as bridge:  # type: ignore[arg-type]
            for task_id in sb.ids(provider)[:20]:
                task = await bridge.get(provider, task_id)
                detail = task.to_dict()["detail"]
                sent = sb.expected(provider, task_id)
                assert wire_keys(sent) <= wire_keys(detail)
                assert not {k for k in wire_keys(detail) - wire_keys(sent) if SNAKE.search(k)}
                assert UnifiedTask.from_dict(task.to_dict()) == task


def test_cakewalk_detail_uses_camel_case_and_self() -> None:
    detail = decode("cakewalk", fixed_bodies("cakewalk")[0]).to_dict()["detail"]
    assert "lastUpdatedAt" in detail and "last_updated_at" not in detail
    assert detail["assignedUser"]["statusName"] == "Active"


def good() -> dict[str, Any]:
    return decode("alumio", fixed_bodies("alumio")[0]).to_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda d: d.update(provider="jira"), "unknown provider", id="provider"),
        pytest.param(lambda d: d.update(status="done"), "unknown status", id="status"),
        pytest.param(lambda d: d.update(id=3), "'id' must be a string", id="id"),
        pytest.param(lambda d: d.update(created_at="yesterday"), "created_at", id="datetime"),
        pytest.param(lambda d: d.update(kind=1), "'kind'", id="kind"),
        pytest.param(lambda d: d.pop("detail"), "'detail' must be an object", id="no-detail"),
        pytest.param(
            lambda d: d["detail"].update(createdAt=5), r"\$\.createdAt", id="detail-field"
        ),
    ],
)
def test_from_dict_refuses_bad_data_with_a_decode_error(change: Any, message: str) -> None:
    data = good()
    change(data)
    with pytest.raises(DecodeError, match=message):
        UnifiedTask.from_dict(data)


def test_from_dict_refuses_a_non_mapping() -> None:
    with pytest.raises(DecodeError, match="mapping"):
        UnifiedTask.from_dict([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize("status", list(TaskStatus), ids=lambda s: s.value)
def test_from_dict_accepts_every_status_value(status: TaskStatus) -> None:
    raw = next((k for k, v in ALUMIO_STATUS_MAP.items() if v is status), "paused")
    data = good()
    data["detail"]["status"] = data["provider_status"] = getattr(raw, "value", raw)
    data["status"] = status.value
    assert UnifiedTask.from_dict(data).status is status


# A task that contradicts itself: the top level against what the adapter derives from
# `detail` (the red team's "id='not-the-same-id', status=failed with Approved").


def good_cakewalk() -> dict[str, Any]:
    return decode("cakewalk", fixed_bodies("cakewalk")[0]).to_dict()


CONTRADICTIONS = [
    pytest.param("id", "not-the-same-id", id="id"),
    pytest.param("status", "failed", id="status"),
    pytest.param("provider_status", "Declined", id="provider_status"),
    pytest.param("kind", "SomethingElse", id="kind"),
    pytest.param("created_at", "1999-01-01T00:00:00+00:00", id="created_at"),
    pytest.param("updated_at", None, id="updated_at"),
]


@pytest.mark.parametrize(("field", "value"), CONTRADICTIONS)
@pytest.mark.parametrize("make", [good, good_cakewalk], ids=["alumio", "cakewalk"])
def test_from_dict_refuses_a_top_level_that_contradicts_detail_naming_both(
    make: Any, field: str, value: Any
) -> None:
    data = make()
    before = data[field]
    data[field] = value
    with pytest.raises(DecodeError, match="contradicts itself") as caught:
        UnifiedTask.from_dict(data)
    assert f"{field!r} is {value!r}" in str(caught.value)
    assert repr(before) in str(caught.value)


def test_from_dict_takes_the_id_when_an_alumio_detail_names_none() -> None:
    data = good()
    data["detail"]["identifier"] = None
    data["id"] = "the-requested-id"
    assert UnifiedTask.from_dict(data).id == "the-requested-id"


def test_a_contradiction_shows_at_most_80_characters_of_each_value() -> None:
    data = good()
    data["id"] = "i" * 78  # its repr is 80 characters: shown whole
    with pytest.raises(DecodeError) as caught:
        UnifiedTask.from_dict(data)
    assert f"is {'i' * 78!r} but" in str(caught.value)
    data["id"] = "j" * 79  # 81: cut after 80, then "..."
    with pytest.raises(DecodeError) as caught:
        UnifiedTask.from_dict(data)
    assert f"is {repr('j' * 79)[:80]}... but" in str(caught.value)


def test_a_specs_unified_fields_are_the_tasks_own_plain_values() -> None:
    for provider in ("cakewalk", "alumio"):
        task = decode(provider, fixed_bodies(provider)[0])
        unified = get_spec(provider).unified
        assert unified is not None
        derived = unified(task.detail)
        assert derived == (task.id, task.status, task.provider_status, task.kind,
                           task.created_at, task.updated_at)  # fmt: skip
        assert type(derived[2]) is str  # the status as sent, not an enum member
