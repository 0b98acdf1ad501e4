"""Settings of a jiralike tracker: its origin and a personal access token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import attrs

from taskbridge import ConfigurationError

if TYPE_CHECKING:
    from ._adapter import JiralikeAdapter

__all__ = ["JiralikeConfig"]


def _pat(_: object, __: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise ConfigurationError("JiralikeConfig.pat must be a non-empty printable string")


def _url(_: object, __: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.startswith(("https://", "http://127.0.0.1")):
        raise ConfigurationError("JiralikeConfig.base_url must be an https URL")


@attrs.frozen
class JiralikeConfig:
    """A jiralike tracker: ``pat`` is sent as ``Authorization: Bearer`` and is secret."""

    provider: ClassVar[str] = "jiralike"

    base_url: str = attrs.field(validator=_url, converter=lambda u: str(u).rstrip("/"))
    pat: str = attrs.field(repr=False, validator=_pat)
    max_concurrency: int = attrs.field(default=4, kw_only=True)
    requests_per_minute: float | None = attrs.field(default=300, kw_only=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The personal access token."""
        return (self.pat,)

    def adapter(self) -> JiralikeAdapter:
        """Build the adapter that serves this configuration."""
        from ._adapter import JiralikeAdapter

        return JiralikeAdapter(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> JiralikeConfig | None:
        """Read ``TASKBRIDGE_JIRALIKE_URL`` and ``TASKBRIDGE_JIRALIKE_PAT``."""
        url = environ.get("TASKBRIDGE_JIRALIKE_URL", "")
        pat = environ.get("TASKBRIDGE_JIRALIKE_PAT", "")
        if not url and not pat:
            return None
        if not url or not pat:
            missing = "URL" if not url else "PAT"
            raise ConfigurationError(f"TASKBRIDGE_JIRALIKE_{missing} is not set")
        return cls(url, pat)
