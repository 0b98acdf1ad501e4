"""Release hygiene (issue 26): what a release carries and how it is published and checked.

The workflows under .github/ cannot run here (no repository host), so their shape is
checked instead: what they build, check and trust.
"""

from __future__ import annotations

import datetime
import re
import sys
from pathlib import Path
from typing import Any

import yaml

import taskbridge

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
WORKFLOWS = ROOT / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def runs(flow: dict[str, Any]) -> str:
    return "\n".join(
        step.get("run", "") for job in flow["jobs"].values() for step in job.get("steps", [])
    )


def test_development_dependencies_are_groups_not_published_extras() -> None:
    published = {"cli", "otel", "redis", "webhooks"}
    assert set(PYPROJECT["project"]["optional-dependencies"]) == published
    groups = PYPROJECT["dependency-groups"]
    assert {"test", "docs", "bench"} <= set(groups)
    test_group = " ".join(groups["test"])
    assert "pytest-random-order" in test_group
    assert "pytest-repeat" in test_group


def test_the_changelog_has_a_dated_section_for_this_version_under_unreleased() -> None:
    headings = re.findall(r"^## (.+)$", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[0] == "[Unreleased]"
    match = re.fullmatch(r"\[(.+)\] - (\d{4}-\d{2}-\d{2})", headings[1])
    assert match is not None, headings[1]
    assert match[1] == taskbridge.__version__
    datetime.date.fromisoformat(match[2])


def test_project_urls_are_marked_placeholders_and_documentation_is_the_site() -> None:
    urls = PYPROJECT["project"]["urls"]
    assert all("placeholder" in label for label in urls)
    site_url = re.search(r"^site_url: (\S+)$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)
    assert site_url is not None
    assert urls["Documentation (placeholder)"] == site_url[1]


def test_the_publish_workflow_builds_checks_strictly_and_uses_trusted_publishing() -> None:
    flow = workflow("publish.yml")
    assert "python -m build" in runs(flow)
    assert "twine check --strict" in runs(flow)
    (publish,) = [
        job
        for job in flow["jobs"].values()
        if any("gh-action-pypi-publish" in step.get("uses", "") for step in job["steps"])
    ]
    assert publish["permissions"] == {"id-token": "write"}
    # Trusted publishing: no stored token handed to the action.
    assert all("with" not in step or "password" not in step["with"] for step in publish["steps"])


def test_the_docs_workflow_builds_strictly_and_deploys_to_pages() -> None:
    flow = workflow("docs.yml")
    assert "mkdocs build --strict" in runs(flow)
    uses = [step.get("uses", "") for job in flow["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/deploy-pages@") for u in uses)


def test_ci_runs_the_readme_test_command_and_the_extra_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```bash\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    (quickstart,) = [block for block in blocks if "taskbridge demo" in block]
    test_line = quickstart.splitlines()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_line in ci.splitlines()
    assert "--random-order-seed=" in ci  # one run in random order, its seed printed
    assert "--count 3" in ci  # the loopback-server files repeated
    assert "oldest=$(find_python 3.10)" in ci  # the sdist's suite on the oldest Python
    assert '"$oldest" -m venv "$unpacked/venv"' in ci
    assert "for want in 3.13" in ci  # and the whole suite on the newest
