"""Alumio (integration platform): integration tasks, one host per tenant."""

from collections.abc import Callable

import cattrs

from .._kit.base import CredentialOption, ProviderSpec
from ._adapter import MAX_IDENTIFIER_LENGTH, STATUS_MAP, AlumioAdapter, encode_identifier
from ._config import AlumioConfig
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


def detail_format() -> tuple[type[AlumioTask], Callable[..., cattrs.Converter]]:
    """The detail model and its converter factory (`UnifiedTask.to_dict`)."""
    return AlumioTask, make_alumio_converter


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
    unified=AlumioAdapter.unified_of,
)
"""Alumio's registration: the bridge, command line, sandbox and pytest plugin read it."""
