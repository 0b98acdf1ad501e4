"""The jiralike endpoint in `taskbridge.sandbox`: written by hand, independent of the client.

`EmulatorBase` gives the rest: ids as given, the task as the whole JSON body,
on-demand bodies, credentials from ``Credentials.others["jiralike"]`` or the defaults.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import orjson

from taskbridge.sandbox import EmulatorBase, equal, task_rng

__all__ = ["DEFAULT_PAT", "JiralikeEmulator"]

DEFAULT_PAT = "sandbox-jiralike-pat"
_KEY = re.compile(r"[A-Z][A-Z0-9]{0,9}-[0-9]{1,9}")
_STATUSES = ("To Do", "In Progress", "Done", "Won't Do")
_TYPES = ("Bug", "Story", "Task", None)
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


class JiralikeEmulator(EmulatorBase):
    """Issues ``JL-1``, ``JL-2``...; errors as ``{"errorMessages": [...]}``."""

    name = "jiralike"
    prefix = "/rest/api/issue/"
    stages = ("To Do", "In Progress", ("Done", "Won't Do"))
    auth_failure = "You are not authenticated."
    default_credentials: ClassVar[Mapping[str, str]] = {"pat": DEFAULT_PAT}

    def key(self, task_id: str) -> str | None:
        return task_id if _KEY.fullmatch(task_id) else None

    def new_id(self, rng: random.Random, n: int) -> str:
        return f"NEW-{n}"

    def seeded(self, seed: int, count: int) -> list[tuple[str, dict[str, Any], str | None]]:
        keys = [f"JL-{n}" for n in range(1, count + 1)]
        return [
            (k, self.generate(task_rng(seed, self.name, k), k, n), None)
            for n, k in enumerate(keys, 1)
        ]

    def generate(self, rng: random.Random, task_id: str, slot: int) -> dict[str, Any]:
        created = _EPOCH + timedelta(seconds=rng.randrange(10**7))
        updated = created + timedelta(seconds=rng.randrange(10**5))
        return {
            "key": task_id,
            "fields": {
                "summary": f"Issue {slot}: {rng.choice(('fix', 'add', 'drop'))} the thing",
                "status": _STATUSES[slot % len(_STATUSES)],
                "issuetype": _TYPES[slot % len(_TYPES)],
                "assignee": None if slot % 3 else f"user{rng.randrange(100)}",
                "created": created.isoformat(),
                "updated": updated.isoformat().replace("+00:00", "Z"),
            },
        }

    def task_of(self, body: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = body["fields"]  # where the lifecycle sets "status"
        return fields

    def authorized(self, headers: Mapping[str, str], credentials: Mapping[str, str]) -> bool:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and equal(token, credentials["pat"])

    def not_found(self, task_id: str) -> str:
        return f"Issue does not exist or you do not have permission to see it: {task_id}"

    def error(
        self, status: int, instance: str, detail: str, trace: str
    ) -> tuple[bytes, str, str | None]:
        return orjson.dumps({"errorMessages": [detail], "errors": {}}), "application/json", None

    def config(self, url: str, credentials: Mapping[str, str], **overrides: Any) -> Any:
        from ._config import JiralikeConfig

        return JiralikeConfig(url, credentials["pat"], **overrides)

    def env(self, url: str, credentials: Mapping[str, str]) -> dict[str, str]:
        return {"TASKBRIDGE_JIRALIKE_URL": url, "TASKBRIDGE_JIRALIKE_PAT": credentials["pat"]}
