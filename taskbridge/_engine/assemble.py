"""Build an `Engine` from provider configs: one gate per provider, on one clock."""

from __future__ import annotations

from collections.abc import Iterable

import aiohttp

from .._base.clock import SYSTEM_CLOCK, Clock
from .._base.errors import ConfigurationError
from .._base.limits import limits_of
from ..providers import ProviderConfig, secrets_of
from .engine import Engine
from .gate import ProviderGate
from .limiter import LimiterBackend
from .transport import Redactor

__all__ = ["build_engine"]


def build_engine(
    configs: Iterable[ProviderConfig],
    *,
    clock: Clock,
    session: aiohttp.ClientSession | None,
    limiter: LimiterBackend | None,
) -> Engine:
    """A gate per config (its adapter, its `Limits`, the shared budget of ``limiter``
    when given), every secret known to the redactor, every wait on ``clock``."""
    gates: dict[str, ProviderGate] = {}
    secrets: list[str] = []
    for config in configs:
        if config.provider in gates:
            raise ConfigurationError(f"provider {config.provider!r} is configured twice")
        limits = limits_of(config)
        shared = None
        if limiter is not None:
            rpm = limits.requests_per_minute
            shared = limiter.limiter(config.provider, per_minute=rpm, config=config)
        gates[config.provider] = ProviderGate(
            config.adapter(), limits, clock=clock.time, sleep=clock.sleep, limiter=shared
        )
        secrets.extend(secrets_of(config))
    hold = None if clock is SYSTEM_CLOCK else clock.attempt
    return Engine(gates, Redactor(secrets), session=session, sleep=clock.sleep, hold=hold)
