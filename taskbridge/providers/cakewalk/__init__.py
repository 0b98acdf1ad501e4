"""Cakewalk (SaaS access management): review, action and stand-alone tasks."""

from collections.abc import Callable

import cattrs

from .._kit.base import CredentialOption, ProviderSpec
from ._adapter import STATUS_MAP, CakewalkAdapter
from ._config import CakewalkConfig
from ._converter import make_cakewalk_converter
from ._models import (
    CakewalkLinks,
    CakewalkProblemDetails,
    CakewalkRequest,
    CakewalkSystemExecutionReason,
    CakewalkTask,
    CakewalkTaskRecord,
    CakewalkTaskStatus,
    CakewalkTaskType,
    CakewalkUser,
    ReviewOffboardingMetadata,
    ReviewOnboardingMetadata,
)

__all__ = [
    "SPEC",
    "STATUS_MAP",
    "CakewalkAdapter",
    "CakewalkConfig",
    "CakewalkLinks",
    "CakewalkProblemDetails",
    "CakewalkRequest",
    "CakewalkSystemExecutionReason",
    "CakewalkTask",
    "CakewalkTaskRecord",
    "CakewalkTaskStatus",
    "CakewalkTaskType",
    "CakewalkUser",
    "ReviewOffboardingMetadata",
    "ReviewOnboardingMetadata",
    "make_cakewalk_converter",
]


def detail_format() -> tuple[type[CakewalkTask], Callable[..., cattrs.Converter]]:
    """The detail model and its converter factory (`UnifiedTask.to_dict`)."""
    return CakewalkTask, make_cakewalk_converter


SPEC = ProviderSpec(
    name="cakewalk",
    title="Cakewalk",
    config=CakewalkConfig,
    credentials=(
        CredentialOption("--cakewalk-key", "TASKBRIDGE_CAKEWALK_API_KEY", "Cakewalk API key."),
        CredentialOption(
            "--cakewalk-secret", "TASKBRIDGE_CAKEWALK_API_SECRET", "Cakewalk API secret."
        ),
        CredentialOption(
            "--cakewalk-url",
            "TASKBRIDGE_CAKEWALK_BASE_URL",
            "Cakewalk API origin, if not the public one.",
            required=False,
        ),
    ),
    max_concurrency=16,
    requests_per_minute=1000,
    emulator="taskbridge.providers.cakewalk._emulator:emulator",
    ids_may_contain_spaces=False,
    detail_format=detail_format,
    unified=CakewalkAdapter.unified_of,
)
"""Cakewalk's registration: the bridge, command line, sandbox and pytest plugin read it."""
