"""Cakewalk (SaaS access management): review, action and stand-alone tasks.

The config and `SPEC` load with the package; the adapter, models and converter load on
first use (a bridge that does not use this provider never builds them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..._base.lazy import lazy_names
from .._kit.base import CredentialOption, ProviderSpec
from ._config import CakewalkConfig

if TYPE_CHECKING:
    import cattrs

    from ._adapter import STATUS_MAP, CakewalkAdapter
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

_SOURCES = {
    "STATUS_MAP": "._adapter",
    "CakewalkAdapter": "._adapter",
    "CakewalkLinks": "._models",
    "CakewalkProblemDetails": "._models",
    "CakewalkRequest": "._models",
    "CakewalkSystemExecutionReason": "._models",
    "CakewalkTask": "._models",
    "CakewalkTaskRecord": "._models",
    "CakewalkTaskStatus": "._models",
    "CakewalkTaskType": "._models",
    "CakewalkUser": "._models",
    "ReviewOffboardingMetadata": "._models",
    "ReviewOnboardingMetadata": "._models",
    "make_cakewalk_converter": "._converter",
}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, __all__)


def detail_format() -> tuple[type[CakewalkTask], Callable[..., cattrs.Converter]]:
    """The detail model and its converter factory (`UnifiedTask.to_dict`)."""
    from ._converter import make_cakewalk_converter
    from ._models import CakewalkTask

    return CakewalkTask, make_cakewalk_converter


def unified(detail: Any) -> tuple[Any, ...]:
    """The unified fields of a task with this detail (`ProviderSpec.unified`)."""
    from ._adapter import CakewalkAdapter

    return CakewalkAdapter.unified_of(detail)


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
    unified=unified,
)
"""Cakewalk's registration: the bridge, command line, sandbox and pytest plugin read it."""
