"""Alumio's endpoint in the sandbox: ``GET /api/v1/tasks/{identifier}``, bearer token."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ...sandbox._emulator import Served
from ..cakewalk._emulator import equal
from . import _sandbox_data as _alumio_data

if TYPE_CHECKING:
    from ...sandbox._state import Credentials
    from ._config import AlumioConfig

__all__ = ["AlumioEmulator", "emulator"]


class AlumioEmulator:
    """Alumio in the sandbox: any non-empty identifier, one space per task."""

    name = "alumio"
    prefix = "/api/v1/tasks/"
    stages = ("new", "processing", ("finished", "failed"))
    auth_failure = "Invalid or missing API token."

    def key(self, task_id: str) -> str | None:
        return task_id or None

    def check_new_id(self, task_id: str) -> str:
        if not task_id:
            raise ValueError("alumio identifiers are non-empty")
        return task_id

    def new_id(self, rng: random.Random, n: int) -> str:
        return f"added-task-{n}"

    def seeded(self, seed: int, count: int) -> list[tuple[str, dict[str, Any], str | None]]:
        return [(i, t, space) for i, space, t in _alumio_data.seeded_alumio(seed, count)]

    def generate(self, rng: random.Random, task_id: str, slot: int) -> dict[str, Any]:
        return _alumio_data.alumio_task(rng, task_id, slot)

    def serve(self, task: dict[str, Any], space: str | None) -> Served:
        return Served(orjson.dumps({"object": task}), "application/json", None, space or "")

    def task_of(self, body: dict[str, Any]) -> dict[str, Any]:
        task: dict[str, Any] = body["object"]
        return task

    def split(self, body: bytes, mark: str) -> tuple[bytes, ...]:
        return tuple(body.split(orjson.dumps(mark)))

    def fill(self, parts: tuple[bytes, ...], task_id: str) -> Served:
        # On-demand tasks live in whatever space is asked for: benchmarks set any space.
        return Served(orjson.dumps(task_id).join(parts), "application/json", None, "")

    def credentials(self, given: Credentials) -> Mapping[str, str]:
        return {"token": given.alumio_token}

    def authorized(self, headers: Mapping[str, str], credentials: Mapping[str, str]) -> bool:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and equal(token.strip(), credentials["token"])

    def not_found(self, task_id: str) -> str:
        return f'Task "{task_id}" not found.'

    def error(
        self, status: int, instance: str, detail: str, trace: str
    ) -> tuple[bytes, str, str | None]:
        error = {
            "status": str(status),
            "type": "https://tools.ietf.org/html/rfc2616#section-10",
            "title": "An error occurred",
            "detail": detail,
            "violations": [],
        }
        return orjson.dumps(error), "application/json", None

    def config(self, url: str, credentials: Mapping[str, str], **overrides: Any) -> AlumioConfig:
        from ._config import AlumioConfig

        options: dict[str, Any] = {"base_url": url, **overrides}
        return AlumioConfig(token=credentials["token"], **options)

    def env(self, url: str, credentials: Mapping[str, str]) -> dict[str, str]:
        return {"TASKBRIDGE_ALUMIO_BASE_URL": url, "TASKBRIDGE_ALUMIO_TOKEN": credentials["token"]}


emulator = AlumioEmulator
