"""Alumio's endpoint in the sandbox: ``GET /api/v1/tasks/{identifier}``, bearer token."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from .._kit.emulation import Credentials, EmulatorBase, equal
from . import _sandbox_data as _alumio_data

if TYPE_CHECKING:
    from ._config import AlumioConfig

__all__ = ["AlumioEmulator", "emulator"]


class AlumioEmulator(EmulatorBase):
    """Alumio in the sandbox: any non-empty identifier, one space per task."""

    stages = ("new", "processing", ("finished", "failed"))
    name = "alumio"
    prefix = "/api/v1/tasks/"
    envelope = "object"
    auth_failure = "Invalid or missing API token."

    def seeded(self, seed: int, count: int) -> list[tuple[str, dict[str, Any], str | None]]:
        return [(i, t, space) for i, space, t in _alumio_data.seeded_alumio(seed, count)]

    def generate(self, rng: random.Random, task_id: str, slot: int) -> dict[str, Any]:
        return _alumio_data.alumio_task(rng, task_id, slot)

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
