"""Cakewalk only: its enums, nulls, required fields, datetimes and error body (what every
provider shares is `tests/test_decoding_contract.py`).

Pure unit tests of the adapter: `CakewalkConfig(...).adapter().decode_task(body, id)`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from taskbridge import CakewalkConfig, TaskStatus, UnifiedTask
from taskbridge._decode.convert import SchemaError, parse_datetime
from taskbridge.providers.cakewalk import (
    CakewalkLinks,
    CakewalkProblemDetails,
    CakewalkRequest,
    CakewalkSystemExecutionReason,
    CakewalkTask,
    CakewalkTaskRecord,
    CakewalkTaskStatus,
    CakewalkTaskType,
    CakewalkUser,
    ReviewOffboardingMetadata,
    ReviewOnboardingMetadata,
    make_cakewalk_converter,
)
from taskbridge.providers.cakewalk._converter import parse_problem_details

from ._asked import asked_for
from .conftest import CAKEWALK_ID, KEY, SECRET, cakewalk_body, cakewalk_task

UTC = timezone.utc
CANCELLED_BY = "7b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b"
TARGET_USER = "8b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b"


def full_task(**overrides: Any) -> dict[str, Any]:
    """The conftest task with every nullable field given a value (none left null)."""
    task = cakewalk_task(**overrides)
    if isinstance(task.get("request"), dict):
        task["request"] = {
            **task["request"],
            "cancelledByUserId": CANCELLED_BY,
            "targetUserId": TARGET_USER,
        }
    return task


def full_body(**overrides: Any) -> dict[str, Any]:
    return {
        "data": full_task(**overrides),
        "links": {"self": f"/api/v1/Tasks/{CAKEWALK_ID}", "next": "/api/v1/Tasks?cursor=abc"},
    }


def decode(body: Any) -> UnifiedTask[CakewalkTask]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    adapter = CakewalkConfig(KEY, SECRET).adapter()
    return adapter.decode_task(raw, asked_for("cakewalk", raw, CAKEWALK_ID))


def set_path(doc: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def del_path(doc: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return doc


def get_attr(obj: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        obj = obj[key] if isinstance(key, int) else getattr(obj, key)
    return obj


# --- statuses, types, reasons -------------------------------------------------------

STATUSES = [
    pytest.param("Pending", TaskStatus.PENDING, False, id="Pending"),
    pytest.param("Drafted", TaskStatus.PENDING, False, id="Drafted"),
    pytest.param("InProgress", TaskStatus.RUNNING, False, id="InProgress"),
    pytest.param("Blocked", TaskStatus.WAITING, False, id="Blocked"),
    pytest.param("NoClaimers", TaskStatus.WAITING, False, id="NoClaimers"),
    pytest.param("Approved", TaskStatus.SUCCEEDED, True, id="Approved"),
    pytest.param("Declined", TaskStatus.REJECTED, True, id="Declined"),
    pytest.param("Cancelled", TaskStatus.CANCELLED, True, id="Cancelled"),
]


@pytest.mark.parametrize(("raw", "expected", "terminal"), STATUSES)
def test_spec_status_decodes_to_its_enum_member(
    raw: str, expected: TaskStatus, terminal: bool
) -> None:
    assert decode(cakewalk_body(status=raw)).detail.status is CakewalkTaskStatus(raw)


TASK_TYPES = [
    "StandAloneBrowserExtensionInstallationTask",
    "StandAloneReviewOffboardingTask",
    "StandAloneReviewOnboardingTask",
    "RequestReviewTask",
    "RequestActionTask",
]


@pytest.mark.parametrize("raw", [pytest.param(t, id=t) for t in TASK_TYPES])
def test_task_type_becomes_kind(raw: str) -> None:
    task = decode(cakewalk_body(type=raw))
    assert (task.kind, type(task.kind), task.detail.type) == (raw, str, CakewalkTaskType(raw))


REASONS = [
    "BrowserExtensionInstalled",
    "OffboardingCreated",
    "OnboardingCreated",
    "UserLinkedToExternalProvider",
    "CakewalkOwnerOffboarded",
    "ValidKomboSyncReceivedWithNullTerminationDate",
    "RequestCancelled",
    "UserGainedAccessToWorkAppAlready",
    "UsersGroupAutoProvisioning",
    "CakewalkAutoprovisioning",
    "UserAlreadyProvisioned",
    "OpenApi",
    "UserIgnored",
    "UserMovedToManaged",
    "UserToDeprovisionNotFound",
    "SystemIntegrationCompletedOperation",
]


@pytest.mark.parametrize("raw", [pytest.param(r, id=r) for r in REASONS])
def test_system_execution_reason_decodes_to_its_enum_member(raw: str) -> None:
    reason = decode(cakewalk_body(systemExecutionReason=raw)).detail.system_execution_reason
    assert isinstance(reason, CakewalkSystemExecutionReason)
    assert reason.value == raw


def test_unknown_status_is_unknown_with_raw_provider_status() -> None:
    task = decode(cakewalk_body(status="Escalated"))
    assert (task.status, task.provider_status, task.detail.status) == (
        TaskStatus.UNKNOWN,
        "Escalated",
        "Escalated",
    )


def test_status_match_is_case_sensitive() -> None:
    task = decode(cakewalk_body(status="approved"))
    assert (task.status, task.provider_status) == (TaskStatus.UNKNOWN, "approved")


def test_unknown_task_type_is_kept_as_kind() -> None:
    task = decode(cakewalk_body(type="StandAloneSomethingNewTask"))
    assert (task.kind, task.detail.type) == (
        "StandAloneSomethingNewTask",
        "StandAloneSomethingNewTask",
    )


def test_unknown_system_execution_reason_is_kept_raw() -> None:
    reason = decode(cakewalk_body(systemExecutionReason="BrandNewReason")).detail
    assert (reason.system_execution_reason, type(reason.system_execution_reason)) == (
        "BrandNewReason",
        str,
    )


# --- nullable and optional fields ---------------------------------------------------

# (wire path under "data", attribute path on CakewalkTask)
OPTIONAL_FIELDS = [
    (("isAutoprovisioning",), ("is_autoprovisioning",)),
    (("isActionStep",), ("is_action_step",)),
    (("assignedUser",), ("assigned_user",)),
    (("claimers",), ("claimers",)),
    (("executedByUser",), ("executed_by_user",)),
    (("request",), ("request",)),
    (("snoozedTill",), ("snoozed_till",)),
    (("offboardingMetadata",), ("offboarding_metadata",)),
    (("onboardingMetadata",), ("onboarding_metadata",)),
    (("rolledOutByUser",), ("rolled_out_by_user",)),
    (("systemExecutionReason",), ("system_execution_reason",)),
    (("closedReason",), ("closed_reason",)),
    (("assignedUser", "statusId"), ("assigned_user", "status_id")),
    (("claimers", 0, "statusId"), ("claimers", 0, "status_id")),
    (("request", "cancelledByUserId"), ("request", "cancelled_by_user_id")),
    (("request", "permissionLevelId"), ("request", "permission_level_id")),
    (("request", "targetUserId"), ("request", "target_user_id")),
    (("request", "requestPurpose"), ("request", "request_purpose")),
    (("offboardingMetadata", "terminationDate"), ("offboarding_metadata", "termination_date")),
    (
        ("onboardingMetadata", "externalConnectionAppIsEmailProvider"),
        ("onboarding_metadata", "external_connection_app_is_email_provider"),
    ),
    (("onboardingMetadata", "startingDate"), ("onboarding_metadata", "starting_date")),
]
OPTIONAL_PARAMS = [
    pytest.param(wire, attr, id=".".join(map(str, wire))) for wire, attr in OPTIONAL_FIELDS
]


@pytest.mark.parametrize(("wire", "attr"), OPTIONAL_PARAMS)
def test_optional_field_has_a_value_in_the_full_body(
    wire: tuple[str | int, ...], attr: tuple[str | int, ...]
) -> None:
    # Guards the two tests below: they would prove nothing on a field already None.
    assert get_attr(decode(full_body()).detail, attr) is not None


@pytest.mark.parametrize(("wire", "attr"), OPTIONAL_PARAMS)
def test_optional_field_set_to_null_decodes_to_none(
    wire: tuple[str | int, ...], attr: tuple[str | int, ...]
) -> None:
    body = set_path(full_body(), ("data", *wire), None)
    assert get_attr(decode(body).detail, attr) is None


@pytest.mark.parametrize(("wire", "attr"), OPTIONAL_PARAMS)
def test_optional_field_absent_decodes_to_none(
    wire: tuple[str | int, ...], attr: tuple[str | int, ...]
) -> None:
    body = del_path(full_body(), ("data", *wire))
    assert get_attr(decode(body).detail, attr) is None


def test_links_next_null_decodes_to_none() -> None:
    body = set_path(full_body(), ("links", "next"), None)
    assert make_cakewalk_converter().structure(body, CakewalkTaskRecord).links.next is None


def test_links_next_absent_decodes_to_none() -> None:
    body = del_path(full_body(), ("links", "next"))
    assert make_cakewalk_converter().structure(body, CakewalkTaskRecord).links.next is None


def test_minimal_task_with_only_required_fields_decodes() -> None:
    minimal = {k: full_task()[k] for k in ("id", "type", "createdAt", "status", "lastUpdatedAt")}
    detail = decode({"data": minimal, "links": {"self": "/x"}}).detail
    assert detail == CakewalkTask(
        id=CAKEWALK_ID,
        type=CakewalkTaskType.REQUEST_REVIEW_TASK,
        created_at=datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC),
        status=CakewalkTaskStatus.PENDING,
        last_updated_at=datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=2))),
    )


# --- every field ------------------------------------------------------------------

USER = CakewalkUser(
    id="0b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
    name="Ada Lovelace",
    email="ada@example.com",
    status_id=1,
    status_name="Active",
)


def test_full_body_decodes_every_field_of_the_spec() -> None:
    expected = CakewalkTask(
        id=CAKEWALK_ID,
        type=CakewalkTaskType.REQUEST_REVIEW_TASK,
        created_at=datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC),
        status=CakewalkTaskStatus.PENDING,
        last_updated_at=datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=2))),
        is_autoprovisioning=False,
        is_action_step=True,
        assigned_user=USER,
        claimers=[
            USER,
            CakewalkUser(
                id="1b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
                name="Ada Lovelace",
                email="ada@example.com",
                status_id=1,
                status_name="Active",
            ),
        ],
        executed_by_user=USER,
        request=CakewalkRequest(
            id="2b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
            request_type="Access",
            request_status="Open",
            requested_by_user_id="3b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
            cancelled_by_user_id=CANCELLED_BY,
            work_app_id="4b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
            permission_level_id="5b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
            target_user_id=TARGET_USER,
            request_purpose="Quarterly report",
            source_id="6b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
            created_at=datetime(2026, 2, 28, 8, 0, tzinfo=UTC),
            updated_at=datetime(2026, 2, 28, 8, 5, tzinfo=UTC),
        ),
        snoozed_till=datetime(2026, 3, 5, tzinfo=UTC),
        offboarding_metadata=ReviewOffboardingMetadata(
            target_user=USER,
            external_integration_app_name="Personio",
            termination_date=datetime(2026, 4, 1, tzinfo=UTC),
        ),
        onboarding_metadata=ReviewOnboardingMetadata(
            onboarding_user_full_name="Grace Hopper",
            onboarding_user_email="grace@example.com",
            external_integration_app_name="HiBob",
            external_connection_app_is_email_provider=True,
            starting_date=datetime(2026, 5, 1, tzinfo=UTC),
        ),
        rolled_out_by_user=USER,
        system_execution_reason=CakewalkSystemExecutionReason.OPEN_API,
        closed_reason="approved by owner",
    )
    assert decode(full_body()).detail == expected


def test_unified_fields_come_from_the_task() -> None:
    task = decode(full_body())
    assert (task.provider, task.id, task.kind, task.created_at, task.updated_at) == (
        "cakewalk",
        CAKEWALK_ID,
        "RequestReviewTask",
        datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC),
        datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
    )


def test_unified_id_is_the_body_id_not_the_requested_one() -> None:
    # UUIDs compare case-insensitively: the body's spelling is the one kept.
    shouted = CAKEWALK_ID.upper()
    adapter = CakewalkConfig(KEY, SECRET).adapter()
    task = adapter.decode_task(orjson.dumps(cakewalk_body(id=shouted)), CAKEWALK_ID)
    assert task.id == shouted


def test_request_work_app_id_is_decoded() -> None:
    request = decode(full_body()).detail.request
    assert request is not None
    assert request.work_app_id == "4b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b"


def test_links_self_is_renamed_to_self_underscore() -> None:
    record = make_cakewalk_converter().structure(full_body(), CakewalkTaskRecord)
    assert record.links == CakewalkLinks(
        self_=f"/api/v1/Tasks/{CAKEWALK_ID}", next="/api/v1/Tasks?cursor=abc"
    )


def test_converter_decodes_the_whole_record() -> None:
    record = make_cakewalk_converter().structure(full_body(), CakewalkTaskRecord)
    assert record.data == decode(full_body()).detail


def test_make_cakewalk_converter_returns_a_new_converter_each_time() -> None:
    assert make_cakewalk_converter() is not make_cakewalk_converter()


# --- unknown keys -----------------------------------------------------------------

EXTRA_KEY_PATHS = [
    pytest.param((), id="top-level"),
    pytest.param(("data",), id="data"),
    pytest.param(("data", "assignedUser"), id="assignedUser"),
    pytest.param(("data", "claimers", 1), id="claimers-item"),
    pytest.param(("data", "request"), id="request"),
    pytest.param(("data", "offboardingMetadata"), id="offboardingMetadata"),
    pytest.param(("data", "offboardingMetadata", "targetUser"), id="targetUser"),
    pytest.param(("data", "onboardingMetadata"), id="onboardingMetadata"),
    pytest.param(("links",), id="links"),
]


@pytest.mark.parametrize("where", EXTRA_KEY_PATHS)
def test_extra_keys_are_ignored(where: tuple[str | int, ...]) -> None:
    body = full_body()
    set_path(body, (*where, "someNewField"), {"anything": [1, 2, 3]})
    assert decode(body) == decode(full_body())


# --- required and mistyped fields -------------------------------------------------

MISSING_REQUIRED = [
    pytest.param(("data", "id"), "$.data.id", id="id"),
    pytest.param(("data", "type"), "$.data.type", id="type"),
    pytest.param(("data", "createdAt"), "$.data.createdAt", id="createdAt"),
    pytest.param(("data", "status"), "$.data.status", id="status"),
    pytest.param(("data", "lastUpdatedAt"), "$.data.lastUpdatedAt", id="lastUpdatedAt"),
    pytest.param(("data", "assignedUser", "email"), "$.data.assignedUser.email", id="user-email"),
    pytest.param(("data", "claimers", 1, "id"), "$.data.claimers[1].id", id="claimer-id"),
    pytest.param(("data", "request", "workAppId"), "$.data.request.workAppId", id="workAppId"),
    pytest.param(
        ("data", "offboardingMetadata", "targetUser"),
        "$.data.offboardingMetadata.targetUser",
        id="targetUser",
    ),
    pytest.param(
        ("data", "onboardingMetadata", "onboardingUserEmail"),
        "$.data.onboardingMetadata.onboardingUserEmail",
        id="onboardingUserEmail",
    ),
    pytest.param(("data",), "$.data", id="data"),
    pytest.param(("links",), "$.links", id="links"),
    pytest.param(("links", "self"), "$.links.self", id="links-self"),
]


@pytest.mark.parametrize(("path", "named"), MISSING_REQUIRED)
def test_missing_required_field_is_a_schema_error_naming_it(
    path: tuple[str | int, ...], named: str
) -> None:
    with pytest.raises(SchemaError, match=rf"missing @ {re.escape(named)}(;|$)"):
        decode(del_path(full_body(), path))


MISTYPED = [
    pytest.param(("data", "id"), 42, "$.data.id", id="id-int"),
    pytest.param(("data", "id"), None, "$.data.id", id="id-null"),
    pytest.param(("data", "type"), None, "$.data.type", id="type-null"),
    pytest.param(("data", "type"), ["RequestReviewTask"], "$.data.type", id="type-list"),
    pytest.param(("data", "createdAt"), 123, "$.data.createdAt", id="createdAt-int"),
    pytest.param(("data", "createdAt"), "not a date", "$.data.createdAt", id="createdAt-text"),
    pytest.param(("data", "createdAt"), None, "$.data.createdAt", id="createdAt-null"),
    pytest.param(("data", "status"), 5, "$.data.status", id="status-int"),
    pytest.param(("data", "status"), None, "$.data.status", id="status-null"),
    pytest.param(("data", "lastUpdatedAt"), "2026-13-45", "$.data.lastUpdatedAt", id="lastUpd"),
    pytest.param(("data", "isActionStep"), "yes", "$.data.isActionStep", id="isActionStep-str"),
    pytest.param(("data", "isAutoprovisioning"), 1, "$.data.isAutoprovisioning", id="isAuto-int"),
    pytest.param(("data", "closedReason"), 7, "$.data.closedReason", id="closedReason-int"),
    pytest.param(("data", "snoozedTill"), "soon", "$.data.snoozedTill", id="snoozedTill"),
    pytest.param(("data", "assignedUser"), "ada", "$.data.assignedUser", id="user-as-string"),
    pytest.param(("data", "assignedUser"), [], "$.data.assignedUser", id="user-as-list"),
    pytest.param(("data", "claimers"), "", "$.data.claimers", id="claimers-as-string"),
    pytest.param(("data", "claimers"), {}, "$.data.claimers", id="claimers-as-object"),
    pytest.param(
        ("data", "assignedUser", "statusId"), "1", "$.data.assignedUser.statusId", id="statusId-str"
    ),
    pytest.param(
        ("data", "assignedUser", "statusId"),
        True,
        "$.data.assignedUser.statusId",
        id="statusId-bool",
    ),
    pytest.param(
        ("data", "assignedUser", "email"), None, "$.data.assignedUser.email", id="user-email-null"
    ),
    pytest.param(
        ("data", "systemExecutionReason"), 3, "$.data.systemExecutionReason", id="reason-int"
    ),
    pytest.param(("data",), "task", "$.data", id="data-as-string"),
    pytest.param(("links", "self"), None, "$.links.self", id="links-self-null"),
]


@pytest.mark.parametrize(("path", "value", "named"), MISTYPED)
def test_mistyped_field_is_a_schema_error_naming_it(
    path: tuple[str | int, ...], value: Any, named: str
) -> None:
    with pytest.raises(SchemaError, match=rf" @ {re.escape(named)}(;|$)"):
        decode(set_path(full_body(), path, value))


def test_schema_error_names_every_bad_field() -> None:
    body = full_body(id=1, status=2)
    with pytest.raises(SchemaError) as info:
        decode(body)
    assert ("$.data.id" in str(info.value), "$.data.status" in str(info.value)) == (True, True)


def test_schema_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="id"):
        decode(full_body(id=1))


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b"not json", id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(b"null", id="null"),
        pytest.param(b"[]", id="array"),
        pytest.param(orjson.dumps([cakewalk_body()]), id="array-of-bodies"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"42", id="number"),
        pytest.param(b"{}", id="empty-object"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
    ],
)
def test_body_that_is_not_a_task_document_is_a_schema_error(raw: bytes) -> None:
    with pytest.raises(SchemaError):
        decode(raw)


# --- datetimes ----------------------------------------------------------------------


def test_created_at_is_timezone_aware() -> None:
    assert decode(cakewalk_body()).created_at.tzinfo is not None  # type: ignore[union-attr]


def test_seven_fraction_digits_round_half_up_to_the_microsecond() -> None:
    # As msgspec rounds (the fast path and the fallback must agree): .NET's 7th digit.
    created = decode(cakewalk_body(createdAt="2026-03-01T09:30:00.1234567Z")).created_at
    assert created == datetime(2026, 3, 1, 9, 30, 0, 123457, tzinfo=UTC)
    created = decode(cakewalk_body(createdAt="2026-03-01T09:30:00.1234564Z")).created_at
    assert created == datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)


def test_nested_naive_datetime_is_taken_as_utc() -> None:
    body = set_path(full_body(), ("data", "request", "createdAt"), "2026-02-28T08:00:00")
    request = decode(body).detail.request
    assert request is not None
    assert request.created_at.utcoffset() == timedelta(0)


PARSE_CASES = [
    pytest.param("2026-03-01T09:30:00Z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC), id="Z"),
    pytest.param("2026-03-01T09:30:00z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC), id="lower-z"),
    pytest.param(
        "2026-03-01T09:30:00.1234567Z",
        datetime(2026, 3, 1, 9, 30, 0, 123457, tzinfo=UTC),
        id="7-digits",
    ),
    pytest.param(
        "2026-03-01T09:30:00.12345649Z",
        datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC),
        id="8-digits-down",
    ),
    pytest.param(
        "2026-12-31T23:59:59.9999995z",
        datetime(2027, 1, 1, tzinfo=UTC),
        id="carry-into-next-year",
    ),
    pytest.param(
        "9999-12-31T23:59:59.9999999",
        datetime.max.replace(tzinfo=UTC),
        id="dotnet-max-value-saturates",
    ),
    pytest.param(
        "2026-03-01T09:30:00.1Z", datetime(2026, 3, 1, 9, 30, 0, 100000, tzinfo=UTC), id="1-digit"
    ),
    pytest.param(
        "2026-03-01T09:30:00.12345Z",
        datetime(2026, 3, 1, 9, 30, 0, 123450, tzinfo=UTC),
        id="5-digits",
    ),
    pytest.param(
        "2026-03-01T09:30:00,5Z", datetime(2026, 3, 1, 9, 30, 0, 500000, tzinfo=UTC), id="comma"
    ),
    pytest.param(
        "2026-03-01T09:30:00.123+05:30",
        datetime(2026, 3, 1, 9, 30, 0, 123000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        id="offset",
    ),
    pytest.param(
        "2026-03-01T09:30:00.1234567+0530",
        datetime(2026, 3, 1, 9, 30, 0, 123457, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        id="offset-no-colon",
    ),
    pytest.param(
        "2026-03-01T09:30:00-07:00",
        datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-7))),
        id="negative-offset",
    ),
    pytest.param("2026-03-01T09:30:00", datetime(2026, 3, 1, 9, 30, tzinfo=UTC), id="naive"),
    pytest.param("2026-03-01 09:30", datetime(2026, 3, 1, 9, 30, tzinfo=UTC), id="space-hh-mm"),
    pytest.param(
        "2026-03-01T09:30:00.123456",
        datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC),
        id="naive-6-digits",
    ),
]

# Python 3.10's narrower `datetime.fromisoformat` is covered by the suite's 3.10 run.


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse_datetime_keeps_instant_and_offset(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert (parsed, parsed.utcoffset()) == (expected, expected.utcoffset())


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("not a date", id="text"),
        pytest.param("", id="empty"),
        pytest.param("2026-13-01T00:00:00Z", id="month-13"),
        pytest.param("2026-03-01T25:00:00Z", id="hour-25"),
        pytest.param("2026-03-01T09:30:00Zjunk", id="trailing-junk"),
    ],
)
def test_parse_datetime_rejects_non_iso_text(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is not the behaviour
        parse_datetime(text)


# --- error bodies -------------------------------------------------------------------


def test_problem_details_full_body_is_parsed() -> None:
    body = {
        "type": "https://tools.ietf.org/html/rfc7231#section-6.5.4",
        "title": "Not Found",
        "status": 404,
        "detail": "Task not found",
        "instance": "/api/v1/Tasks/x",
    }
    assert parse_problem_details(orjson.dumps(body)) == CakewalkProblemDetails(
        type="https://tools.ietf.org/html/rfc7231#section-6.5.4",
        title="Not Found",
        status=404,
        detail="Task not found",
        instance="/api/v1/Tasks/x",
        extensions={},
    )


def test_problem_details_extensions_are_kept() -> None:
    body = {"title": "Bad", "traceId": "00-abc-01", "errors": {"id": ["not a uuid"]}}
    problem = parse_problem_details(orjson.dumps(body))
    assert problem is not None
    assert problem.extensions == {"traceId": "00-abc-01", "errors": {"id": ["not a uuid"]}}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("type", 1, id="type-int"),
        pytest.param("title", ["x"], id="title-list"),
        pytest.param("status", "404", id="status-str"),
        pytest.param("status", True, id="status-bool"),
        pytest.param("status", 404.0, id="status-float"),
        pytest.param("detail", {"a": 1}, id="detail-object"),
        pytest.param("instance", None, id="instance-null"),
    ],
)
def test_problem_details_field_of_wrong_type_is_dropped(key: str, value: Any) -> None:
    problem = parse_problem_details(orjson.dumps({"title": "kept", key: value}))
    assert problem is not None
    assert (getattr(problem, key), problem.title if key != "title" else "kept") == (None, "kept")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"<html>Bad Gateway</html>", id="html"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b"null", id="null"),
        pytest.param(b'"text"', id="string"),
    ],
)
def test_problem_details_of_a_non_object_body_is_none(raw: bytes) -> None:
    assert parse_problem_details(raw) is None


def test_adapter_decode_error_carries_title_detail_and_body() -> None:
    raw = orjson.dumps({"title": "Unauthorized", "status": 401, "detail": "bad key"})
    info = CakewalkConfig(KEY, SECRET).adapter().decode_error(raw)
    assert (info.title, info.detail, info.body) == (
        "Unauthorized",
        "bad key",
        CakewalkProblemDetails(title="Unauthorized", status=401, detail="bad key"),
    )


def test_adapter_decode_error_never_raises_on_garbage() -> None:
    info = CakewalkConfig(KEY, SECRET).adapter().decode_error(b"\x00\xff garbage")
    assert (info.title, info.detail, info.body) == (None, None, None)
