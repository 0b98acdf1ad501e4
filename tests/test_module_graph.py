"""The module graph: no import cycles, generic modules know no provider, no module
reaches into the facade's privates."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import taskbridge

ROOT = Path(taskbridge.__file__).parent
GENERIC = ["_gate", "_transport", "_engine", "_batch", "_stream", "_deadline", "_watch"]


def module_name(path: Path) -> str:
    parts = ["taskbridge", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def at_run_time(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node``, except those of ``if TYPE_CHECKING:`` blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            for other in child.orelse:
                yield other
                yield from at_run_time(other)
            continue
        yield child
        yield from at_run_time(child)


def imports(name: str, *, lazy: bool, typing: bool = True) -> set[str]:
    """What a module imports at import time (``lazy``: in functions and TYPE_CHECKING too;
    ``typing=False`` with ``lazy``: in functions, not under TYPE_CHECKING)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    nodes = (ast.walk(tree) if typing else at_run_time(tree)) if lazy else iter(tree.body)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


def cycles_of(graph: dict[str, set[str]]) -> list[str]:
    """The modules that reach themselves (other than through their own package)."""
    # A module's package is imported before it: the edge to it is not a cycle.
    cycles = []
    for start in graph:
        todo, seen = [start], set()
        while todo:
            for dep in graph[todo.pop()]:
                if dep == start and not start.startswith(f"{dep}."):
                    cycles.append(start)
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
    packages = {n for n in MODULES if MODULES[n].name == "__init__.py"}
    return sorted({c for c in cycles if c not in packages})


def test_no_import_cycles_at_import_time() -> None:
    assert cycles_of({name: imports(name, lazy=False) for name in MODULES}) == []


def test_no_import_cycles_even_through_imports_inside_functions() -> None:
    # A module that needs one above it (the registry, the facade) has it installed
    # instead (`_models.install_codec`, `_bridge.register_view_factory`).
    graph = {name: imports(name, lazy=True, typing=False) for name in MODULES}
    assert cycles_of(graph) == []


def test_config_and_adapter_do_not_import_each_other() -> None:
    for provider in ("cakewalk", "alumio"):
        adapter = f"taskbridge.providers.{provider}._adapter"
        config = f"taskbridge.providers.{provider}._config"
        assert config not in imports(adapter, lazy=True)


def test_generic_modules_import_only_the_provider_base() -> None:
    # The registry is generic too: it loads the built-ins on first use, not on import.
    generic = {"taskbridge.providers._base", "taskbridge.providers._registry"}
    for short in GENERIC:
        name = f"taskbridge.{short}"
        providers = {m for m in imports(name, lazy=False) if m.startswith("taskbridge.providers")}
        assert providers <= generic, (name, providers)
    for name in (*generic, "taskbridge.providers"):
        providers = {m for m in imports(name, lazy=False) if m.startswith("taskbridge.providers")}
        assert providers <= generic, (name, providers)


def test_batch_and_bridge_do_not_import_each_other() -> None:
    assert "taskbridge._bridge" not in imports("taskbridge._batch", lazy=True)
    assert "taskbridge._bridge" not in imports("taskbridge._stream", lazy=True)
    assert "taskbridge._bridge" not in imports("taskbridge._watch", lazy=True)


def test_no_module_calls_private_methods_of_the_facade() -> None:
    private = {"_fetch", "_resolve", "_window", "_check_loop", "_ensure_session", "_gate"}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in private:
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id == "self"):
                    raise AssertionError(f"{name} uses .{node.attr} of another object")
