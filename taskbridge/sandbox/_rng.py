"""The per-task random generator every emulator draws its data from."""

from __future__ import annotations

import random

__all__ = ["task_rng"]


def task_rng(seed: int, provider: str, task_id: str) -> random.Random:
    """Return the generator that decides everything about one task."""
    return random.Random(f"{seed}:{provider}:{task_id}")
