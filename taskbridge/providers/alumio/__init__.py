"""Alumio (integration platform): integration tasks, one host per tenant.

The config and `SPEC` load with the package; the adapter, models and converter load on
first use (a bridge that does not use this provider never builds them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..._base.lazy import lazy_names
from .._kit.base import CredentialOption, ProviderSpec
from ._config import AlumioConfig

if TYPE_CHECKING:
    import cattrs

    from ._adapter import MAX_IDENTIFIER_LENGTH, STATUS_MAP, AlumioAdapter, encode_identifier
    from ._converter import make_alumio_converter
    from ._models import (
        AlumioError,
        AlumioTask,
        AlumioTaskMeta,
        AlumioTaskMetaDataItem,
        AlumioTaskResult,
        AlumioTaskStatus,
        AlumioViolation,
    )

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "SPEC",
    "STATUS_MAP",
    "AlumioAdapter",
    "AlumioConfig",
    "AlumioError",
    "AlumioTask",
    "AlumioTaskMeta",
    "AlumioTaskMetaDataItem",
    "AlumioTaskResult",
    "AlumioTaskStatus",
    "AlumioViolation",
    "encode_identifier",
    "make_alumio_converter",
]

_SOURCES = {
    "MAX_IDENTIFIER_LENGTH": "._adapter",
    "STATUS_MAP": "._adapter",
    "AlumioAdapter": "._adapter",
    "encode_identifier": "._adapter",
    "AlumioError": "._models",
    "AlumioTask": "._models",
    "AlumioTaskMeta": "._models",
    "AlumioTaskMetaDataItem": "._models",
    "AlumioTaskResult": "._models",
    "AlumioTaskStatus": "._models",
    "AlumioViolation": "._models",
    "make_alumio_converter": "._converter",
}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, __all__)


def detail_format() -> tuple[type[AlumioTask], Callable[..., cattrs.Converter]]:
    """The detail model and its converter factory (`UnifiedTask.to_dict`)."""
    from ._converter import make_alumio_converter
    from ._models import AlumioTask

    return AlumioTask, make_alumio_converter


def unified(detail: Any) -> tuple[Any, ...]:
    """The unified fields of a task with this detail (`ProviderSpec.unified`)."""
    from ._adapter import AlumioAdapter

    return AlumioAdapter.unified_of(detail)


SPEC = ProviderSpec(
    name="alumio",
    title="Alumio",
    config=AlumioConfig,
    credentials=(
        CredentialOption(
            "--alumio-url",
            "TASKBRIDGE_ALUMIO_BASE_URL",
            "Alumio tenant origin, https://acme.alumio.com.",
        ),
        CredentialOption("--alumio-token", "TASKBRIDGE_ALUMIO_TOKEN", "Alumio API token."),
        CredentialOption(
            "--alumio-space",
            "TASKBRIDGE_ALUMIO_SPACE",
            "Alumio space, if not the default one.",
            required=False,
        ),
    ),
    max_concurrency=16,
    requests_per_minute=None,
    emulator="taskbridge.providers.alumio._emulator:emulator",
    detail_format=detail_format,
    unified=unified,
)
"""Alumio's registration: the bridge, command line, sandbox and pytest plugin read it."""
