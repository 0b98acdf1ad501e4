"""The jiralike endpoint in `taskbridge.sandbox`: written by hand, independent of the client."""

from __future__ import annotations

import hmac
import random
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from taskbridge.sandbox import Credentials, Served

__all__ = ["DEFAULT_PAT", "JiralikeEmulator"]

DEFAULT_PAT = "sandbox-jiralike-pat"
_KEY = re.compile(r"[A-Z][A-Z0-9]{0,9}-[0-9]{1,9}")
_STATUSES = ("To Do", "In Progress", "Done", "Won't Do")
_TYPES = ("Bug", "Story", "Task", None)
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


class JiralikeEmulator:
    """Issues ``JL-1``, ``JL-2``...; errors as ``{"errorMessages": [...]}``."""

    name = "jiralike"
    prefix = "/rest/api/issue/"
    stages = ("To Do", "In Progress", ("Done", "Won't Do"))
    auth_failure = "You are not authenticated."

    def key(self, task_id: str) -> str | None:
        return task_id if _KEY.fullmatch(task_id) else None

    def check_new_id(self, task_id: str) -> str:
        if not _KEY.fullmatch(task_id):
            raise ValueError(f"jiralike keys look like PROJ-123, got {task_id!r}")
        return task_id

    def new_id(self, rng: random.Random, n: int) -> str:
        return f"NEW-{n}"

    def seeded(self, seed: int, count: int) -> list[tuple[str, dict[str, Any], str | None]]:
        out = []
        for n in range(1, count + 1):
            key = f"JL-{n}"
            out.append((key, self.generate(random.Random(f"{seed}:jiralike:{key}"), key, n), None))
        return out

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

    def serve(self, task: dict[str, Any], space: str | None) -> Served:
        return Served(orjson.dumps(task), "application/json", None, None)

    def task_of(self, body: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = body["fields"]
        return fields

    def split(self, body: bytes, mark: str) -> tuple[bytes, ...]:
        return tuple(body.split(mark.encode()))

    def fill(self, parts: tuple[bytes, ...], task_id: str) -> Served:
        return Served(task_id.encode().join(parts), "application/json", None, None)

    def credentials(self, given: Credentials) -> Mapping[str, str]:
        return given.others.get(self.name) or {"pat": DEFAULT_PAT}

    def authorized(self, headers: Mapping[str, str], credentials: Mapping[str, str]) -> bool:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        expected = credentials["pat"].encode()
        return scheme == "Bearer" and hmac.compare_digest(token.encode(errors="replace"), expected)

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
