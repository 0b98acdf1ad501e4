"""Mutation testing for taskbridge: does the suite notice when the code is wrong?

A small AST mutator of our own (mutmut and cosmic-ray want a layout and a runner of
their own): each mutant changes one thing in one module (a comparison flipped or moved
by one, a number +1/-1, ``and``/``or`` swapped, a ``not`` dropped, a statement dropped,
a returned value replaced by ``None``), then the module's test files run against it in
a copy of the repository, with a timeout. A mutant the tests fail on (or time out on) is
killed; one they pass on survived: either a test is missing or the mutant is equivalent
(it changes nothing a user could see), which a person decides.

Run from the repository root (nothing here runs in CI by default)::

    .venv/bin/python scripts/mutate.py taskbridge/redis.py
    .venv/bin/python scripts/mutate.py --changed main          # modules changed since main
    .venv/bin/python scripts/mutate.py taskbridge/redis.py --diff main   # changed lines only
    .venv/bin/python scripts/mutate.py MODULE --tests tests/test_x.py --timeout 300
    .venv/bin/python scripts/mutate.py MODULE --list            # the mutants, not run
    .venv/bin/python scripts/mutate.py MODULE --only 3,17       # rerun some by number

Left out, as equivalent by construction: docstrings, annotations and ``TYPE_CHECKING``
blocks (never run); ``__all__`` (the export tests hold it); ``__slots__`` (dropping it
only costs memory: no code sets an undeclared attribute, which mypy checks); and
``logger.debug(...)`` statements (a DEBUG message is no promise: dropping one, or
changing a number in its arguments, changes nothing a user relies on; WARNING and INFO
messages are documented behaviour and stay mutated).

The first run of the unmutated tests records each test's time; each mutant's run then
starts with the fastest tests, so that ``-x`` stops a killed mutant early. ``--jobs 2``
runs two mutants at once, each in its own copy.

It prints each survivor's diff and a summary (``--report FILE`` also writes them as
Markdown), and exits 1 when a mutant survived.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The test files that check each module; others are found by name (see `tests_for`).
# The engine, gate, stream and watch modules are exercised through the public API, so
# no test names them: these are the fast files (a few seconds together) that do.
_WATCH = [
    "tests/test_watch.py",
    "tests/test_polling.py",
    "tests/test_polling_properties.py",
    "tests/test_webhooks_events.py",  # events= of wait/watch (hints.py, the lane's nudge)
    "tests/test_webhooks_sandbox.py",
]
TESTS = {
    "taskbridge/redis.py": ["tests/test_redis_limiter.py"],
    "taskbridge/_redis_lease.py": ["tests/test_redis_limiter.py"],
    "taskbridge/_engine/gate.py": [
        "tests/test_engine_fast_paths.py",
        "tests/test_retry.py",
        "tests/test_ratelimit.py",
        "tests/test_get_e2e.py",
        "tests/test_watch.py",
        "tests/test_service_api.py",  # stats() and max_queue_wait
        "tests/test_hooks.py",  # QueueWaitEvent
    ],
    "taskbridge/_engine/engine.py": [
        "tests/test_get_e2e.py",
        "tests/test_engine_fast_paths.py",
        "tests/test_retry.py",
        "tests/test_batch.py",
        "tests/test_errors_mapping.py",
        "tests/test_result_metadata.py",
        "tests/test_hooks.py",
        "tests/test_lifecycle.py",
        "tests/test_service_api.py",  # views, stats() of retries and 429s
        "tests/test_config.py",  # refs and providers refused before any request
        "tests/test_engine_edges.py",  # closing and failing with waiters, views, window
        "tests/test_webhooks_verify.py",  # raw GET of the key through a view's session
        "tests/test_secret_scanner.py",  # an unexpected error redacted by the caller
    ],
    "taskbridge/_facade/stream.py": [
        "tests/test_batch.py",
        "tests/test_result_metadata.py",
        "tests/test_lifecycle.py",
        "tests/test_front_ends.py",
        "tests/test_supervision.py",  # a worker or the input dies
    ],
    "taskbridge/_facade/watch/iterator.py": _WATCH,
    "taskbridge/_facade/watch/lane.py": _WATCH,
    "taskbridge/_facade/watch/scheduler.py": _WATCH,
    "taskbridge/_facade/watch/subscribers.py": _WATCH,
    "taskbridge/_facade/watch/update.py": _WATCH,
    "taskbridge/_facade/watch/hints.py": _WATCH,
    "taskbridge/_facade/watch/traced.py": ["tests/test_telemetry.py", *_WATCH],  # hooked calls
    "taskbridge/_facade/polling.py": [
        "tests/test_telemetry.py",  # the hook-followed choice
        *_WATCH,
        "tests/test_startup.py",
        "tests/test_lifecycle.py",
    ],
    "taskbridge/providers/_kit/registry.py": [
        "tests/test_plugin_loading.py",
        "tests/test_provider_registry.py",
        "tests/test_plugin_provider.py",
    ],
    "taskbridge/providers/_kit/serialize.py": ["tests/test_serialize.py"],
    "taskbridge/providers/_kit/adapter.py": [
        "tests/test_wrong_task.py",
        "tests/test_provider_cakewalk.py",
        "tests/test_provider_alumio.py",
        "tests/test_decoding_contract.py",
        "tests/test_decode_mirror.py",
        "tests/test_lazy_detail.py",
        "tests/test_serialize.py",
    ],
}

FLIPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Lt: (ast.LtE, ast.GtE),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
}
DROPPABLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Raise, ast.Delete)


@dataclass(frozen=True)
class Mutant:
    number: int
    line: int
    what: str
    source: str  # the whole mutated module


def _span(lines: list[str], node: ast.AST) -> tuple[int, int]:
    """Character offsets of ``node`` in the module text (the AST counts UTF-8 bytes)."""
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def at(row: int, col: int) -> int:
        return starts[row - 1] + len(lines[row - 1].encode()[:col].decode())

    begin = at(node.lineno, node.col_offset)  # type: ignore[attr-defined]
    return begin, at(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]


def _replaced(text: str, lines: list[str], node: ast.AST, new: str) -> str:
    begin, end = _span(lines, node)
    return text[:begin] + new + text[end:]


def _skipped(tree: ast.Module) -> set[int]:
    """Nodes never mutated: docstrings, annotations, ``__all__`` and type-only code."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        if docstring and isinstance(first.value.value, str):  # type: ignore[union-attr]
            skip.update(id(n) for n in ast.walk(first))  # type: ignore[arg-type]
        for name in ("annotation", "returns"):
            sub = getattr(node, name, None)
            if isinstance(sub, ast.AST):
                skip.update(id(n) for n in ast.walk(sub))
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in ("__all__", "__slots__") for t in node.targets
        ):
            skip.update(id(n) for n in ast.walk(node))
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "debug"
        ):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _candidates(tree: ast.Module) -> Iterator[tuple[ast.AST, str, str]]:
    """``(node, description, replacement text)`` for every mutation of ``tree``."""
    skip = _skipped(tree)
    for node in ast.walk(tree):
        if id(node) in skip or not hasattr(node, "lineno"):
            continue
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            for other in FLIPS.get(type(node.ops[0]), ()):
                new = ast.Compare(node.left, [other()], node.comparators)
                yield node, f"{type(node.ops[0]).__name__} -> {other.__name__}", ast.unparse(new)
        elif (
            isinstance(node, ast.Constant)
            and type(node.value) in (int, float)
            and not isinstance(node.value, bool)
        ):
            for step in (1, -1):
                yield node, f"{node.value!r} {step:+d}", repr(node.value + step)
        elif isinstance(node, ast.BoolOp):
            other_op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            what = "and -> or" if isinstance(node.op, ast.And) else "or -> and"
            yield node, what, f"({ast.unparse(ast.BoolOp(other_op, node.values))})"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "not dropped", f"({ast.unparse(node.operand)})"
        elif isinstance(node, ast.Return) and not (
            node.value is None
            or (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            yield node, "return None", "return None"
        if isinstance(node, DROPPABLE):
            yield node, f"{type(node).__name__} dropped", "pass"


def mutants(path: Path, lines_wanted: set[int] | None = None) -> list[Mutant]:
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    found = []
    for node, what, new in _candidates(tree):
        if lines_wanted is not None and node.lineno not in lines_wanted:  # type: ignore[attr-defined]
            continue
        source = _replaced(text, lines, node, new)
        try:
            ast.parse(source)
        except SyntaxError:
            continue
        if source != text:
            found.append((node.lineno, what, source))  # type: ignore[attr-defined]
    found.sort(key=lambda m: m[0])
    return [Mutant(n, line, what, src) for n, (line, what, src) in enumerate(found, 1)]


def changed_lines(module: str, ref: str) -> set[int]:
    out = subprocess.run(
        ["git", "diff", "-U0", ref, "--", module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    wanted: set[int] = set()
    for match in re.finditer(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", out, re.M):
        first, count = int(match[1]), int(match[2] or 1)
        wanted.update(range(first, first + count))
    return wanted


def changed_modules(ref: str) -> list[str]:
    out = subprocess.run(
        ["git", "diff", "--name-only", ref, "--", "taskbridge"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [m for m in out.split() if m.endswith(".py") and (ROOT / m).is_file()]


def tests_for(module: str) -> list[str]:
    if module in TESTS:
        return TESTS[module]
    dotted = module.removesuffix(".py").replace("/", ".")
    stem = Path(module).stem.lstrip("_")
    return sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").glob("test_*.py")
        if dotted in p.read_text() or p.stem == f"test_{stem}"
    )


# A pytest plug-in written into each copy: the first (unmutated) run records how long each
# test takes; every mutant's run then starts with the fastest tests, so that ``-x`` stops
# a killed mutant after seconds rather than after the slow multi-process tests.
ORDER_PLUGIN = """
import json, os

_RECORD = os.environ.get("TB_MUTATE_RECORD")
_ORDER = os.environ.get("TB_MUTATE_ORDER")
_took = {}


def pytest_collection_modifyitems(session, config, items):
    if _ORDER and os.path.exists(_ORDER):
        with open(_ORDER) as f:
            took = json.load(f)
        items.sort(key=lambda item: took.get(item.nodeid, 0.0))


def pytest_runtest_logreport(report):
    _took[report.nodeid] = _took.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session, exitstatus):
    if _RECORD:
        with open(_RECORD, "w") as f:
            json.dump(_took, f)
"""


def copy_repo() -> Path:
    where = Path(tempfile.mkdtemp(prefix="tb-mutate-"))
    ignore = shutil.ignore_patterns(
        ".git", ".venv*", ".ci-venv", "__pycache__", "site", "*.egg-info"
    )
    shutil.copytree(ROOT, where / "repo", ignore=ignore, symlinks=True)
    (where / "plugin").mkdir()
    (where / "plugin" / "_tb_mutate_order.py").write_text(ORDER_PLUGIN)
    return where / "repo"


def compile_checked(copy: Path) -> None:
    """Byte-compile the package with pycs checked against the source's hash: a mutant
    (written in the same second, maybe of the same size) is never run from a stale pyc,
    and the modules it leaves alone are not compiled again on each run (which doubled the
    time of a fast test set). Mutant runs write no bytecode."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-f",
            "--invalidation-mode",
            "checked-hash",
            str(copy / "taskbridge"),
        ],
        check=True,
    )


def clone_copy(first: Path) -> Path:
    where = Path(tempfile.mkdtemp(prefix="tb-mutate-"))
    shutil.copytree(first.parent, where, symlinks=True, dirs_exist_ok=True)
    return where / "repo"


def run_tests(copy: Path, tests: list[str], timeout: float, *, record: bool = False) -> str:
    """``"passed"``, ``"failed"`` or ``"timeout"`` for the tests in ``copy``."""
    durations = str(copy.parent / "durations.json")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(copy), str(copy.parent / "plugin")]),
        "TB_MUTATE_RECORD" if record else "TB_MUTATE_ORDER": durations,
    }
    if record:  # the first run leaves pytest's rewritten test modules behind
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "_tb_mutate_order",
        *tests,
    ]
    try:
        result = subprocess.run(
            cmd, cwd=copy, env=env, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return "timeout"
    if result.returncode in (0, 1):
        return "passed" if result.returncode == 0 else "failed"
    if result.returncode == 5:
        raise SystemExit(f"no tests ran: {' '.join(tests)}")
    return "failed"  # collection or import error: the mutant broke the module


def diff(module: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), module, module, n=2
        )
    )


def mutate_module(module: str, args: argparse.Namespace) -> tuple[int, int, int, list[str]]:
    path = ROOT / module
    wanted = changed_lines(module, args.diff) if args.diff else None
    found = mutants(path, wanted)
    if args.only:
        found = [m for m in found if m.number in args.only]
    tests = args.tests or tests_for(module)
    print(f"== {module}: {len(found)} mutants, tests: {' '.join(tests) or '(none)'}", flush=True)
    if args.list:
        for m in found:
            print(f"  #{m.number} line {m.line}: {m.what}")
        return len(found), 0, 0, []
    if not tests:
        raise SystemExit(f"no test files for {module}: pass --tests")
    jobs = max(1, args.jobs)
    copies = [copy_repo()]
    try:
        started = time.monotonic()
        if run_tests(copies[0], tests, args.timeout * 4, record=True) != "passed":
            raise SystemExit(f"the tests of {module} fail before any mutation")
        timeout = max(args.timeout, 3 * (time.monotonic() - started))
        compile_checked(copies[0])
        copies += [clone_copy(copies[0]) for _ in range(jobs - 1)]
        original = path.read_text()
        free = list(copies)
        lock = threading.Lock()

        def run_one(m: Mutant) -> str:
            with lock:
                copy = free.pop()
            try:
                (copy / module).write_text(m.source)
                outcome = run_tests(copy, tests, timeout)
                (copy / module).write_text(original)
            finally:
                with lock:
                    free.append(copy)
            mark = {"passed": "SURVIVED", "failed": "killed", "timeout": "killed (timeout)"}
            print(f"  #{m.number} line {m.line} {m.what}: {mark[outcome]}", flush=True)
            return outcome

        with ThreadPoolExecutor(jobs) as pool:
            outcomes = list(pool.map(run_one, found))
        killed = sum(o != "passed" for o in outcomes)
        timeouts = sum(o == "timeout" for o in outcomes)
        survivors = [
            f"#{m.number} line {m.line} {m.what}\n{diff(module, original, m.source)}"
            for m, o in zip(found, outcomes, strict=True)
            if o == "passed"
        ]
    finally:
        for copy in copies:
            shutil.rmtree(copy.parent, ignore_errors=True)
    return len(found), killed, timeouts, survivors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help="module paths, e.g. taskbridge/redis.py")
    parser.add_argument("--changed", metavar="REF", help="every module changed since REF")
    parser.add_argument("--diff", metavar="REF", help="only lines changed since REF")
    parser.add_argument("--tests", nargs="+", help="test files to run (default: the table)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per run (min)")
    parser.add_argument("--only", type=lambda s: {int(n) for n in s.split(",")}, help="numbers")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--report", type=Path, help="also write the results as Markdown")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (copies)")
    args = parser.parse_args()
    modules = list(args.modules) + (changed_modules(args.changed) if args.changed else [])
    if not modules:
        parser.error("name modules or --changed REF")
    lines = ["# Mutation run", ""]
    any_survived = False
    for module in modules:
        total, killed, timeouts, survivors = mutate_module(module, args)
        summary = (
            f"{module}: {total} mutants, {killed} killed ({timeouts} by timeout), "
            f"{len(survivors)} survived"
        )
        print(summary)
        lines += [f"## {summary}", ""] + [f"```diff\n{s}```\n" for s in survivors]
        for s in survivors:
            print(s)
        any_survived = any_survived or bool(survivors)
    if args.report:
        args.report.write_text("\n".join(lines))
    return 1 if any_survived else 0


if __name__ == "__main__":
    sys.exit(main())
