"""The module graph: the layers of docs/architecture.md, imports only downwards, no
cycle, no provider knowing another, no module changing another's objects at import."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import taskbridge

ROOT = Path(taskbridge.__file__).parent


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


# The layers, lowest first (docs/architecture.md). A module belongs to the layer of the
# longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    ("taskbridge._version", "taskbridge._base"),
    ("taskbridge._decode",),
    ("taskbridge.providers",),
    ("taskbridge._engine",),
    # limiter backends and integrations
    ("taskbridge.redis", "taskbridge._redis_scripts", "taskbridge._redis_lease", "taskbridge.otel"),
    ("taskbridge._facade",),
    ("taskbridge", "taskbridge.testing", "taskbridge.schema"),  # the public package
    ("taskbridge.webhooks",),  # an optional integration above the facade (from_config)
    ("taskbridge.sandbox",),
    # The CLI, and the entry scripts that run it.
    ("taskbridge.pytest_plugin", "taskbridge.cli", "taskbridge.__main__"),
    ("taskbridge.sandbox.__main__",),
]

# Imports inside functions that go up a layer, each with its reason. Nothing else may.
UPWARD_WHEN_CALLED = {
    # to_dict/from_dict need the provider's converter, found through the registry.
    ("taskbridge._base.models", "taskbridge.providers._kit.serialize"),
}

# Where the house plan still has work in flight (see the CHANGELOG); empty when done.
NOT_YET: set[tuple[str, str]] = set()


def layer_of(name: str) -> int:
    best, found = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (
                name == prefix
                or name.startswith(
                    prefix + "." if prefix != "taskbridge" else "taskbridge.__never__"
                )
            ) and len(prefix) > best:
                best, found = len(prefix), index
    assert found >= 0, f"{name} is in no layer: add it to LAYERS"
    return found


def function_level(name: str) -> set[str]:
    """What ``name`` imports inside functions only (not under TYPE_CHECKING)."""
    return imports(name, lazy=True, typing=False) - imports(name, lazy=False)


def test_every_module_is_in_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_imports_at_import_time_only_run_downwards() -> None:
    wrong = [
        (name, dep)
        for name in MODULES
        for dep in imports(name, lazy=False)
        if layer_of(dep) > layer_of(name) and (name, dep) not in NOT_YET
    ]
    assert wrong == []


def test_imports_inside_functions_only_run_downwards_but_the_listed_ones() -> None:
    wrong = [
        (name, dep)
        for name in MODULES
        for dep in function_level(name)
        if layer_of(dep) > layer_of(name) and (name, dep) not in UPWARD_WHEN_CALLED | NOT_YET
    ]
    assert wrong == []
    for name, dep in UPWARD_WHEN_CALLED:  # each exception is still needed
        assert dep in function_level(name), (name, dep)


def test_no_import_cycles_at_import_time() -> None:
    assert cycles_of({name: imports(name, lazy=False) for name in MODULES}) == []


def test_no_import_cycles_even_through_imports_inside_functions() -> None:
    graph = {name: imports(name, lazy=True, typing=False) for name in MODULES}
    assert cycles_of(graph) == []


def test_the_built_in_providers_load_by_name_like_plug_ins() -> None:
    # Nothing below a provider's folder imports it: the registry loads it by name.
    for name in MODULES:
        if name.startswith("taskbridge.providers._kit"):
            deps = imports(name, lazy=True)
            assert not {
                d
                for d in deps
                if d.startswith(("taskbridge.providers.cakewalk", "taskbridge.providers.alumio"))
            }


def test_config_and_adapter_do_not_import_each_other() -> None:
    for provider in ("cakewalk", "alumio"):
        adapter = f"taskbridge.providers.{provider}._adapter"
        config = f"taskbridge.providers.{provider}._config"
        assert config not in imports(adapter, lazy=True)


def test_the_engine_knows_no_provider_by_name() -> None:
    for name in MODULES:
        if name.startswith(("taskbridge._engine", "taskbridge._facade")):
            deps = imports(name, lazy=True)
            named = {d for d in deps if d.startswith("taskbridge.providers.") and "._kit" not in d}
            # Their typed keywords cakewalk=, alumio= (and get()'s overloads).
            if name not in ("taskbridge._facade.bridge", "taskbridge._facade.sync"):
                assert named == set(), (name, named)


def _imported_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def test_no_module_changes_another_modules_objects_at_import() -> None:
    """No registration by side effect: at import, a module assigns attributes only on
    its own objects (and calls no ``setattr`` on imported ones)."""
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        imported = _imported_names(tree)
        for node in at_run_time(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            targets: list[ast.expr] = []
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute):
                    root = target.value
                    while isinstance(root, ast.Attribute):
                        root = root.value
                    assert not (isinstance(root, ast.Name) and root.id in imported), (
                        f"{name}:{node.lineno} assigns onto an imported object"
                    )
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("setattr"):
                first = node.args[0] if node.args else None
                assert not (isinstance(first, ast.Name) and first.id in imported), (
                    f"{name}:{node.lineno} calls setattr on an imported object"
                )


# Modules the house plan still has to cut down; empty when done.
LONG_FOR_NOW: set[str] = set()


def test_no_module_is_over_400_lines() -> None:
    long = {
        name
        for name, path in MODULES.items()
        if len(path.read_text().splitlines()) > 400 and name not in LONG_FOR_NOW
    }
    assert long == set()


def test_the_top_level_holds_at_most_15_modules() -> None:
    top = list(ROOT.glob("*.py"))
    assert len(top) <= 15, sorted(p.name for p in top)


def test_no_module_calls_private_methods_of_the_facade() -> None:
    private = {"_fetch", "_resolve", "_window", "_check_loop", "_ensure_session", "_gate"}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in private:
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id == "self"):
                    raise AssertionError(f"{name} uses .{node.attr} of another object")


def provider_package(name: str) -> str | None:
    """The provider folder a module belongs to (``None`` for the kit, base and registry)."""
    parts = name.split(".")
    if parts[:2] != ["taskbridge", "providers"] or len(parts) < 3 or parts[2].startswith("_"):
        return None
    return ".".join(parts[:3])


def test_the_sandbox_sits_above_the_providers_and_has_no_circle() -> None:
    # Every import counts here: in functions and under TYPE_CHECKING too.
    graph = {name: imports(name, lazy=True) for name in MODULES}
    for name, deps in graph.items():
        if not name.startswith("taskbridge.providers"):
            continue
        sandbox = {d for d in deps if d.partition(".")[2].startswith("sandbox")}
        assert not sandbox, f"{name} imports the sandbox: {sandbox}"
        own = provider_package(name)
        others = {p for d in deps if (p := provider_package(d)) is not None and p != own}
        assert own is None or not others, f"{name} imports another provider: {others}"
    in_sandbox = {
        n: {d for d in deps if d.startswith("taskbridge.sandbox")}
        for n, deps in graph.items()
        if n.startswith("taskbridge.sandbox")
    }
    assert cycles_of(in_sandbox) == []
