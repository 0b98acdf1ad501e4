"""An example third-party taskbridge provider: issues of a Jira-like tracker.

Registered through the ``taskbridge.providers`` entry point (see ``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Callable

import cattrs

from taskbridge.providers import CredentialOption, ProviderSpec

from ._config import JiralikeConfig
from ._converter import make_jiralike_converter
from ._models import JiralikeFields, JiralikeIssue, JiralikeStatus

__all__ = [
    "SPEC",
    "JiralikeConfig",
    "JiralikeFields",
    "JiralikeIssue",
    "JiralikeStatus",
    "make_jiralike_converter",
]


def _detail_format() -> tuple[type[JiralikeIssue], Callable[..., cattrs.Converter]]:
    return JiralikeIssue, make_jiralike_converter


SPEC = ProviderSpec(
    name="jiralike",
    title="Jiralike",
    config=JiralikeConfig,
    credentials=(
        CredentialOption("--jiralike-url", "TASKBRIDGE_JIRALIKE_URL", "Jiralike tracker origin."),
        CredentialOption("--jiralike-pat", "TASKBRIDGE_JIRALIKE_PAT", "Personal access token."),
    ),
    max_concurrency=4,
    requests_per_minute=300,
    emulator="taskbridge_jiralike._emulator:JiralikeEmulator",
    ids_may_contain_spaces=False,
    detail_format=_detail_format,
)
