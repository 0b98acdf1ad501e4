"""The provider contract: specs, the registry and its entry-point plug-ins, declared secrets."""

from __future__ import annotations

import importlib
import secrets
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import ClassVar

import attrs
import pytest

from taskbridge import AlumioConfig, CakewalkConfig, ConfigurationError, TaskBridge
from taskbridge.providers import (
    CredentialOption,
    ProviderAdapter,
    ProviderSpec,
    _kit,
    get_spec,
    names,
    registered,
    secrets_of,
)


@attrs.frozen
class NoSecretsConfig:
    """A config that forgot to declare its secrets (holds a ``password``)."""

    provider: ClassVar[str] = "nosecrets"
    password: str = attrs.field(repr=False)
    max_concurrency: int = 1
    requests_per_minute: float | None = None

    def adapter(self) -> ProviderAdapter:
        return AlumioConfig("http://127.0.0.1:1", self.password).adapter()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> NoSecretsConfig | None:
        return None


FAKE_SPEC = ProviderSpec(
    name="fakeplug",
    title="Fake plug",
    config=NoSecretsConfig,  # type: ignore[arg-type]  # no `secrets`: the bridge refuses it
    credentials=(CredentialOption("--fakeplug-pw", "TASKBRIDGE_FAKEPLUG_PW", "Password."),),
)


class _Site:
    """A directory on ``sys.path`` where ``append(entry_point)`` installs a throwaway
    distribution declaring it, as pip would leave one: the registry sees it for real."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entry: EntryPoint) -> None:
        info = self.path / f"tb_fake_{entry.name}_{secrets.token_hex(8)}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {info.stem}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[{entry.group}]\n{entry.name} = {entry.value}\n")
        importlib.invalidate_caches()
        with warnings.catch_warnings():  # a broken one warns again when a test reloads
            warnings.simplefilter("ignore", RuntimeWarning)
            _kit.registry.reload()


@pytest.fixture
def plugins(tmp_path: Path) -> Iterator[_Site]:
    """Plug-ins installed for one test (through real entry-point metadata)."""
    site = _Site(tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        yield site
    finally:
        sys.path.remove(str(tmp_path))
        importlib.invalidate_caches()
        _kit.registry.reload()


def point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name, value, _kit.registry.ENTRY_POINT_GROUP)


def test_builtins_are_registered_first() -> None:
    assert names()[:2] == ("cakewalk", "alumio")
    assert get_spec("cakewalk").config is CakewalkConfig
    assert get_spec("alumio").config is AlumioConfig


@pytest.mark.parametrize("name", ["cakewalk", "alumio"])
def test_spec_agrees_with_its_config(name: str) -> None:
    spec = get_spec(name)
    env = {c.env: f"http://127.0.0.1:1/{c.env}" for c in spec.credentials}
    config = spec.from_env(env)
    assert config is not None and config.provider == name
    assert config.max_concurrency == spec.max_concurrency
    assert config.requests_per_minute == spec.requests_per_minute
    # Every secret the config holds is declared: each credential value but the URL/space.
    secret = {c.env for c in spec.credentials if c.required and "URL" not in c.env}
    assert set(spec.secrets(config)) == {env[var] for var in secret}
    assert spec.adapter(config).name == name
    # Half the required variables is an error naming the missing one.
    first, *rest = spec.required_env
    with pytest.raises(ConfigurationError, match=rest[0]):
        spec.from_env({first: env[first]})
    assert all(c.option.startswith(f"--{name}-") for c in spec.credentials)


def test_unknown_provider_lists_registered_names(plugins: _Site) -> None:
    plugins.append(point("fakeplug", f"{__name__}:FAKE_SPEC"))
    _kit.registry.reload()
    assert names() == ("cakewalk", "alumio", "fakeplug")
    with pytest.raises(ConfigurationError, match=r"registered: cakewalk, alumio, fakeplug"):
        get_spec("nope")
    bridge = TaskBridge(alumio=AlumioConfig("http://127.0.0.1:1", "t"))
    with pytest.raises(ConfigurationError, match=r"'nope' \(registered: cakewalk, alumio, fake"):
        bridge._call.gate("nope")
    with pytest.raises(ConfigurationError, match="'fakeplug' is not configured"):
        bridge._call.gate("fakeplug")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("no_such_module_for_taskbridge:SPEC", "failed to load.*ModuleNotFoundError"),
        ("os:sep", "is a str, not a ProviderSpec"),
        ("taskbridge.providers.cakewalk:SPEC", "'cakewalk' is already registered"),
    ],
)
def test_a_broken_plugin_is_left_out_with_a_warning(plugins: _Site, value: str, why: str) -> None:
    plugins.append(point("broken", value))
    with pytest.warns(RuntimeWarning, match=f"plug-in 'broken'.*{why}"):
        _kit.registry.reload()
    assert names() == ("cakewalk", "alumio")
    assert registered()["cakewalk"].config is CakewalkConfig


def test_import_never_loads_plugins() -> None:
    code = (
        "import taskbridge, taskbridge.providers;"
        "assert taskbridge.providers._kit.registry._everything is None"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_config_must_declare_its_secrets() -> None:
    config = NoSecretsConfig("pa55word")
    with pytest.raises(ConfigurationError, match="NoSecretsConfig must declare its secrets"):
        secrets_of(config)
    with pytest.raises(ConfigurationError, match="must declare its secrets"):
        TaskBridge(providers=[config])  # type: ignore[list-item]


@pytest.mark.parametrize("bad", ["one-string", ["ok", 3], None])
def test_secrets_must_be_strings(bad: object) -> None:
    @attrs.frozen
    class Bad:
        secrets: object

    with pytest.raises(ConfigurationError, match=r"Bad.secrets must be a tuple of strings"):
        secrets_of(Bad(bad))


def test_from_env_names_every_registered_variable() -> None:
    with pytest.raises(ConfigurationError) as info:
        TaskBridge.from_env({})
    message = str(info.value)
    for spec in registered().values():
        for var in spec.required_env:
            assert var in message
