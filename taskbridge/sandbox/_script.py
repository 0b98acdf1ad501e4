"""Scripted answers: "this id answers 404", "this id fails twice with 503, then succeeds"."""

from __future__ import annotations

import math

import attrs

__all__ = ["ScriptBook", "Scripted"]


@attrs.define
class Scripted:
    """What an id answers for its next ``remaining`` requests (``None``: for ever)."""

    status: int
    remaining: int | None
    retry_after: float | None
    detail: str


class ScriptBook:
    """Scripted answers per ``(provider, id)``, consumed one request at a time."""

    __slots__ = ("_scripts",)

    def __init__(self) -> None:
        self._scripts: dict[tuple[str, str], list[Scripted]] = {}

    def add(
        self,
        provider: str,
        task_id: str,
        status: int,
        *,
        times: int | None,
        retry_after: float | None,
        detail: str,
    ) -> None:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status, got {status!r}")
        if times is not None and (
            isinstance(times, bool) or not isinstance(times, int) or times < 1
        ):
            raise ValueError(f"times must be an int >= 1 or None, got {times!r}")
        if retry_after is not None and not (
            isinstance(retry_after, (int, float))
            and math.isfinite(retry_after)
            and retry_after >= 0
        ):
            raise ValueError(f"retry_after must be seconds >= 0 or None, got {retry_after!r}")
        self._scripts.setdefault((provider, task_id), []).append(
            Scripted(status, times, retry_after, detail)
        )

    def clear(self, provider: str | None = None, task_id: str | None = None) -> None:
        """Forget the scripts of one id, of one provider, or all of them."""
        for key in list(self._scripts):
            if (provider is None or key[0] == provider) and (task_id is None or key[1] == task_id):
                del self._scripts[key]

    def take(self, provider: str, task_id: str) -> Scripted | None:
        """Return the scripted answer for this request, if any, and count it."""
        steps = self._scripts.get((provider, task_id))
        if not steps:
            return None
        step = steps[0]
        if step.remaining is not None:
            step.remaining -= 1
            if step.remaining == 0:
                steps.pop(0)
                if not steps:
                    del self._scripts[(provider, task_id)]
        return step
