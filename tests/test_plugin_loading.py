"""Plug-in loading, bounded and isolated: whatever a plug-in's import raises (an error,
``SystemExit``, its own ``KeyboardInterrupt``) it is reported and left out, and only a
real signal (Ctrl-C) goes on; plug-ins load one name at a time, and their names are
listed from the installed metadata without importing them.

Each test installs throwaway distributions: a module and a ``.dist-info`` with an
``entry_points.txt``, in a directory put on ``sys.path``, as pip would leave them.
"""

from __future__ import annotations

import importlib
import os
import secrets
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from taskbridge.providers import (
    ENTRY_POINT_GROUP,
    available,
    get_spec,
    names,
    registered,
    reload,
)

GOOD = """
from taskbridge import AlumioConfig
from taskbridge.providers import ProviderSpec

SPEC = ProviderSpec(name={name!r}, title="Good", config=AlumioConfig, credentials=())
"""

Install = Callable[[str, str], str]


def write_dist(site: Path, point: str, source: str, *, spec_name: str | None = None) -> str:
    """Install a distribution whose entry point ``point`` is a module of ``source``
    (``{name}`` in it: the spec's name); returns the module's (unique) name."""
    module = f"tb_plug_{point}_{secrets.token_hex(8)}"
    (site / f"{module}.py").write_text(textwrap.dedent(source.format(name=spec_name or point)))
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{point} = {module}:SPEC\n")
    return module


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    """A directory on ``sys.path`` for throwaway distributions, gone after the test."""
    path = tmp_path / "site"
    path.mkdir()
    reload()  # the registry as installed: it has looked none of this test's names up
    sys.path.insert(0, str(path))
    importlib.invalidate_caches()
    try:
        yield path
    finally:
        sys.path.remove(str(path))
        for module in [m for m in sys.modules if m.startswith("tb_plug_")]:
            del sys.modules[module]
        importlib.invalidate_caches()
        reload()


@pytest.fixture
def install(site: Path) -> Install:
    def install(point: str, source: str) -> str:
        module = write_dist(site, point, source)
        importlib.invalidate_caches()
        return module

    return install


def run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKBRIDGE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        pytest.param("raise SystemExit(7)", "SystemExit: 7", id="system-exit"),
        pytest.param("raise KeyboardInterrupt('own')", "KeyboardInterrupt: own", id="interrupt"),
        pytest.param("raise GeneratorExit", "GeneratorExit", id="generator-exit"),
        pytest.param("raise ValueError('broken')", "ValueError: broken", id="error"),
    ],
)
def test_whatever_a_plugin_raises_is_reported_and_it_is_left_out(
    install: Install, source: str, shown: str
) -> None:
    install("good", GOOD)
    install("bad", source)
    with pytest.warns(RuntimeWarning, match=f"plug-in 'bad'.*failed to load.*{shown}"):
        found = reload()
    assert list(found) == ["cakewalk", "alumio", "good"]
    assert names() == ("cakewalk", "alumio", "good")


def test_get_spec_of_a_builtin_or_another_plugin_never_imports_a_plugin(
    install: Install,
) -> None:
    slow = install("slow", "raise AssertionError('imported')")
    good = install("good", GOOD)
    assert get_spec("cakewalk").name == "cakewalk"
    listed = available()
    assert listed[:2] == ("cakewalk", "alumio")
    assert sorted(listed[2:]) == ["good", "slow"]
    assert slow not in sys.modules and good not in sys.modules
    assert get_spec("good").name == "good"
    assert good in sys.modules and slow not in sys.modules
    with pytest.raises(Exception, match="unknown provider 'nope'"):
        get_spec("nope")
    assert slow not in sys.modules


def test_a_spec_named_otherwise_than_its_entry_point_is_left_out(site: Path) -> None:
    write_dist(site, "alias", GOOD, spec_name="realname")
    importlib.invalidate_caches()
    with pytest.warns(RuntimeWarning, match="plug-in 'alias'.*named 'realname', not 'alias'"):
        assert "alias" not in reload()


def test_help_survives_plugins_that_exit_or_interrupt(site: Path) -> None:
    write_dist(site, "exits", "raise SystemExit(7)")
    write_dist(site, "interrupts", "raise KeyboardInterrupt")
    result = run(site, "-m", "taskbridge.cli", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()
    assert "plug-in 'exits'" in result.stderr and "SystemExit: 7" in result.stderr
    assert "plug-in 'interrupts'" in result.stderr


def test_a_real_ctrl_c_while_a_plugin_loads_stops_the_program(site: Path) -> None:
    # The plug-in's import is where the user happens to press Ctrl-C: the signal is the
    # user's, so KeyboardInterrupt goes on instead of being reported as the plug-in's.
    write_dist(
        site,
        "pressed",
        """
        import os, signal, time
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000):
            time.sleep(0.001)  # the handler runs at the next check
        """,
    )
    marker = secrets.token_hex(16)
    code = f"from taskbridge.providers import get_spec; get_spec('pressed'); print({marker!r})"
    result = run(site, "-c", code)
    assert marker not in result.stdout
    assert "KeyboardInterrupt" in result.stderr
    assert result.returncode in (1, -signal.SIGINT, 128 + signal.SIGINT)
    assert "taskbridge provider plug-in 'pressed'" not in result.stderr  # no warning


def test_the_signal_handler_is_restored_after_loading(install: Install) -> None:
    before = signal.getsignal(signal.SIGINT)
    install("good", GOOD)
    reload()
    assert registered()["good"].name == "good"
    assert signal.getsignal(signal.SIGINT) is before
