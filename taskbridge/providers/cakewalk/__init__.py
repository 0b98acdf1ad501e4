"""Cakewalk (SaaS access management): review, action and stand-alone tasks."""

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
