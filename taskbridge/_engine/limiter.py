"""The admission hook between a provider's gate and whatever keeps its rate budget.

A `Limiter` grants one provider's request starts; the local `RateLimiter` is one (the
default, per process), `taskbridge.redis` builds another that shares the budget of a
credential between processes. A `LimiterBackend` is what ``TaskBridge(limiter=...)``
takes: it builds one `Limiter` per configured provider.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..providers._kit.base import secrets_of

__all__ = ["Limiter", "LimiterBackend", "credential_fingerprint"]

# Public parts that tell two budgets of the same secret apart (another server).
_PUBLIC_FIELDS = ("base_url",)


@runtime_checkable
class Limiter(Protocol):
    """Grants one provider's request starts."""

    async def acquire(self) -> None:
        """Wait until a request may start."""

    def pause(self, seconds: float) -> None:
        """The provider asked to wait ``seconds`` (a 429): share that, if shared at all."""


@runtime_checkable
class LimiterBackend(Protocol):
    """What ``TaskBridge(limiter=...)`` takes: a source of per-provider limiters."""

    def limiter(self, provider: str, *, per_minute: float | None, config: object) -> Limiter:
        """Build the limiter of one provider, whose settings (and credential) are ``config``."""

    async def aclose(self) -> None:
        """Release what the backend opened (called by `TaskBridge.aclose`)."""


def credential_fingerprint(provider: str, config: object) -> str:
    """A stable, non-reversible name for a provider credential: HMAC-SHA256 keyed with the
    credential's own secrets over the provider name and base URL, 128 bits in hex.

    Keyed by the secrets themselves, so whoever reads the name cannot even test a guess
    at one secret without holding all of them.
    """
    # The secrets the provider declares (as redaction reads them), never guessed by name.
    secrets: Sequence[str] = secrets_of(config)
    public = [provider, *(str(getattr(config, name, "")) for name in _PUBLIC_FIELDS)]
    key = "\x00".join(secrets).encode()
    digest = hmac.new(key, "\x00".join(public).encode(), hashlib.sha256).hexdigest()
    return digest[:32]
