"""Tests swap time, transport and faults through public hooks (`taskbridge.testing`,
provider configs and adapters), never by patching taskbridge's private attributes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).parent

NOT_YET: set[str] = set()  # every test file is converted

_PRIVATE = re.compile(r"(^|\.)_[A-Za-z]")


def _patch_targets(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"setattr", "setitem", "delattr"}
            and "monkeypatch" in ast.unparse(node.func.value)
            and node.args
        ):
            target = ast.unparse(node.args[0])
            if len(node.args) > 1:
                target += "." + ast.unparse(node.args[1]).strip("'\"")
            found.append((node.lineno, target))
        if isinstance(node, ast.Call) and ast.unparse(node.func) in {
            "mock.patch",
            "unittest.mock.patch",
            "patch",
            "mock.patch.object",
            "patch.object",
        }:
            found.append((node.lineno, " ".join(ast.unparse(a) for a in node.args)))
    return found


def test_no_test_patches_a_private_taskbridge_attribute() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name in NOT_YET:
            continue
        for line, target in _patch_targets(ast.parse(path.read_text())):
            if "taskbridge" in target or _PRIVATE.search(target):
                offenders.append(f"{path.relative_to(TESTS)}:{line}: {target}")
    assert offenders == []


def test_the_scan_sees_a_patch_of_a_private() -> None:
    sample = 'monkeypatch.setattr(taskbridge._facade.bridge, "_clock", fake)'
    assert _patch_targets(ast.parse(sample)) == [(1, "taskbridge._facade.bridge._clock")]
