"""What the sandbox test files share: the providers' spec schemas and a plain aiohttp client."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from yarl import URL

import taskbridge.sandbox as sandbox_pkg
from taskbridge.sandbox import (
    Sandbox,
    SandboxState,
)

from ._schemas import openapi_to_jsonschema

SPECS = Path(__file__).resolve().parents[1] / "specs"

SANDBOX_DIR = Path(sandbox_pkg.__file__).parent
PROVIDERS_DIR = SANDBOX_DIR.parent / "providers"
CAKEWALK_CONTENT_TYPES = {
    "application/json; charset=utf-8",
    "text/json; charset=utf-8",
    "text/plain; charset=utf-8",
}
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
CAKEWALK_HEADERS = {"X-API-KEY": "sandbox-key", "X-API-SECRET": "sandbox-secret"}
ALUMIO_HEADERS = {"Authorization": "Bearer sandbox-token", "Accept": "application/json"}


# --- spec schemas ---------------------------------------------------------------------------


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time")
def _is_rfc3339(value: object) -> bool:
    return not isinstance(value, str) or RFC3339.fullmatch(value) is not None


def _validator(uri: str, spec: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    schema = {"$ref": f"{uri}#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry, format_checker=FORMATS)


class Specs:
    """Both providers' spec schemas, ready to validate bodies."""

    def __init__(self) -> None:
        raw = json.loads((SPECS / "cakewalk-get-task.openapi.json").read_text())
        self.cakewalk_raw: dict[str, Any] = openapi_to_jsonschema(raw)
        self.alumio_raw: dict[str, Any] = openapi_to_jsonschema(
            yaml.safe_load((SPECS / "alumio-get-task.openapi.yaml").read_text())
        )
        self.relaxed_raw = copy.deepcopy(self.alumio_raw)
        del self.relaxed_raw["components"]["schemas"]["TaskStatus"]["enum"]

    def cakewalk(self, body: Any, name: str) -> None:
        _validator("urn:cakewalk", self.cakewalk_raw, name).validate(body)

    def alumio(self, body: Any, name: str, *, relaxed: bool | None = None) -> None:
        if relaxed is None:
            inner = body.get("object", body) if isinstance(body, dict) else None
            # "rejected" is documented but missing from the enum: all else must be strict.
            relaxed = isinstance(inner, dict) and inner.get("status") == "rejected"
        _validator("urn:alumio", self.relaxed_raw if relaxed else self.alumio_raw, name).validate(
            body
        )


@pytest.fixture(name="specs", scope="module")
def specs_fixture() -> Specs:
    return Specs()


# --- helpers --------------------------------------------------------------------------------


def alumio_path(identifier: str) -> str:
    return quote(identifier, safe="").replace(".", "%2E")


class Client:
    """Plain aiohttp requests against one sandbox."""

    def __init__(self, sandbox: Sandbox, session: aiohttp.ClientSession) -> None:
        self.sandbox = sandbox
        self.session = session

    async def get(
        self, raw_path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str, bytes, aiohttp.typedefs.LooseHeaders]:
        url = URL(self.sandbox.url + raw_path, encoded=True)
        async with self.session.get(url, headers=headers, allow_redirects=False) as resp:
            body = await resp.read()
            return resp.status, resp.headers.get("Content-Type", ""), body, resp.headers

    async def cakewalk(
        self, task_id: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str, bytes, Any]:
        return await self.get(f"/api/v1/Tasks/{task_id}", CAKEWALK_HEADERS | (headers or {}))

    async def alumio(
        self, identifier: str, *, space: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str, bytes, Any]:
        query = f"?space={quote(space, safe='')}" if space is not None else ""
        path = f"/api/v1/tasks/{alumio_path(identifier)}{query}"
        return await self.get(path, ALUMIO_HEADERS | (headers or {}))


@pytest.fixture(name="sandbox")
async def sandbox_fixture() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=1) as sb:
        yield sb


@pytest.fixture(name="client")
async def client_fixture(sandbox: Sandbox) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(sandbox, session)


def all_tasks(state: SandboxState, provider: str) -> list[dict[str, Any]]:
    return [state.expected(provider, task_id) for task_id in state.ids(provider)]


def values(tasks: Iterable[dict[str, Any]], key: str) -> list[Any]:
    return [task[key] for task in tasks if key in task]
