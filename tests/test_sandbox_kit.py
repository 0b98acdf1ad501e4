"""The emulator kit's defaults: what a provider's emulator gets without writing it."""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson
import pytest

from taskbridge.sandbox import Credentials, EmulatorBase, equal, task_rng


class Bare(EmulatorBase):
    """Only what an emulator must state, plus a default credential."""

    name = "bare"
    prefix = "/bare/"
    stages = ("a", "b", ("c", "d"))
    auth_failure = "no"
    default_credentials: ClassVar[Mapping[str, str]] = {"token": "bare-default"}


class Wrapped(Bare):
    envelope = "item"
    charset = "utf-8"


def task(task_id: str) -> dict[str, Any]:
    return {"id": task_id, "status": "a", "note": f"about {task_id}"}


@pytest.mark.parametrize("emulator", [Bare(), Wrapped()], ids=["body", "envelope"])
def test_served_body_holds_the_task_where_task_of_finds_it(emulator: EmulatorBase) -> None:
    served = emulator.serve(task("t-1"), "space-1")
    assert emulator.task_of(orjson.loads(served.body)) == task("t-1")
    assert (served.content_type, served.charset, served.space) == (
        "application/json",
        emulator.charset,
        "space-1",
    )


@pytest.mark.parametrize("emulator", [Bare(), Wrapped()], ids=["body", "envelope"])
def test_an_on_demand_body_is_the_template_with_the_id_json_escaped(
    emulator: EmulatorBase,
) -> None:
    mark = "__mark__"
    parts = emulator.split(emulator.serve(task(mark), "").body, mark)
    odd = f'quote " back \\ tab \t é {secrets.token_hex(16)}'
    filled = emulator.fill(parts, odd)
    assert emulator.task_of(orjson.loads(filled.body)) == task(odd)
    assert filled.space == ""


def test_credentials_come_from_others_else_the_defaults() -> None:
    mine = {"token": secrets.token_hex(16)}
    assert Bare().credentials(Credentials()) == {"token": "bare-default"}
    assert Bare().credentials(Credentials(others={"bare": mine})) == mine
    assert Bare().credentials(Credentials(others={"other": mine})) == {"token": "bare-default"}


def test_ids_are_taken_as_given_and_new_ones_are_numbered() -> None:
    assert Bare().key("any id / at all") == "any id / at all"
    assert Bare().key("") is None
    assert Bare().new_id(random.Random(0), 7) == "added-task-7"


def test_task_rng_depends_on_seed_provider_and_id_only() -> None:
    draw = task_rng(1, "bare", "x").random()
    assert task_rng(1, "bare", "x").random() == draw
    assert len({draw, task_rng(2, "bare", "x").random(), task_rng(1, "b", "x").random()}) == 3


def test_equal_compares_credentials() -> None:
    secret = secrets.token_hex(16)
    assert equal(secret, secret)
    assert not equal(secret[:-1], secret)
    assert not equal(None, secret)
