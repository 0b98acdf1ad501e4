"""The documentation site (docs/, mkdocs.yml): its code runs, its pages are tested, its
reference covers every public name.

Every fenced ``python`` block that is a complete program (it calls ``asyncio.run``) runs
against the sandbox with the ``TASKBRIDGE_*`` variables a user gets from
``taskbridge sandbox``; every ``python`` block passes ``mypy --strict``; the CLI page's
commands run; a page's pytest tests (``def test_``) pass under the pytest plugin; a
block that includes a file (``--8<-- "examples/..."``) is covered by
tests/test_examples.py. ``mkdocs build --strict`` itself runs in CI (.ci/run), with the
``docs`` extra.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import taskbridge
from taskbridge import sandbox as sandbox_module
from taskbridge.sandbox import Sandbox

from .test_examples import EXAMPLES, RUN_BY, sandbox_environ
from .test_plugin_provider import PLUGIN_DIR

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
# The included file's path (without a ``:section`` of it).
INCLUDE = re.compile(r'^--8<-- "([^":]+)(?::[\w-]+)?"$', re.MULTILINE)
CLI = [sys.executable, "-c", "from taskbridge.cli import main; main()"]
SEED = 1  # the seed `taskbridge sandbox` and `--sandbox` serve


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def name(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


def blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text()) if lang == language]


def own_python(page: Path) -> list[str]:
    """The page's Python blocks written in the page (not included from a file)."""
    return [body for body in blocks(page, "python") if not INCLUDE.search(body)]


def programs() -> list[tuple[str, int, str]]:
    found = []
    for page in pages():
        for index, body in enumerate(b for b in own_python(page) if "asyncio.run(" in b):
            found.append((name(page), index, body))
    return found


def included(page: Path) -> list[str]:
    return INCLUDE.findall(page.read_text())


def cli_lines() -> list[str]:
    """The CLI page's commands, except `taskbridge sandbox` (it serves until Ctrl-C)."""
    lines = []
    for body in blocks(DOCS / "guides" / "cli.md", "bash"):
        for line in body.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command.startswith("taskbridge ") and not command.startswith("taskbridge sandbox"):
                lines.append(command)
    return lines


def run_by_a_test(path: str) -> bool:
    """Whether an included file outside ``examples/`` is code a test runs: a test module,
    or a file of the example plug-in that tests/test_plugin_provider.py installs."""
    full = (ROOT / path).resolve()
    in_plugin = full.is_relative_to(PLUGIN_DIR.resolve()) and full.suffix in {".py", ".toml"}
    return in_plugin or (path.startswith("tests/test_") and path.endswith(".py"))


def test_every_guide_has_a_block_that_a_test_runs() -> None:
    guides = [DOCS / "getting-started.md", *sorted((DOCS / "guides").glob("*.md"))]
    run = {page for page, _, _ in programs()}
    for page in guides:
        examples = [p for p in included(page) if p.startswith("examples/")]
        tested = (
            name(page) in run
            or any(p.removeprefix("examples/") in RUN_BY for p in examples)
            or any(run_by_a_test(p) for p in included(page))
            or (page.name == "cli.md" and cli_lines())
        )
        assert tested, f"{name(page)} has no code block that a test runs"


def test_included_files_exist_and_examples_are_tested() -> None:
    for page in pages():
        for path in included(page):
            assert (ROOT / path).is_file(), f"{name(page)} includes missing {path}"
            if path.startswith("examples/"):
                assert (EXAMPLES / path.removeprefix("examples/")).is_file()
                assert path.removeprefix("examples/") in RUN_BY


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    nav = re.findall(r":\s+(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)
    assert sorted(nav) == sorted(name(p) for p in pages())


def test_the_reference_documents_every_public_name() -> None:
    directives = set()
    for page in (DOCS / "reference").glob("*.md"):
        directives |= set(re.findall(r"^::: (\S+)$", page.read_text(), re.MULTILINE))
    public = {f"taskbridge.{n}" for n in taskbridge.__all__ if n != "__version__"}
    sandbox = {"Sandbox", "Faults", "SandboxStats", "ProviderStats", "Credentials"}
    public |= {f"taskbridge.sandbox.{n}" for n in sandbox}
    public |= {"taskbridge.pytest_plugin"}
    assert public <= directives, sorted(public - directives)


def test_public_docstrings_follow_one_format() -> None:
    """A one-line summary sentence; Google-style sections (never reST ``Example::``)."""
    objects: list[object] = [
        getattr(taskbridge, n) for n in taskbridge.__all__ if n != "__version__"
    ]
    objects += [getattr(sandbox_module, n) for n in ("Sandbox", "Faults", "SandboxStats")]
    objects += [taskbridge.TaskBridge.__dict__[n] for n in ("get", "get_many", "stream")]
    objects += [taskbridge.TaskBridge.from_env, taskbridge.TaskBridge.aclose]
    objects += [taskbridge, sandbox_module]
    for obj in objects:
        doc = inspect.getdoc(obj)
        label = getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))
        assert doc, f"{label} has no docstring"
        summary = doc.split("\n\n", 1)[0]
        assert "\n" not in summary and summary.endswith("."), f"{label}: {summary!r}"
        assert "::\n" not in doc, f"{label}: use a Google-style 'Example:' section"
    for method in ("get", "get_many", "stream", "from_env"):
        doc = inspect.getdoc(getattr(taskbridge.TaskBridge, method)) or ""
        assert "Args:" in doc and "Example:" in doc, method
    for cls in (taskbridge.TaskBridge, taskbridge.CakewalkConfig, taskbridge.AlumioConfig):
        assert "Args:" in (inspect.getdoc(cls) or ""), cls


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=SEED) as sb:
        yield sb


async def run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=50)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("page", "index", "body"),
    programs(),
    ids=[f"{page}-{index}" for page, index, _ in programs()],
)
async def test_program_runs(
    page: str, index: int, body: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    script = tmp_path / f"program_{index}.py"
    script.write_text(body)
    code, out, err = await run([sys.executable, str(script)], sandbox_environ(sandbox), tmp_path)
    assert code == 0, out + err
    # stderr holds nothing but the library's own WARNING when it gives up on a task.
    assert all(line.startswith("giving up on ") for line in err.splitlines()), err
    assert out.strip()


@pytest.mark.parametrize("line", cli_lines())
async def test_cli_page_commands_run(line: str, sandbox: Sandbox, tmp_path: Path) -> None:
    # What `taskbridge sandbox --write-refs refs.txt` writes, for the get-many lines.
    refs = [f"cakewalk {i}" for i in sandbox.cakewalk_ids[:5]]
    refs += [f"alumio {i}" for i in sandbox.alumio_ids[:5]]
    (tmp_path / "refs.txt").write_text("\n".join(refs) + "\n")
    code, out, err = await run([*CLI, *shlex.split(line)[1:]], sandbox_environ(sandbox), tmp_path)
    assert code == 0, out + err
    assert out.strip()


def test_the_site_has_the_programs_and_commands_this_module_runs() -> None:
    assert len(programs()) >= 10
    assert len(cli_lines()) >= 4


@pytest.mark.timeout(300)
def test_python_blocks_and_examples_pass_mypy_strict(tmp_path: Path) -> None:
    count = 0
    for page in pages():
        for index, body in enumerate(own_python(page)):
            stem = re.sub(r"\W", "_", name(page).removesuffix(".md"))
            (tmp_path / f"{stem}_{index}.py").write_text(body)
            count += 1
    assert count >= 10
    examples = [str(EXAMPLES / p) for p in RUN_BY if p.endswith(".py")]
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--no-incremental"),
            *("--cache-dir", str(tmp_path / ".mypy_cache")),  # nothing left in examples/
            *(str(tmp_path), *examples),
        ],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        cwd=EXAMPLES / "testing",  # so test_sync_job.py finds sync_job
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def page_tests() -> list[tuple[str, str]]:
    """The pages' own pytest tests (``def test_``), written for the pytest plugin."""
    return [
        (name(p), b)
        for p in pages()
        for b in own_python(p)
        if "\ndef test_" in "\n" + b or "\nasync def test_" in "\n" + b
    ]


@pytest.mark.timeout(150)
def test_the_pages_tests_pass_in_a_users_project(tmp_path: Path) -> None:
    """Each test written in a page passes under the plugin, with the pytest settings the
    testing guide tells a user to copy (examples/testing/pyproject.toml)."""
    found = page_tests()
    assert any(page == "guides/testing.md" for page, _ in found)
    (tmp_path / "pyproject.toml").write_text((EXAMPLES / "testing" / "pyproject.toml").read_text())
    count = 0
    for index, (_, body) in enumerate(found):
        (tmp_path / f"test_page_{index}.py").write_text(body)
        count += len(re.findall(r"^(?:async )?def test_", body, re.MULTILINE))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{count} passed" in proc.stdout, proc.stdout


def test_the_sandbox_credentials_named_in_the_testing_guide_are_its_own() -> None:
    from taskbridge.sandbox import Credentials

    text = (DOCS / "guides" / "testing.md").read_text()
    creds = Credentials()
    for value in (creds.cakewalk_api_key, creds.cakewalk_api_secret, creds.alumio_token):
        assert f"`{value}`" in text
