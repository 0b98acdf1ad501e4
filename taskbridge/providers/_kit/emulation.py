"""The emulator kit: what a provider's sandbox emulator builds on.

A provider's ``_emulator.py`` and ``_sandbox_data.py`` import this module and their own
folder, nothing else of taskbridge: the sandbox imports the emulators (through the
registry), never the other way round. `EmulatorBase` gives every part of the `Emulator`
protocol that most providers share a default; a provider states what differs.
"""

from __future__ import annotations

import functools
import hmac
import random
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Protocol, TypeVar

import attrs
import orjson

__all__ = [
    "Credentials",
    "Emulator",
    "EmulatorBase",
    "Served",
    "equal",
    "json_text",
    "person",
    "pick",
    "random_moment",
    "task_rng",
]

_T = TypeVar("_T")
Seeded = tuple[str, dict[str, Any], str | None]


@attrs.frozen
class Served:
    """One task's 200 answer, serialized once: body, content type, charset, space."""

    body: bytes
    content_type: str
    charset: str | None
    space: str | None


@attrs.frozen
class Credentials:
    """The fake credentials the sandbox accepts; never shown in ``repr``.

    Args:
        cakewalk_api_key: Cakewalk's key.
        cakewalk_api_secret: Cakewalk's secret.
        alumio_token: Alumio's token.
        others: another provider's credentials by provider name (a plug-in's emulator
            reads them; its own defaults when absent).
    """

    cakewalk_api_key: str = attrs.field(default="sandbox-key", repr=False)
    cakewalk_api_secret: str = attrs.field(default="sandbox-secret", repr=False)
    alumio_token: str = attrs.field(default="sandbox-token", repr=False)
    others: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict, repr=False)


class Emulator(Protocol):
    """One provider's endpoint in the sandbox, as the sandbox calls it.

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
        """The id as looked up and added (``None``: the provider never serves it)."""

    def new_id(self, rng: random.Random, n: int) -> str:
        """A fresh id for the ``n``-th added task."""

    def seeded(self, seed: int, count: int) -> list[Seeded]:
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

    def config(self, url: str, credentials: Mapping[str, str], **overrides: Any) -> Any:
        """A client config for a sandbox at ``url``; keywords override its defaults."""

    def env(self, url: str, credentials: Mapping[str, str]) -> dict[str, str]:
        """The ``TASKBRIDGE_*`` variables that point `TaskBridge.from_env` at the sandbox."""


class EmulatorBase:
    """Defaults for an `Emulator`: subclass it and state what differs.

    A subclass sets ``name``, ``prefix``, ``stages``, ``auth_failure`` and
    ``default_credentials``, and writes ``seeded``, ``generate``, ``authorized``,
    ``not_found``, ``error``, ``config`` and ``env``. The defaults:

    - ``key``: any non-empty id, as given;
    - ``new_id``: ``added-task-N``;
    - ``serve`` / ``task_of``: the task as the whole JSON body, or under the key
      ``envelope`` when set, with ``content_type`` and ``charset``;
    - ``split`` / ``fill``: on-demand bodies with the id spliced in, JSON-escaped;
    - ``credentials``: ``Credentials.others[name]``, else ``default_credentials``.
    """

    name: ClassVar[str]
    prefix: ClassVar[str]
    stages: ClassVar[tuple[str, str, tuple[str, str]]]
    auth_failure: ClassVar[str]
    default_credentials: ClassVar[Mapping[str, str]] = {}
    envelope: ClassVar[str | None] = None
    content_type: ClassVar[str] = "application/json"
    charset: ClassVar[str | None] = None

    def key(self, task_id: str) -> str | None:
        return task_id or None

    def new_id(self, rng: random.Random, n: int) -> str:
        return f"added-task-{n}"

    def serve(self, task: dict[str, Any], space: str | None) -> Served:
        body = task if self.envelope is None else {self.envelope: task}
        return Served(orjson.dumps(body), self.content_type, self.charset, space or "")

    def task_of(self, body: dict[str, Any]) -> dict[str, Any]:
        task: dict[str, Any] = body if self.envelope is None else body[self.envelope]
        return task

    def split(self, body: bytes, mark: str) -> tuple[bytes, ...]:
        return tuple(body.split(json_text(mark)))

    def fill(self, parts: tuple[bytes, ...], task_id: str) -> Served:
        # On-demand tasks live in whatever space is asked for: benchmarks set any space.
        return Served(json_text(task_id).join(parts), self.content_type, self.charset, "")

    def credentials(self, given: Credentials) -> Mapping[str, str]:
        return given.others.get(self.name) or self.default_credentials


def json_text(text: str) -> bytes:
    """``text`` as it appears inside a JSON string: escaped, without the quotes."""
    return orjson.dumps(text)[1:-1]


# Data helpers every provider's seeded data draws on.


def task_rng(seed: int, provider: str, task_id: str) -> random.Random:
    """Return the generator that decides everything about one task."""
    return random.Random(f"{seed}:{provider}:{task_id}")


def equal(given: str | None, expected: str) -> bool:
    """Compare a header with a credential in constant time."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(errors="replace"), expected.encode())


def pick(rng: random.Random, options: tuple[_T, ...]) -> _T:
    """One of ``options``; cheaper than ``rng.choice``, which matters for on-demand ids."""
    return options[int(rng.random() * len(options))]


_FIRST = (
    "Ada", "Björn", "Chloé", "Dmitri", "Emeka", "Fatima", "Grace", "Hiroshi", "Ingrid",
    "José", "Kai", "Leilani", "Mohammed", "Nora", "Óscar", "Priya", "Quentin", "Rosa",
    "Sven", "Tomasz", "Uma", "Valentina", "Wei", "Yara", "Zoë",
)  # fmt: skip
_LAST = (
    "Okafor", "Lindqvist", "Dubois", "Ivanov", "Nwosu", "Al-Sayed", "Hopper", "Tanaka",
    "Berg", "García", "Müller", "Kahale", "O'Brien", "Rossi", "Novak", "Patel", "Schmidt",
    "Kowalski", "Smith", "Fernández",
)  # fmt: skip
_DOMAINS = ("acme.example", "globex.example", "initech.example")
_EPOCH = datetime(2023, 1, 1, tzinfo=timezone.utc)


@functools.cache
def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def person(rng: random.Random) -> tuple[str, str]:
    """A full name and a matching e-mail address, some with accents."""
    first, last = pick(rng, _FIRST), pick(rng, _LAST)
    return f"{first} {last}", f"{_ascii(first)}.{_ascii(last)}@{pick(rng, _DOMAINS)}"


def random_moment(rng: random.Random, after: datetime | None = None) -> datetime:
    """A UTC moment in 2023-2024, or within three days after ``after``."""
    start = after or _EPOCH
    span = 3 * 24 * 3600 if after else 2 * 365 * 24 * 3600
    return start + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6))
