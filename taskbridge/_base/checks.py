"""The argument checks every layer shares: each rule is written once, here."""

from __future__ import annotations

import math
from typing import overload

from .errors import ConfigurationError

__all__ = ["check_count", "check_rate", "check_seconds"]


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


@overload
def check_seconds(what: str, value: object) -> float: ...
@overload
def check_seconds(what: str, value: object, *, optional: bool) -> float | None: ...
def check_seconds(what: str, value: object, *, optional: bool = False) -> float | None:
    """Return ``value`` as a float of seconds > 0 (or ``None`` if ``optional``), else raise
    `ConfigurationError` naming ``what``."""
    if value is None and optional:
        return None
    if not _is_number(value) or value <= 0:  # type: ignore[operator]
        tail = ", or None" if optional else ""
        raise ConfigurationError(f"{what} must be a number of seconds > 0{tail}")
    return float(value)  # type: ignore[arg-type]


def check_rate(what: str, value: object) -> float | None:
    """Return a rate > 0 (``None``: no limit), else raise `ConfigurationError`."""
    if value is None:
        return None
    if not _is_number(value) or value <= 0:  # type: ignore[operator]
        raise ConfigurationError(f"{what} must be a number > 0, or None")
    return value  # type: ignore[return-value]


def check_count(what: str, value: object) -> int:
    """Return an integer >= 1, else raise `ConfigurationError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{what} must be an integer >= 1")
    return value
