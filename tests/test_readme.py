"""README.md's examples, run as a user would paste them: shell lines and Python programs.

Every fenced block is found by its language tag, so an example added to the README is
tested without touching this file (and a block that stops working fails here). The
guides' examples (the pytest plugin's included) are run by tests/test_docs.py.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from taskbridge.cli._output import sandbox_banner
from taskbridge.sandbox import Sandbox

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
CLI = [sys.executable, "-c", "from taskbridge.cli import main; main()"]
SEED = 1  # `taskbridge sandbox` and `--sandbox` serve this seed by default


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text()) if lang == language]


def sandbox_lines() -> list[str]:
    """The README's shell commands that run on the bundled sandbox (comments dropped)."""
    lines = []
    for body in blocks("bash"):
        for line in body.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command.startswith("taskbridge ") and "--sandbox" in command:
                lines.append(command)
    return lines


def programs() -> list[str]:
    """The README's complete Python programs (those that run ``asyncio.run``)."""
    return [body for body in blocks("python") if "asyncio.run(" in body]


QUICKSTART = (
    'pip install -e ".[cli]" && taskbridge demo',
    'pip install "pip>=25.1" && pip install -e . --group test && python -m pytest -q',
)


def test_the_readme_has_the_examples_this_module_runs() -> None:
    # The README is the first five minutes; the guides' examples run in test_docs.py.
    assert len(sandbox_lines()) >= 2
    assert len(programs()) >= 1


def test_the_quickstart_is_the_two_commands_verbatim() -> None:
    (quickstart,) = [b for b in blocks("bash") if "taskbridge demo" in b]
    assert tuple(quickstart.splitlines()) == QUICKSTART


def test_the_readme_links_to_files_that_exist() -> None:
    """Relative links (into docs/, examples/, SECURITY.md...) work on GitHub only if the
    file is there; the docs site's own links are checked by ``mkdocs build --strict``."""
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    relative = [link for link in links if "://" not in link]
    assert any(link.startswith("docs/guides/") for link in relative)
    for link in relative:
        assert (README.parent / link).exists(), link


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=SEED) as sb:
        yield sb


@pytest.fixture
def sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    """The environment a user has after pasting `taskbridge sandbox`'s export lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKBRIDGE_")}
    for line in sandbox_banner(sandbox, None):
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0]
    return env


async def run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=50)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize("line", sandbox_lines())
async def test_sandbox_shell_examples_succeed(line: str) -> None:
    code, out, err = await run([*CLI, *shlex.split(line)[1:]])
    assert code == 0, out + err
    assert out.strip()


async def test_help_example_ids_exist_in_the_sandbox(sandbox: Sandbox) -> None:
    code, out, err = await run([*CLI, "get", "--help"])
    assert code == 0, err
    match = re.search(r"taskbridge get (\w+) (\S+)", out)
    assert match is not None, out
    provider, task_id = match.groups()
    assert task_id in sandbox.ids(provider)


def test_readme_ids_exist_in_the_sandbox_of_the_cli(sandbox: Sandbox) -> None:
    text = README.read_text()
    uuid = r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
    uuids = set(re.findall(uuid, text))
    alumio = set(re.findall(r"\border-export-\d+\b", text))
    assert uuids and alumio
    assert uuids <= set(sandbox.cakewalk_ids)
    assert alumio <= set(sandbox.alumio_ids)


@pytest.mark.parametrize("index", range(len(programs())))
async def test_python_examples_run(index: int, sandbox_env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / f"example_{index}.py"
    script.write_text(programs()[index])
    code, out, err = await run([sys.executable, str(script)], env=sandbox_env)
    assert code == 0, out + err
    assert err == ""
    assert out.strip()


@pytest.mark.timeout(300)
def test_python_examples_pass_mypy_strict(tmp_path: Path) -> None:
    for index, body in enumerate(blocks("python")):
        (tmp_path / f"readme_example_{index}.py").write_text(body)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
