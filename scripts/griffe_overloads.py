"""A griffe extension for the docs: keep the ``@overload`` signatures under inspection.

mkdocs.yml has ``force_inspection: true`` because attrs writes ``__init__`` at run time, so
only the live objects show the constructors' parameters. But ``typing.overload`` leaves
nothing on the live function, so inspection alone renders ``TaskBridge.get`` as
``-> UnifiedTask[Any]``. This extension loads the package a second time from its source,
statically, and gives every inspected function the overloads the source declares; the
reference then shows ``get("cakewalk", ...) -> UnifiedTask[CakewalkTask]``.
"""

from __future__ import annotations

from typing import Any

import griffe


class OverloadsFromSource(griffe.Extension):
    """Copy the statically-read overloads onto the inspected functions of a package."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if not loader.force_inspection:
            return  # static analysis already sees the overloads
        static = griffe.GriffeLoader(search_paths=loader.finder.search_paths).load(pkg.name)
        assert isinstance(static, griffe.Module)
        _copy(static, pkg)


def _copy(source: griffe.Object, target: griffe.Object) -> None:
    for name, member in target.members.items():
        if member.is_alias or name not in source.members:
            continue
        origin = source.members[name]
        if origin.is_alias:
            continue
        if isinstance(member, griffe.Function) and isinstance(origin, griffe.Function):
            if origin.overloads and not member.overloads:
                member.overloads = origin.overloads
        elif isinstance(member, (griffe.Class, griffe.Module)) and isinstance(
            origin, (griffe.Class, griffe.Module)
        ):
            _copy(origin, member)
