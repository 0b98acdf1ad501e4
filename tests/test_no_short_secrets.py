"""No test looks for a short literal in text that holds random numbers or ids.

``assert "456" not in repr(sandbox)`` failed once because the sandbox's random port
was 45623: a short value can occur in such text by chance, and the test then fails
for no reason. Tests that check a value is absent from a repr, a message, a log or an
output use long values (``secrets.token_hex(16)`` or a fixed marker of 16 characters
or more). This test reads every test module and names each absence check on a
shorter literal (written inline or bound to a name in the same module).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SHORTEST = 16

# Text that may hold a random port, id or number: what a secret must be absent from.
TEXT_CALLS = frozenset({"repr", "str", "ascii", "format", "format_exc", "format_exception"})
TEXT_ATTRIBUTES = frozenset({"text", "messages", "stdout", "stderr", "output", "out", "err"})

# Literals checked for absence that cannot come from chance: words no port, uuid, hex id
# or number is made of. Class names and words, and the sandbox's fixed default fake
# credentials (the value under test there, so it cannot be a random one).
NOT_SECRETS = frozenset(
    {"Traceback", "RedisLimiter", "task", "sandbox-key", "sandbox-secret", "sandbox-token"}
)


def _is_text(node: ast.expr) -> bool:
    """Whether ``node`` reads like rendered text (``repr(x)``, ``caplog.text``, ...)."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return name in TEXT_CALLS
    if isinstance(node, ast.Attribute):
        return node.attr in TEXT_ATTRIBUTES
    return False


def _short_constants(tree: ast.Module) -> dict[str, str]:
    """Names bound anywhere in the module to one string literal shorter than the bound."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            value = node.value.value
            if isinstance(value, str) and len(value) < SHORTEST:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = value
    return found


def short_absence_checks(source: str, filename: str) -> list[str]:
    """``file:line: 'literal'`` for each ``<short literal> not in <text>`` in ``source``."""
    tree = ast.parse(source, filename)
    names = _short_constants(tree)
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if not isinstance(op, ast.NotIn) or not _is_text(right):
                continue
            if isinstance(left, ast.Constant) and isinstance(left.value, (str, bytes)):
                value: str | bytes | None = left.value
            elif isinstance(left, ast.Name):
                value = names.get(left.id)
            else:
                value = None
            if value is None or len(value) >= SHORTEST or value in NOT_SECRETS:
                continue
            problems.append(f"{filename}:{node.lineno}: {value!r} is shorter than {SHORTEST}")
    return problems


def test_no_test_checks_a_short_literal_is_absent_from_text() -> None:
    problems: list[str] = []
    for path in sorted(TESTS.rglob("*.py")):
        relative = path.relative_to(TESTS.parent).as_posix()
        problems += short_absence_checks(path.read_text(encoding="utf-8"), relative)
    assert problems == [], "\n".join(problems)


def test_the_scanner_names_the_checks_that_flaked() -> None:
    source = (
        'PORTISH = "456"\n'
        'assert "456" not in repr(sb)\n'
        "assert PORTISH not in caplog.text\n"
        'assert b"tok" not in str(err)\n'
        'assert "0123456789abcdef" not in repr(sb)\n'  # 16 characters: long enough
        'assert "456" not in ids\n'  # not rendered text
    )
    assert short_absence_checks(source, "t.py") == [
        "t.py:2: '456' is shorter than 16",
        "t.py:3: '456' is shorter than 16",
        "t.py:4: b'tok' is shorter than 16",
    ]
