"""What a provider plugs into the bridge: a config that builds an adapter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple, Protocol

import attrs
from yarl import URL

from .._models import UnifiedTask

__all__ = ["ErrorInfo", "ProviderAdapter", "ProviderConfig", "Request"]


class Request(NamedTuple):
    """One GET to send: the URL (already encoded) and the headers, secrets included.

    A named tuple, since one is built per request; its repr leaves the headers out.
    """

    url: URL
    headers: Mapping[str, str]

    def __repr__(self) -> str:
        return f"Request(url={str(self.url)!r})"


@attrs.frozen(slots=True)
class ErrorInfo:
    """What a provider's error body says: its title, detail and parsed model."""

    title: str | None = None
    detail: str | None = None
    body: object | None = None


class ProviderAdapter(Protocol):
    """Turns task ids into requests and answers into `UnifiedTask`s for one provider."""

    @property
    def name(self) -> str:
        """The provider's name, as used in refs (``"cakewalk"``)."""

    @property
    def max_concurrency(self) -> int:
        """How many requests may be in flight at once."""

    @property
    def requests_per_minute(self) -> float | None:
        """The client-side rate limit, or ``None`` for none."""

    def check_id(self, task_id: object) -> str:
        """Return the task id to send, or raise `InvalidTaskIdError`."""

    def request(self, task_id: str) -> Request:
        """Build the GET for a checked task id."""

    def decode_task(self, body: bytes, task_id: str) -> UnifiedTask[Any]:
        """Decode a 2xx body; raise `SchemaError` when it does not fit the spec."""

    def decode_error(self, body: bytes) -> ErrorInfo:
        """Read an error body leniently; never raises."""


class ProviderConfig(Protocol):
    """A provider's settings; registered in `taskbridge.providers.REGISTRY`."""

    provider: ClassVar[str]

    def adapter(self) -> ProviderAdapter:
        """Build the adapter that serves this configuration."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ProviderConfig | None:
        """Read ``TASKBRIDGE_<PROVIDER>_*``; ``None`` when the credentials are absent."""
