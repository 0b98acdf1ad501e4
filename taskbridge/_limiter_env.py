"""The limiter `TaskBridge.from_env` picks: a `RedisLimiter` for ``TASKBRIDGE_REDIS_URL``.

Apart from `_limiter` because `taskbridge.redis` builds on `_limiter`: this module sits
above both, and imports ``taskbridge.redis`` (and so the optional ``redis``) only when asked.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._limiter import LimiterBackend

__all__ = ["from_env"]


def from_env(environ: Mapping[str, str]) -> LimiterBackend | None:
    """A `RedisLimiter` for ``TASKBRIDGE_REDIS_URL``, or ``None`` when it is not set."""
    url = environ.get("TASKBRIDGE_REDIS_URL", "").strip()
    if not url:
        return None
    from .redis import RedisLimiter

    return RedisLimiter(url)
