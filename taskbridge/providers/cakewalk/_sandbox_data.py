"""Deterministic Cakewalk tasks, written as Cakewalk puts them on the wire.

Every choice that a test wants covered (each enum value, each nullable field set
and null, optional keys absent) hangs off a task's *slot*: the seeded set uses
slots ``0, 1, 2, ...`` so a set of 50 covers everything; on-demand templates use
their index. Everything else comes from a ``random.Random`` seeded per task.
"""

from __future__ import annotations

import random
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

from .._kit.emulation import person, pick, random_moment, task_rng

__all__ = [
    "CAKEWALK_REASONS",
    "CAKEWALK_STATUSES",
    "CAKEWALK_TYPES",
    "cakewalk_content_type",
    "cakewalk_task",
    "seeded_cakewalk",
    "uuid4",
]

CAKEWALK_STATUSES = (
    "Approved",
    "Declined",
    "InProgress",
    "Pending",
    "Blocked",
    "Drafted",
    "NoClaimers",
    "Cancelled",
)
CAKEWALK_TYPES = (
    "StandAloneBrowserExtensionInstallationTask",
    "StandAloneReviewOffboardingTask",
    "StandAloneReviewOnboardingTask",
    "RequestReviewTask",
    "RequestActionTask",
)
CAKEWALK_REASONS = (
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
)
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)
CAKEWALK_CONTENT_TYPES = ("application/json", "text/json", "text/plain")

_APPS = (
    "Slack", "Google Workspace", "Microsoft 365", "Salesforce", "Jira", "Figma", "Notion",
    "GitHub", "HubSpot", "Zoom", "Personio", "BambooHR",
)  # fmt: skip
_USER_STATUSES = ((1, "Active"), (2, "Invited"), (3, "Offboarded"), (4, "Suspended"))
_REQUEST_TYPES = ("Access", "Deprovision", "PermissionChange", "NewApp")
_REQUEST_STATUSES = ("Open", "Approved", "Declined", "Cancelled", "Completed")
_PURPOSES = (
    "Needed for the Q3 campaign",
    "Onboarding into the design team",
    "Temporary access for an audit",
    "Replacing a shared account",
)
_CLOSED_REASONS = (
    "Approved by the app owner",
    "Duplicate of an earlier request",
    "Access no longer needed",
    "Declined: use the team workspace instead",
)
_OPEN_STATUSES = frozenset({"InProgress", "Pending", "Blocked", "NoClaimers"})
_OFFSETS = (2, -5, 5.5, 1)


def cakewalk_content_type(task_id: str) -> str:
    """Return the 200 content type for a Cakewalk id; it rotates among the spec's three."""
    return CAKEWALK_CONTENT_TYPES[zlib.crc32(task_id.encode()) % 3]


def uuid4(rng: random.Random) -> str:
    # What str(uuid.UUID(int=..., version=4)) gives, without building the object.
    bits = rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _dotnet_time(rng: random.Random, moment: datetime) -> str:
    """Format as ASP.NET does: ``Z`` with 0-7 fraction digits, or an offset."""
    style = rng.randrange(5)
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 1:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if style == 2:
        # DateTime's 100 ns ticks give seven digits, which strict ISO parsers must handle.
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{rng.randrange(1, 10)}Z"
    local = moment.astimezone(timezone(timedelta(hours=pick(rng, _OFFSETS))))
    if style == 3:
        return local.isoformat(timespec="seconds")
    return local.isoformat(timespec="microseconds")


def _cakewalk_user(rng: random.Random) -> dict[str, Any]:
    name, email = person(rng)
    status_id, status_name = pick(rng, _USER_STATUSES)
    user: dict[str, Any] = {"id": uuid4(rng), "name": name, "email": email}
    if rng.random() < 0.85:
        user["statusId"] = status_id
    user["statusName"] = status_name
    return user


def _cakewalk_request(rng: random.Random, slot: int, created: datetime) -> dict[str, Any]:
    group = slot // 5
    status = _REQUEST_STATUSES[group % len(_REQUEST_STATUSES)]
    made = created - timedelta(minutes=rng.randrange(5, 600))
    return {
        "id": uuid4(rng),
        "requestType": pick(rng, _REQUEST_TYPES),
        "requestStatus": status,
        "requestedByUserId": uuid4(rng),
        "cancelledByUserId": uuid4(rng) if status == "Cancelled" else None,
        "workAppId": uuid4(rng),
        "permissionLevelId": uuid4(rng) if group % 2 == 0 else None,
        "targetUserId": uuid4(rng) if group % 3 != 1 else None,
        "requestPurpose": pick(rng, _PURPOSES) if group % 4 != 3 else None,
        "sourceId": uuid4(rng),
        "createdAt": _dotnet_time(rng, made),
        "updatedAt": _dotnet_time(rng, random_moment(rng, made)),
    }


def cakewalk_task(rng: random.Random, task_id: str, slot: int) -> dict[str, Any]:
    """Build one ``TaskDetailedViewModelV1`` in the spec's key order."""
    status = CAKEWALK_STATUSES[slot % len(CAKEWALK_STATUSES)]
    kind = CAKEWALK_TYPES[slot % len(CAKEWALK_TYPES)]
    group = slot // 5
    reason = CAKEWALK_REASONS[(slot // 2) % len(CAKEWALK_REASONS)] if slot % 2 == 0 else None
    closed = status in ("Approved", "Declined", "Cancelled")
    created = random_moment(rng)
    executed = _cakewalk_user(rng) if closed and reason is None else None
    claimers: list[dict[str, Any]] | None = None
    if slot % 4 == 1:
        claimers = []
    elif slot % 4 >= 2:
        claimers = [_cakewalk_user(rng) for _ in range(rng.randrange(1, 4))]
    onboarding = offboarding = None
    if kind == "StandAloneReviewOffboardingTask":
        offboarding = {
            "targetUser": _cakewalk_user(rng),
            "externalIntegrationAppName": pick(rng, _APPS),
            "terminationDate": _dotnet_time(rng, random_moment(rng, created))
            if group % 2 == 0
            else None,
        }
    if kind == "StandAloneReviewOnboardingTask":
        name, email = person(rng)
        onboarding = {
            "onboardingUserFullName": name,
            "onboardingUserEmail": email,
            "externalIntegrationAppName": pick(rng, _APPS),
            "externalConnectionAppIsEmailProvider": rng.random() < 0.5,
            "startingDate": _dotnet_time(rng, random_moment(rng, created))
            if group % 2 == 0
            else None,
        }
        if group % 3 == 2:
            del onboarding["externalConnectionAppIsEmailProvider"]
    task: dict[str, Any] = {
        "id": task_id,
        "type": kind,
        "createdAt": _dotnet_time(rng, created),
        "status": status,
        "lastUpdatedAt": _dotnet_time(rng, random_moment(rng, created)),
        "isAutoprovisioning": rng.random() < 0.2,
        "isActionStep": {"RequestActionTask": True, "RequestReviewTask": False}.get(kind),
        "assignedUser": _cakewalk_user(rng) if slot % 3 != 0 else None,
        "claimers": claimers,
        "executedByUser": executed,
        "request": _cakewalk_request(rng, slot, created) if kind.startswith("Request") else None,
        "snoozedTill": (
            _dotnet_time(rng, random_moment(rng, created))
            if status in _OPEN_STATUSES and slot % 3 == 1
            else None
        ),
        "offboardingMetadata": offboarding,
        "onboardingMetadata": onboarding,
        "rolledOutByUser": (
            _cakewalk_user(rng) if kind == "StandAloneBrowserExtensionInstallationTask" else None
        ),
        "systemExecutionReason": reason,
        "closedReason": pick(rng, _CLOSED_REASONS) if executed and slot % 3 != 2 else None,
    }
    if slot % 6 == 5:
        # Some serializers omit nulls and defaults: optional keys must be allowed to vanish.
        task = {k: v for k, v in task.items() if v is not None and k != "isAutoprovisioning"}
    return task


def seeded_cakewalk(seed: int, count: int) -> list[dict[str, Any]]:
    """Return the seeded Cakewalk tasks, ids unique and lowercase."""
    ids_rng = random.Random(f"{seed}:cakewalk:ids")
    tasks: list[dict[str, Any]] = []
    seen: set[str] = set()
    while len(tasks) < count:
        task_id = uuid4(ids_rng)
        if task_id in seen:
            continue
        seen.add(task_id)
        tasks.append(cakewalk_task(task_rng(seed, "cakewalk", task_id), task_id, len(tasks)))
    return tasks
