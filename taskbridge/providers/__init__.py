"""Provider adapters, one folder each, and the registry of providers.

A provider is a `ProviderSpec` (name, config class, credentials, limits, sandbox
emulator): the two built in are registered in `_kit.registry`, others through the
``taskbridge.providers`` entry-point group (see `registered`). A plug-in's adapter
raises `SchemaError` for a body that does not fit its model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._base.lazy import lazy_names
from .._decode.errors import SchemaError
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

if TYPE_CHECKING:
    from .._decode.convert import make_converter, wire
    from ._kit.adapter import Summary, TaskAdapter

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

# What builds and runs decoders loads on first use: the registry and the config base do not.
_SOURCES = {
    "make_converter": "taskbridge._decode.convert",
    "wire": "taskbridge._decode.convert",
    "Summary": "taskbridge.providers._kit.adapter",
    "TaskAdapter": "taskbridge.providers._kit.adapter",
}

__getattr__, __dir__ = lazy_names(__name__, _SOURCES, __all__)
