"""Cakewalk settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import attrs

from ..._base.config import check_base_url, required_pair
from ..._base.errors import ConfigurationError
from ..._base.limits import LimitFields, Limits

if TYPE_CHECKING:
    from ._adapter import CakewalkAdapter

__all__ = ["DEFAULT_LIMITS", "CakewalkConfig"]

# Reviews take minutes to days: start at a few seconds, settle at a minute.
DEFAULT_LIMITS = Limits(
    max_concurrency=16, requests_per_minute=1000, poll_interval=5.0, max_poll_interval=60.0
)

DEFAULT_BASE_URL = "https://open-api.getcakewalk.io"


def _secret(name: str) -> attrs._ValidatorType[str]:
    def check(_: object, __: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"CakewalkConfig.{name} must be a non-empty string")
        if not value.isprintable():
            # Sent as a header: a control character would fail (or inject) at request time.
            raise ConfigurationError(f"CakewalkConfig.{name} must not contain control characters")

    return check


@attrs.frozen
class CakewalkConfig(LimitFields):
    """Credentials and limits for the Cakewalk Open API.

    Args:
        api_key: sent as ``X-API-KEY``.
        api_secret: sent as ``X-API-SECRET``; never shown in ``repr``, logs or errors.
        base_url: the API origin; ``https`` unless the host is loopback.
        max_concurrency: requests in flight at once.
        requests_per_minute: client-side limit (Cakewalk allows 1,000 a minute per key);
            ``None`` for none.
        poll_interval: seconds between the first polls of a task that `TaskBridge.wait`
            or `TaskBridge.watch` follows; each poll without a change multiplies it by
            1.5, up to ``max_poll_interval``, and a change resets it.
        max_poll_interval: the longest wait between two polls of one task.
        max_queue_wait: the longest a request may wait for a slot, a pause or the rate
            limiter; past it the request fails with `QueueTimeoutError` (``None``: no bound).
    """

    provider: ClassVar[str] = "cakewalk"

    api_key: str = attrs.field(repr=False, validator=_secret("api_key"))
    api_secret: str = attrs.field(repr=False, validator=_secret("api_secret"))
    base_url: str = attrs.field(default=DEFAULT_BASE_URL, kw_only=True)
    max_concurrency: int = attrs.field(default=DEFAULT_LIMITS.max_concurrency, kw_only=True)
    requests_per_minute: float | None = attrs.field(
        default=DEFAULT_LIMITS.requests_per_minute, kw_only=True
    )
    poll_interval: float = attrs.field(default=DEFAULT_LIMITS.poll_interval, kw_only=True)
    max_poll_interval: float = attrs.field(default=DEFAULT_LIMITS.max_poll_interval, kw_only=True)
    max_queue_wait: float | None = attrs.field(default=DEFAULT_LIMITS.max_queue_wait, kw_only=True)

    def __attrs_post_init__(self) -> None:
        url = check_base_url(self.base_url, what="CakewalkConfig.base_url")
        object.__setattr__(self, "base_url", url)
        self.limits.check("CakewalkConfig")

    @property
    def secrets(self) -> tuple[str, ...]:
        """The key and the secret: what redaction hides."""
        return (self.api_key, self.api_secret)

    def adapter(self) -> CakewalkAdapter:
        """Build the adapter that serves this configuration."""
        # The adapter (models, converter, decoders) loads with the first bridge that
        # uses this provider, not with the config.
        from ._adapter import CakewalkAdapter

        return CakewalkAdapter(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CakewalkConfig | None:
        """Read ``TASKBRIDGE_CAKEWALK_API_KEY``, ``_API_SECRET`` and ``_BASE_URL``."""
        pair = required_pair(environ, "TASKBRIDGE_CAKEWALK_", "API_KEY", "API_SECRET")
        if pair is None:
            return None
        key, secret = pair
        base_url = environ.get("TASKBRIDGE_CAKEWALK_BASE_URL") or DEFAULT_BASE_URL
        return cls(key, secret, base_url=base_url)
