"""Typed models of the Cakewalk ``GET /api/v1/Tasks/{taskId}`` answers.

Field names are Python style; the converter maps them to the wire names
(``last_updated_at`` from ``lastUpdatedAt``, ``self_`` from ``self``). Enum-typed fields
are "open": a value the spec does not list is kept as its raw string.
UUID-formatted fields are kept as strings: they are identifiers to pass back, and
building ``uuid.UUID`` objects would dominate the decode time.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

from ..._decode.convert import wire
from ..._decode.deep import safe_repr

__all__ = [
    "CakewalkLinks",
    "CakewalkProblemDetails",
    "CakewalkRequest",
    "CakewalkSystemExecutionReason",
    "CakewalkTask",
    "CakewalkTaskRecord",
    "CakewalkTaskStatus",
    "CakewalkTaskType",
    "CakewalkUser",
    "ReviewOffboardingMetadata",
    "ReviewOnboardingMetadata",
]


class CakewalkTaskType(str, enum.Enum):
    """``TaskType``: what kind of task it is."""

    STAND_ALONE_BROWSER_EXTENSION_INSTALLATION_TASK = "StandAloneBrowserExtensionInstallationTask"
    STAND_ALONE_REVIEW_OFFBOARDING_TASK = "StandAloneReviewOffboardingTask"
    STAND_ALONE_REVIEW_ONBOARDING_TASK = "StandAloneReviewOnboardingTask"
    REQUEST_REVIEW_TASK = "RequestReviewTask"
    REQUEST_ACTION_TASK = "RequestActionTask"


class CakewalkTaskStatus(str, enum.Enum):
    """``TaskStatus``: where the task stands."""

    APPROVED = "Approved"
    DECLINED = "Declined"
    IN_PROGRESS = "InProgress"
    PENDING = "Pending"
    BLOCKED = "Blocked"
    DRAFTED = "Drafted"
    NO_CLAIMERS = "NoClaimers"
    CANCELLED = "Cancelled"


class CakewalkSystemExecutionReason(str, enum.Enum):
    """``TaskSystemExecutionReason``: why the system closed the task."""

    BROWSER_EXTENSION_INSTALLED = "BrowserExtensionInstalled"
    OFFBOARDING_CREATED = "OffboardingCreated"
    ONBOARDING_CREATED = "OnboardingCreated"
    USER_LINKED_TO_EXTERNAL_PROVIDER = "UserLinkedToExternalProvider"
    CAKEWALK_OWNER_OFFBOARDED = "CakewalkOwnerOffboarded"
    VALID_KOMBO_SYNC_RECEIVED_WITH_NULL_TERMINATION_DATE = (
        "ValidKomboSyncReceivedWithNullTerminationDate"
    )
    REQUEST_CANCELLED = "RequestCancelled"
    USER_GAINED_ACCESS_TO_WORK_APP_ALREADY = "UserGainedAccessToWorkAppAlready"
    USERS_GROUP_AUTO_PROVISIONING = "UsersGroupAutoProvisioning"
    CAKEWALK_AUTOPROVISIONING = "CakewalkAutoprovisioning"
    USER_ALREADY_PROVISIONED = "UserAlreadyProvisioned"
    OPEN_API = "OpenApi"
    USER_IGNORED = "UserIgnored"
    USER_MOVED_TO_MANAGED = "UserMovedToManaged"
    USER_TO_DEPROVISION_NOT_FOUND = "UserToDeprovisionNotFound"
    SYSTEM_INTEGRATION_COMPLETED_OPERATION = "SystemIntegrationCompletedOperation"


@attrs.frozen(kw_only=True)
class CakewalkUser:
    """``UserSimplifiedViewModelV1``: a user's identity and status."""

    id: str
    name: str
    email: str
    status_name: str
    status_id: int | None = None


@attrs.frozen(kw_only=True)
class CakewalkRequest:
    """``RequestSimplifiedViewModelV1``: the access request a task belongs to."""

    id: str
    request_type: str
    request_status: str
    requested_by_user_id: str
    work_app_id: str
    source_id: str
    created_at: datetime
    updated_at: datetime
    cancelled_by_user_id: str | None = None
    permission_level_id: str | None = None
    target_user_id: str | None = None
    request_purpose: str | None = None


@attrs.frozen(kw_only=True)
class ReviewOffboardingMetadata:
    """``ReviewOffboardingMetadataViewModelV1``: who is offboarded, from which app."""

    target_user: CakewalkUser
    external_integration_app_name: str
    termination_date: datetime | None = None


@attrs.frozen(kw_only=True)
class ReviewOnboardingMetadata:
    """``ReviewOnboardingMetadataViewModelV1``: who is onboarded, into which app."""

    onboarding_user_full_name: str
    onboarding_user_email: str
    external_integration_app_name: str
    external_connection_app_is_email_provider: bool | None = None
    starting_date: datetime | None = None


@attrs.frozen(kw_only=True)
class CakewalkTask:
    """``TaskDetailedViewModelV1``: one Cakewalk task with everything the API tells."""

    id: str
    type: CakewalkTaskType | str
    created_at: datetime
    status: CakewalkTaskStatus | str
    last_updated_at: datetime
    is_autoprovisioning: bool | None = None
    is_action_step: bool | None = None
    assigned_user: CakewalkUser | None = None
    claimers: list[CakewalkUser] | None = None
    executed_by_user: CakewalkUser | None = None
    request: CakewalkRequest | None = None
    snoozed_till: datetime | None = None
    offboarding_metadata: ReviewOffboardingMetadata | None = None
    onboarding_metadata: ReviewOnboardingMetadata | None = None
    rolled_out_by_user: CakewalkUser | None = None
    system_execution_reason: CakewalkSystemExecutionReason | str | None = None
    closed_reason: str | None = None


@attrs.frozen(kw_only=True)
class CakewalkLinks:
    """``LinksViewModel``: the record's own URL and the next page's, if any."""

    self_: str = attrs.field(metadata=wire("self"))
    next: str | None = None


@attrs.frozen(kw_only=True)
class CakewalkTaskRecord:
    """``TaskDetailedRecordViewModelV1``: the 200 body, a task and its links."""

    data: CakewalkTask
    links: CakewalkLinks


@attrs.frozen(kw_only=True)
class CakewalkProblemDetails:
    """``ProblemDetails`` (RFC 7807): Cakewalk's error body; unknown keys go to ``extensions``."""

    type: str | None = None
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None
    extensions: dict[str, Any] = attrs.field(factory=dict, repr=safe_repr)
