"""Cakewalk's endpoint in the sandbox: ``GET /api/v1/Tasks/{uuid}``, RFC 9457 problems."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from .._kit.emulation import Credentials, EmulatorBase, Served, equal, json_text
from . import _sandbox_data as _data

if TYPE_CHECKING:
    from ._config import CakewalkConfig

__all__ = ["CakewalkEmulator", "emulator"]

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PROBLEM_TYPES = {
    401: ("https://tools.ietf.org/html/rfc9110#section-15.5.2", "Unauthorized"),
    404: ("https://tools.ietf.org/html/rfc9110#section-15.5.5", "Not Found"),
    429: ("https://tools.ietf.org/html/rfc6585#section-4", "Too Many Requests"),
    500: (
        "https://tools.ietf.org/html/rfc9110#section-15.6.1",
        "An error occurred while processing your request.",
    ),
}


def is_uuid(task_id: str) -> bool:
    """Whether ``task_id`` is a UUID in the canonical hyphenated form, either case."""
    return len(task_id) == 36 and _UUID.fullmatch(task_id) is not None


class CakewalkEmulator(EmulatorBase):
    """Cakewalk in the sandbox: UUID ids (any case), key and secret headers."""

    name = "cakewalk"
    prefix = "/api/v1/Tasks/"
    stages = ("Pending", "InProgress", ("Approved", "Declined"))
    auth_failure = "The X-API-KEY or X-API-SECRET header is missing or invalid."
    envelope = "data"
    charset = "utf-8"

    def key(self, task_id: str) -> str | None:
        return task_id.lower() if is_uuid(task_id) else None

    def new_id(self, rng: random.Random, n: int) -> str:
        return _data.uuid4(rng)

    def seeded(self, seed: int, count: int) -> list[tuple[str, dict[str, Any], str | None]]:
        return [(t["id"], t, None) for t in _data.seeded_cakewalk(seed, count)]

    def generate(self, rng: random.Random, task_id: str, slot: int) -> dict[str, Any]:
        return _data.cakewalk_task(rng, task_id, slot)

    def serve(self, task: dict[str, Any], space: str | None) -> Served:
        task_id = task["id"]
        body = {"data": task, "links": {"self": f"{self.prefix}{task_id}", "next": None}}
        return Served(orjson.dumps(body), _data.cakewalk_content_type(task_id), "utf-8", None)

    def fill(self, parts: tuple[bytes, ...], task_id: str) -> Served:
        body = json_text(task_id).join(parts)
        return Served(body, _data.cakewalk_content_type(task_id), "utf-8", None)

    def credentials(self, given: Credentials) -> Mapping[str, str]:
        return {"api_key": given.cakewalk_api_key, "api_secret": given.cakewalk_api_secret}

    def authorized(self, headers: Mapping[str, str], credentials: Mapping[str, str]) -> bool:
        key_ok = equal(headers.get("X-API-KEY"), credentials["api_key"])
        secret_ok = equal(headers.get("X-API-SECRET"), credentials["api_secret"])
        return key_ok and secret_ok

    def not_found(self, task_id: str) -> str:
        return f"Task with id '{task_id}' was not found."

    def error(
        self, status: int, instance: str, detail: str, trace: str
    ) -> tuple[bytes, str, str | None]:
        kind, title = _PROBLEM_TYPES.get(status, _PROBLEM_TYPES[500])
        problem = {
            "type": kind,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": instance,
            "traceId": f"00-{trace[:32]}-{trace[32:48]}-00",
        }
        return orjson.dumps(problem), "application/problem+json", "utf-8"

    def config(self, url: str, credentials: Mapping[str, str], **overrides: Any) -> CakewalkConfig:
        from ._config import CakewalkConfig

        options: dict[str, Any] = {"base_url": url, **overrides}
        return CakewalkConfig(credentials["api_key"], credentials["api_secret"], **options)

    def env(self, url: str, credentials: Mapping[str, str]) -> dict[str, str]:
        return {
            "TASKBRIDGE_CAKEWALK_API_KEY": credentials["api_key"],
            "TASKBRIDGE_CAKEWALK_API_SECRET": credentials["api_secret"],
            "TASKBRIDGE_CAKEWALK_BASE_URL": url,
        }


emulator = CakewalkEmulator
