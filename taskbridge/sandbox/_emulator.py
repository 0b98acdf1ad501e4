"""What a provider contributes to the sandbox: its routes, seeded data and error bodies.

The sandbox core (faults, rate limit, scripts, lifecycle, stats, server) knows no
provider by name: it serves every registered provider whose `ProviderSpec` names an
emulator (``"module:attribute"``, a class or factory called with no arguments).
"""

from __future__ import annotations

import importlib
import random
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

if TYPE_CHECKING:
    from taskbridge.providers import ProviderConfig

    from ._state import Credentials

__all__ = ["Emulator", "Served", "load_emulators"]


@attrs.frozen
class Served:
    """One task's 200 answer, serialized once: body, content type, charset, space."""

    body: bytes
    content_type: str
    charset: str | None
    space: str | None


class Emulator(Protocol):
    """One provider's endpoint in the sandbox.

    Attributes:
        name: the provider's name (its `ProviderSpec` name).
        prefix: the path its task ids follow, ``"/api/v1/tasks/"``; unique per sandbox.
        stages: ``(first, second, (success, failure))`` statuses of its lifecycle.
        auth_failure: the detail of its 401 answer.
    """

    name: str
    prefix: str
    stages: tuple[str, str, tuple[str, str]]
    auth_failure: str

    def key(self, task_id: str) -> str | None:
        """The id as looked up (``None``: the provider never serves it)."""

    def check_new_id(self, task_id: str) -> str:
        """The id to add a task under; `ValueError` if the provider cannot have it."""

    def new_id(self, rng: random.Random, n: int) -> str:
        """A fresh id for the ``n``-th added task."""

    def seeded(self, seed: int, count: int) -> list[tuple[str, dict[str, Any], str | None]]:
        """``count`` tasks for ``seed``: ``(id, wire task, space or None)`` each, in order."""

    def generate(self, rng: random.Random, task_id: str, slot: int) -> dict[str, Any]:
        """One complete wire task (a dict) with id ``task_id``."""

    def serve(self, task: dict[str, Any], space: str | None) -> Served:
        """The 200 answer of a wire task."""

    def task_of(self, body: dict[str, Any]) -> dict[str, Any]:
        """The wire task inside a decoded 200 body (its ``status`` is set by the lifecycle)."""

    def split(self, body: bytes, mark: str) -> tuple[bytes, ...]:
        """A served body cut where the id ``mark`` appears (on-demand templates)."""

    def fill(self, parts: tuple[bytes, ...], task_id: str) -> Served:
        """The answer for ``task_id`` made from a template's ``parts``."""

    def credentials(self, given: Credentials) -> Mapping[str, str]:
        """The fake credentials this provider accepts in a sandbox with ``given``."""

    def authorized(self, headers: Mapping[str, str], credentials: Mapping[str, str]) -> bool:
        """Whether a request's headers carry ``credentials``."""

    def not_found(self, task_id: str) -> str:
        """The detail of a 404 for ``task_id``."""

    def error(
        self, status: int, instance: str, detail: str, trace: str
    ) -> tuple[bytes, str, str | None]:
        """An error answer in the provider's shape: body, content type, charset."""

    def config(self, url: str, credentials: Mapping[str, str], **overrides: Any) -> ProviderConfig:
        """A client config for a sandbox at ``url``; keywords override its defaults."""

    def env(self, url: str, credentials: Mapping[str, str]) -> dict[str, str]:
        """The ``TASKBRIDGE_*`` variables that point `TaskBridge.from_env` at the sandbox."""


def _load(where: str) -> Emulator:
    module, _, attribute = where.partition(":")
    factory = getattr(importlib.import_module(module), attribute)
    emulator: Emulator = factory()
    return emulator


def load_emulators() -> dict[str, Emulator]:
    """The emulator of every registered provider that has one, by name, built-ins first.

    A plug-in's emulator that fails to load is left out with a `RuntimeWarning`.
    """
    from taskbridge.providers import registered

    found: dict[str, Emulator] = {}
    for name, spec in registered().items():
        if spec.emulator is None:
            continue
        try:
            found[name] = _load(spec.emulator)
        except Exception as exc:  # a broken plug-in must not break the sandbox
            warnings.warn(
                f"the sandbox emulator of provider {name!r} ({spec.emulator}) failed to "
                f"load and is left out: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
    return found
