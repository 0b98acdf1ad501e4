"""The plug-in's own run of taskbridge's decoding contract (run it with pytest)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from taskbridge_jiralike import JiralikeConfig

from taskbridge import TaskStatus
from taskbridge.testing.contract import ProviderContract


class TestJiralikeContract(ProviderContract):
    config = JiralikeConfig("https://jira.example.com", "pat-" + "7c1e9a3f5b" * 4)
    task_id = "JL-42"
    statuses = MappingProxyType(
        {
            "To Do": TaskStatus.PENDING,
            "In Progress": TaskStatus.RUNNING,
            "Done": TaskStatus.SUCCEEDED,
            "Won't Do": TaskStatus.CANCELLED,
        }
    )
    status_path = ("fields", "status")
    timestamp_paths = (("fields", "created"), ("fields", "updated"))
    required_paths = (("key",), ("fields", "summary"), ("fields", "status"))
    error_body = MappingProxyType({"errorMessages": ["Issue does not exist"]})
    bad_ids = ("", "jl-42", "JL_42", "JL-", 42, None)

    def body(self) -> dict[str, Any]:
        return {
            "key": "JL-42",
            "fields": {
                "summary": "Ship it",
                "status": "In Progress",
                "created": "2026-03-01T09:30:00+00:00",
                "updated": "2026-03-02T10:00:00+00:00",
                "issuetype": "Task",
                "assignee": "ada",
            },
        }
