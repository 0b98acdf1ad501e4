"""Shape the plugin's sandbox for this suite: another seed, more tasks."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def taskbridge_sandbox_options() -> dict[str, Any]:
    return {"seed": 7, "tasks_per_provider": 60}
