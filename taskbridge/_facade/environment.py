"""What `TaskBridge.from_env` reads: each registered provider's config, and the limiter.

A `RedisLimiter` for ``TASKBRIDGE_REDIS_URL``: ``taskbridge.redis`` (and so the optional
``redis``) is imported only when that variable is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._base.errors import ConfigurationError
from .._engine.limiter import LimiterBackend
from ..providers import ProviderConfig, registered

__all__ = ["configs_from_env", "limiter_from_env", "options_from_env"]


def configs_from_env(environ: Mapping[str, str]) -> list[ProviderConfig]:
    """The config of every registered provider whose variables are set (at least one)."""
    specs = registered().values()
    configs = [c for c in (spec.from_env(environ) for spec in specs) if c is not None]
    if not configs:
        wanted = (" and ".join(spec.required_env) for spec in specs)
        raise ConfigurationError("no provider configured: set " + ", or ".join(wanted))
    return configs


def limiter_from_env(environ: Mapping[str, str]) -> LimiterBackend | None:
    """A `RedisLimiter` for ``TASKBRIDGE_REDIS_URL``, or ``None`` when it is not set."""
    url = environ.get("TASKBRIDGE_REDIS_URL", "").strip()
    if not url:
        return None
    from ..redis import RedisLimiter

    return RedisLimiter(url)


def options_from_env(environ: Mapping[str, str], options: dict[str, Any]) -> dict[str, Any]:
    """`TaskBridge` keywords: the providers and limiter of ``environ``, then ``options``
    (an explicit ``limiter=None`` keeps the local limiter)."""
    configs = configs_from_env(environ)
    if "limiter" not in options:
        options["limiter"] = limiter_from_env(environ)
    return {**options, "providers": [*configs, *options.pop("providers", ())]}
