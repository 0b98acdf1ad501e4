"""Provider adapters, one folder each, and the registry of providers.

A provider is a `ProviderSpec` (name, config class, credentials, limits, sandbox
emulator): the two built in are registered in `_kit.registry`, others through the
``taskbridge.providers`` entry-point group (see `registered`). A plug-in's adapter
raises `SchemaError` for a body that does not fit its model.
"""

from __future__ import annotations

from .._decode.convert import SchemaError, make_converter, wire
from ._kit.adapter import Summary, TaskAdapter
from ._kit.base import (
    CredentialOption,
    ErrorInfo,
    ProviderAdapter,
    ProviderConfig,
    ProviderSpec,
    Request,
    secrets_of,
)
from ._kit.registry import ENTRY_POINT_GROUP, available, get_spec, names, registered, reload

__all__ = [
    "ENTRY_POINT_GROUP",
    "CredentialOption",
    "ErrorInfo",
    "ProviderAdapter",
    "ProviderConfig",
    "ProviderSpec",
    "Request",
    "SchemaError",
    "Summary",
    "TaskAdapter",
    "available",
    "get_spec",
    "make_converter",
    "names",
    "registered",
    "reload",
    "secrets_of",
    "wire",
]
