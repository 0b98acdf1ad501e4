"""The direct constructors used on the request path build the same objects as ``__init__``.

`new_unified_task` fills a `UnifiedTask`'s slots directly (it is built per request, and
the frozen ``__init__`` costs twice as much); it must stay equal to the attrs-built one
in every way a user can observe, and refuse a class it cannot build correctly.
"""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timezone

import attrs
import pytest

from taskbridge import TaskStatus, UnifiedTask
from taskbridge._base.models import new_unified_task
from taskbridge._base.slots import direct_constructor

CREATED = datetime(2024, 3, 5, 10, 11, 12, tzinfo=timezone.utc)
UPDATED = datetime(2024, 3, 6, 8, 0, tzinfo=timezone.utc)
ARGS = ("cakewalk", "t-1", TaskStatus.RUNNING, "InProgress", "Kind", CREATED, UPDATED, ("d", 1))


def test_direct_unified_task_equals_the_init_built_one() -> None:
    names = [f.name for f in attrs.fields(UnifiedTask)]
    direct = new_unified_task(*ARGS)
    built = UnifiedTask(**dict(zip(names, ARGS, strict=True)))
    assert type(direct) is UnifiedTask
    assert direct == built
    assert hash(direct) == hash(built)
    assert repr(direct) == repr(built)
    assert attrs.asdict(direct) == attrs.asdict(built)
    for name, value in zip(names, ARGS, strict=True):
        assert getattr(direct, name) is value


def test_direct_unified_task_stays_frozen_and_copyable() -> None:
    task = new_unified_task(*ARGS)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        task.id = "other"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(task)) == task
    assert copy.deepcopy(task) == task
    assert attrs.evolve(task, id="t-2").id == "t-2"


def test_direct_unified_task_takes_exactly_the_fields() -> None:
    with pytest.raises(TypeError):
        new_unified_task(*ARGS[:-1])


def test_a_class_with_a_validator_is_refused() -> None:
    @attrs.frozen
    class Checked:
        x: int = attrs.field(validator=attrs.validators.instance_of(int))

    with pytest.raises(TypeError, match="cannot be built"):
        direct_constructor(Checked)


def test_a_class_with_post_init_is_refused() -> None:
    @attrs.frozen
    class Hooked:
        x: int

        def __attrs_post_init__(self) -> None:
            pass

    with pytest.raises(TypeError, match="cannot be built"):
        direct_constructor(Hooked)


def test_a_dict_class_is_refused() -> None:
    @attrs.frozen(slots=False)
    class Plain:
        x: int

    with pytest.raises(TypeError, match="cannot be built"):
        direct_constructor(Plain)
