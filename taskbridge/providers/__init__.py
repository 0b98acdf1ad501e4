"""Provider adapters, one folder each; `REGISTRY` lists the configs the bridge knows.

A new provider is a new folder (models, converter, config, adapter) plus one line here.
"""

from __future__ import annotations

from ._base import ErrorInfo, ProviderAdapter, ProviderConfig, Request
from .alumio import AlumioConfig
from .cakewalk import CakewalkConfig

__all__ = ["REGISTRY", "ErrorInfo", "ProviderAdapter", "ProviderConfig", "Request"]

REGISTRY: tuple[type[ProviderConfig], ...] = (
    CakewalkConfig,
    AlumioConfig,
)
