"""Alumio settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import attrs

from ..._base.config import check_base_url, required_pair
from ..._base.errors import ConfigurationError
from ..._base.limits import LimitFields, Limits

if TYPE_CHECKING:
    from ._adapter import AlumioAdapter

__all__ = ["DEFAULT_LIMITS", "AlumioConfig"]

# Integration tasks finish in seconds to minutes: poll soon, settle at half a minute.
DEFAULT_LIMITS = Limits(
    max_concurrency=16, requests_per_minute=None, poll_interval=1.0, max_poll_interval=30.0
)


def _token(_: object, __: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("AlumioConfig.token must be a non-empty string")
    if not value.isprintable():
        # Sent as a header: a control character would fail (or inject) at request time.
        raise ConfigurationError("AlumioConfig.token must not contain control characters")


def _space(_: object, __: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value or not _utf8(value)):
        raise ConfigurationError("AlumioConfig.space must be a non-empty string or None")


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@attrs.frozen
class AlumioConfig(LimitFields):
    """Tenant, credentials and limits for the Alumio API.

    Args:
        base_url: the tenant's origin, ``https://acme.alumio.com``; a trailing
            ``/api/v1`` is accepted and not doubled. ``https`` unless the host is loopback.
        token: sent as ``Authorization: Bearer``; never shown in ``repr``, logs or errors.
        space: sent as the ``space`` query parameter when set.
        max_concurrency: requests in flight at once.
        requests_per_minute: client-side limit; ``None`` (the default) for none, since
            Alumio documents no limit.
        poll_interval: seconds between the first polls of a task that `TaskBridge.wait`
            or `TaskBridge.watch` follows; each poll without a change multiplies it by
            1.5, up to ``max_poll_interval``, and a change resets it.
        max_poll_interval: the longest wait between two polls of one task.
        max_queue_wait: the longest a request may wait for a slot, a pause or the rate
            limiter; past it the request fails with `QueueTimeoutError` (``None``: no bound).
    """

    provider: ClassVar[str] = "alumio"

    base_url: str
    token: str = attrs.field(repr=False, validator=_token)
    space: str | None = attrs.field(default=None, kw_only=True, validator=_space)
    max_concurrency: int = attrs.field(default=DEFAULT_LIMITS.max_concurrency, kw_only=True)
    requests_per_minute: float | None = attrs.field(
        default=DEFAULT_LIMITS.requests_per_minute, kw_only=True
    )
    poll_interval: float = attrs.field(default=DEFAULT_LIMITS.poll_interval, kw_only=True)
    max_poll_interval: float = attrs.field(default=DEFAULT_LIMITS.max_poll_interval, kw_only=True)
    max_queue_wait: float | None = attrs.field(default=DEFAULT_LIMITS.max_queue_wait, kw_only=True)

    def __attrs_post_init__(self) -> None:
        url = check_base_url(self.base_url, what="AlumioConfig.base_url")
        if url.endswith("/api/v1"):
            url = url[: -len("/api/v1")]
        object.__setattr__(self, "base_url", url)
        self.limits.check("AlumioConfig")

    @property
    def secrets(self) -> tuple[str, ...]:
        """The token: what redaction hides."""
        return (self.token,)

    def adapter(self) -> AlumioAdapter:
        """Build the adapter that serves this configuration."""
        # The adapter (models, converter, decoders) loads with the first bridge that
        # uses this provider, not with the config.
        from ._adapter import AlumioAdapter

        return AlumioAdapter(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AlumioConfig | None:
        """Read ``TASKBRIDGE_ALUMIO_BASE_URL``, ``_TOKEN`` and ``_SPACE``."""
        pair = required_pair(environ, "TASKBRIDGE_ALUMIO_", "BASE_URL", "TOKEN")
        if pair is None:
            return None
        base_url, token = pair
        return cls(base_url, token, space=environ.get("TASKBRIDGE_ALUMIO_SPACE") or None)
