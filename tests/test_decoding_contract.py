"""Every built-in provider keeps the decoding contract (`taskbridge.testing.contract`);
what differs between providers is in ``test_provider_<name>.py``."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from taskbridge import AlumioConfig, CakewalkConfig, TaskStatus
from taskbridge.testing.contract import ProviderContract

from .conftest import CAKEWALK_ID, alumio_body, cakewalk_body

# Long and random-looking: no chance of turning up in a port, an id or a timestamp.
_KEY = "contract-key-3f9c1b7e5a2d4c6e8f0a1b3c5d7e9f1a"
_SECRET = "contract-secret-8e2d6a4c1f3b5d7e9a0c2e4f6a8b0d2c"
_TOKEN = "contract-token-5b7d9f1a3c5e7a9b1d3f5a7c9e1b3d5f"


class TestCakewalkContract(ProviderContract):
    config = CakewalkConfig(_KEY, _SECRET)
    task_id = CAKEWALK_ID
    statuses = MappingProxyType(
        {
            "Pending": TaskStatus.PENDING,
            "Drafted": TaskStatus.PENDING,
            "InProgress": TaskStatus.RUNNING,
            "Blocked": TaskStatus.WAITING,
            "NoClaimers": TaskStatus.WAITING,
            "Approved": TaskStatus.SUCCEEDED,
            "Declined": TaskStatus.REJECTED,
            "Cancelled": TaskStatus.CANCELLED,
        }
    )
    status_path = ("data", "status")
    timestamp_paths = (("data", "createdAt"), ("data", "lastUpdatedAt"))
    required_paths = (
        ("data", "id"),
        ("data", "type"),
        ("data", "createdAt"),
        ("data", "status"),
        ("data", "lastUpdatedAt"),
    )
    error_body = MappingProxyType({"title": "Not Found", "status": 404, "detail": "No task"})
    bad_ids = ("", "not-a-uuid", CAKEWALK_ID + "0", CAKEWALK_ID.replace("-", ""), 42, None)

    def body(self) -> dict[str, Any]:
        return cakewalk_body()


class TestAlumioContract(ProviderContract):
    config = AlumioConfig("https://acme.alumio.com", _TOKEN, space="eu")
    task_id = "order-export-42"
    statuses = MappingProxyType(
        {
            "new": TaskStatus.PENDING,
            "processing": TaskStatus.RUNNING,
            "waiting": TaskStatus.WAITING,
            "retry": TaskStatus.WAITING,
            "finished": TaskStatus.SUCCEEDED,
            "resolved": TaskStatus.SUCCEEDED,
            "failed": TaskStatus.FAILED,
            "rejected": TaskStatus.REJECTED,
            "killed": TaskStatus.CANCELLED,
            "skipped": TaskStatus.SKIPPED,
        }
    )
    status_path = ("object", "status")
    timestamp_paths = (("object", "createdAt"), ("object", "updatedAt"))
    required_paths = (("object",),)  # Alumio marks every field of the task optional
    error_body = MappingProxyType({"status": "404", "title": "Not Found", "detail": "No task"})
    bad_ids = ("", "x" * 1025, "\ud800", 7, None)

    def body(self) -> dict[str, Any]:
        return alumio_body()
