"""The public names: `taskbridge.__all__` matches what the package defines (as httpx checks)."""

from __future__ import annotations

import inspect
import types

import pytest

import taskbridge

INCLUDED_PRIVATE = {"__version__"}


def _public_names() -> set[str]:
    return {
        name
        for name in dir(taskbridge)
        if not name.startswith("_") and not isinstance(getattr(taskbridge, name), types.ModuleType)
    }


def test_all_is_sorted() -> None:
    assert taskbridge.__all__ == sorted(taskbridge.__all__)


def test_all_has_no_duplicates() -> None:
    assert len(taskbridge.__all__) == len(set(taskbridge.__all__))


def test_all_equals_the_public_names_of_the_module() -> None:
    assert set(taskbridge.__all__) == _public_names() | INCLUDED_PRIVATE


def test_a_star_import_gives_every_exported_name() -> None:
    namespace: dict[str, object] = {}
    exec("from taskbridge import *", namespace)
    assert set(taskbridge.__all__) <= set(namespace)


@pytest.mark.parametrize(
    "name", [n for n in taskbridge.__all__ if inspect.isclass(getattr(taskbridge, n))]
)
def test_every_public_class_is_defined_inside_taskbridge(name: str) -> None:
    assert getattr(taskbridge, name).__module__.startswith("taskbridge")


CONTRACT_NAMES = [
    "TaskBridge",
    "CakewalkConfig",
    "AlumioConfig",
    "RetryPolicy",
    "TaskRef",
    "TaskResult",
    "UnifiedTask",
    "TaskStatus",
    "Provider",
    "TaskBridgeError",
    "ConfigurationError",
    "InvalidTaskIdError",
    "ProviderError",
    "TransportError",
    "RequestTimeoutError",
    "APIError",
    "AuthenticationError",
    "TaskNotFoundError",
    "RateLimitedError",
    "ServerError",
    "DecodeError",
]


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_contract_name_is_exported(name: str) -> None:
    assert name in taskbridge.__all__


def test_version_is_a_string() -> None:
    assert isinstance(taskbridge.__version__, str)
    assert taskbridge.__version__


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from taskbridge import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(taskbridge.__all__)
