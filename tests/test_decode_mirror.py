"""The msgspec fast path (`taskbridge._decode.mirror`) agrees with the converters.

`decode_task` validates a body with its msgspec mirror and falls back to
`decode_checked` (orjson + cattrs hooks) on any exception. That is only right if the
mirror is *sound*: whatever it accepts, the converters accept into an identical task
(types of every value included: an open enum's member is not its string, ``1`` is not
``1.0``, a datetime keeps its offset). These properties run on spec-generated bodies,
on mutated ones (a field removed, retyped, nulled, an unknown enum value, a wrong
nested type) and on the sandbox's seeded bodies; the few documented leniencies (values
the mirror skips under unknown keys) are pinned down last.
"""

from __future__ import annotations

import copy
import enum
import json
import sys
from datetime import datetime
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskbridge import AlumioConfig, CakewalkConfig, DecodeError, UnifiedTask
from taskbridge._base.models import PendingDetail
from taskbridge._decode.convert import SchemaError
from taskbridge._decode.mirror import FastDecoder
from taskbridge.sandbox import SandboxState

from ._asked import asked_for
from ._schemas import alumio_task_result, body_strategy, cakewalk_task_record
from .conftest import TOKEN, ScriptedServer, alumio_body, cakewalk_body, make_bridge

ADAPTERS = {
    "cakewalk": CakewalkConfig("key", "secret").adapter(),
    "alumio": AlumioConfig("https://acme.alumio.com", TOKEN).adapter(),
}
TASK_ID = {"cakewalk": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "alumio": "requested-id"}
BODIES = {
    "cakewalk": body_strategy(cakewalk_task_record()),
    "alumio": body_strategy(alumio_task_result(require_object=False)),
}
REJECTED = "rejected"

# Values a mutation puts in place of a field: every JSON type, integers at orjson's and
# msgspec's bounds, timestamps msgspec and the converters read differently, near-enums.
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**31,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    2**70,
    1.0,
    -0.0,
    1.5,
    1e300,
    "",
    "x",
    "Approved",
    "approved",
    "processing",
    "OpenApi",
    "2026-03-01T09:30:00Z",
    "2026-03-01t09:30:00.1234565z",
    "2026-12-31 23:59:59.9999995+01:00",
    "9999-12-31T23:59:59.9999999",
    "2026-03-01",
    "2026-03-01T09:30Z",
    "2026-02-29T00:00:00Z",
    [],
    [None],
    [{}],
    ["x"],
    {},
    {"id": "x"},
    {"a": [1, 2.5, None]},
]


def strict_same(a: Any, b: Any, path: str = "$") -> None:
    """``a`` and ``b`` are equal and of the same types all the way down."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if attrs.has(type(a)):
        for field in attrs.fields(type(a)):
            strict_same(getattr(a, field.name), getattr(b, field.name), f"{path}.{field.name}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            strict_same(x, y, f"{path}[{n}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for key in a:
            strict_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, datetime):
        assert (a, a.utcoffset(), a.tzinfo) == (b, b.utcoffset(), b.tzinfo), path
    elif isinstance(a, enum.Enum):
        assert a is b, path
    else:
        assert a == b, path


def asked(provider: str, body: bytes) -> str:
    return asked_for(provider, body, TASK_ID[provider])


def fast(provider: str, body: bytes) -> UnifiedTask[Any] | str:
    """The task of the fast path, or `REJECTED` when the mirror refuses the body."""
    adapter = ADAPTERS[provider]
    try:
        record = adapter._fast(body)
    except Exception:
        return REJECTED
    if provider == "alumio" and record.task is None:
        return REJECTED  # decode_task takes the fallback (its "required" message)
    task = adapter.decode_task(body, asked(provider, body))
    slot = type(task).__dict__["detail"].member.__get__(task, type(task))
    assert type(slot) is PendingDetail  # the fast path it is
    return task


def checked(provider: str, body: bytes) -> UnifiedTask[Any] | str:
    """The task of the converters alone, or the `SchemaError` message."""
    try:
        return ADAPTERS[provider].decode_checked(body, asked(provider, body))
    except SchemaError as exc:
        return f"SchemaError: {exc}"


def assert_agree(provider: str, body: bytes) -> str:
    """The property: the fast path rejects, or accepts exactly as the converters do;
    and `decode_task` answers as `decode_checked` either way."""
    quick, slow = fast(provider, body), checked(provider, body)
    if isinstance(quick, UnifiedTask):
        assert isinstance(slow, UnifiedTask), f"the mirror accepted a refused body: {slow}"
        strict_same(quick, slow)
        assert quick.to_dict() == slow.to_dict()
        return "accepted"
    try:
        answer: UnifiedTask[Any] | str = ADAPTERS[provider].decode_task(body, asked(provider, body))
    except SchemaError as exc:
        answer = f"SchemaError: {exc}"
    if isinstance(slow, UnifiedTask):
        assert isinstance(answer, UnifiedTask)
        strict_same(answer, slow)
        return "fallback accepted"
    assert answer == slow  # the same message
    return "both rejected"


def dumps(document: Any) -> bytes:
    # The stdlib writes any integer (orjson.dumps stops at 64 bits).
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for n, value in enumerate(node):
            found += paths(value, (*prefix, n))
    return found


def mutate(document: Any, path: tuple[Any, ...], operation: str, value: Any) -> Any:
    document = copy.deepcopy(document)
    *parents, last = path
    node = document
    for step in parents:
        node = node[step]
    if operation == "remove" and isinstance(node, dict):
        del node[last]
    elif operation == "null":
        node[last] = None
    else:
        node[last] = value
    return document


@st.composite
def mutated(draw: st.DrawFn, provider: str) -> Any:
    document = draw(BODIES[provider])
    for _ in range(draw(st.integers(1, 3))):
        where = paths(document)
        if not where:
            break
        path = draw(st.sampled_from(where))
        operation = draw(st.sampled_from(["remove", "null", "set", "set"]))
        document = mutate(document, path, operation, draw(st.sampled_from(ODD_VALUES)))
    return document


FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("provider", ["cakewalk", "alumio"])
@FUZZ
@given(data=st.data())
def test_generated_bodies_agree(provider: str, data: st.DataObject) -> None:
    assert assert_agree(provider, dumps(data.draw(BODIES[provider]))) != REJECTED


@pytest.mark.parametrize("provider", ["cakewalk", "alumio"])
@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_mutated_bodies_agree(provider: str, data: st.DataObject) -> None:
    assert_agree(provider, dumps(data.draw(mutated(provider))))


@pytest.mark.parametrize("provider", ["cakewalk", "alumio"])
def test_spec_valid_bodies_take_the_fast_path(provider: str) -> None:
    # Without this the properties above could hold with a mirror that refuses everything.
    body = dumps(cakewalk_body() if provider == "cakewalk" else alumio_body())
    assert assert_agree(provider, body) == "accepted"


@pytest.mark.parametrize("provider", ["cakewalk", "alumio"])
def test_the_sandbox_seeded_bodies_take_the_fast_path_and_agree(provider: str) -> None:
    state = SandboxState(seed=1, tasks_per_provider=50)
    ids = state.ids(provider)
    outcomes = []
    for task_id in ids:
        served = state.lookup(provider, task_id)
        assert served is not None
        outcomes.append(assert_agree(provider, served.body))
    assert outcomes == ["accepted"] * 50


def cakewalk_with(**fields: Any) -> bytes:
    return dumps(cakewalk_body(**fields))


def cakewalk_user_with(**fields: Any) -> bytes:
    body = cakewalk_body()
    body["data"]["assignedUser"] = {**body["data"]["assignedUser"], **fields}
    return dumps(body)


def alumio_with(**fields: Any) -> bytes:
    return dumps(alumio_body(**fields))


EDGES = [
    # orjson reads integers past 64 bits as floats, which an int field refuses.
    pytest.param("cakewalk", cakewalk_user_with(statusId=2**64), "both rejected", id="int-2**64"),
    pytest.param("cakewalk", cakewalk_user_with(statusId=2**70), "both rejected", id="int-2**70"),
    pytest.param(
        "cakewalk", cakewalk_user_with(statusId=-(2**63) - 1), "both rejected", id="int-below-i64"
    ),
    # In orjson's uint64 range, past msgspec's int64 bound: the converters take it.
    pytest.param("cakewalk", cakewalk_user_with(statusId=2**63), "fallback accepted", id="u64"),
    pytest.param("cakewalk", cakewalk_user_with(statusId=2**63 - 1), "accepted", id="i64-max"),
    pytest.param("cakewalk", cakewalk_user_with(statusId=1.0), "both rejected", id="int-as-1.0"),
    pytest.param("cakewalk", cakewalk_user_with(statusId=True), "both rejected", id="int-as-bool"),
    pytest.param("cakewalk", cakewalk_with(isActionStep=1), "both rejected", id="bool-as-1"),
    pytest.param("cakewalk", cakewalk_with(id=None), "both rejected", id="required-null"),
    pytest.param("cakewalk", cakewalk_with(status="Closed"), "accepted", id="unknown-enum"),
    pytest.param("cakewalk", cakewalk_with(claimers={}), "both rejected", id="list-as-object"),
    pytest.param("cakewalk", cakewalk_with(claimers=[None]), "both rejected", id="null-item"),
    pytest.param("cakewalk", cakewalk_with(request="x"), "both rejected", id="object-as-string"),
    pytest.param(
        "cakewalk",
        cakewalk_with(createdAt="2026-12-31t23:59:59.99999951z"),
        "accepted",
        id="datetime-rounds-into-next-year",
    ),
    pytest.param(
        "cakewalk",
        cakewalk_with(snoozedTill="9999-12-31T23:59:59.9999999"),
        "fallback accepted",
        id="dotnet-max-value",
    ),
    pytest.param(
        "cakewalk", cakewalk_with(createdAt="2026-03-01"), "fallback accepted", id="date-only"
    ),
    pytest.param(
        "cakewalk", cakewalk_with(createdAt="2026-02-30T00:00:00Z"), "both rejected", id="feb-30"
    ),
    pytest.param("alumio", alumio_with(entityData=None), "accepted", id="free-null"),
    pytest.param("alumio", alumio_with(entityData=[]), "both rejected", id="free-list"),
    pytest.param("alumio", alumio_with(entityData="{}"), "both rejected", id="free-string"),
    pytest.param("alumio", alumio_with(context={"n": 2**70}), "accepted", id="free-bigint"),
    pytest.param("alumio", alumio_with(context={"n": 2**64 - 1}), "accepted", id="free-u64"),
    pytest.param("alumio", alumio_with(status=None), "accepted", id="status-null"),
    pytest.param("alumio", dumps({"object": None}), "both rejected", id="object-null"),
    pytest.param("alumio", dumps({}), "both rejected", id="object-absent"),
    pytest.param(
        "alumio",
        b'{"object": {"identifier": "a", "identifier": "b", "status": 1, "status": "new"}}',
        "fallback accepted",  # orjson keeps the last duplicate; msgspec checks each one
        id="duplicate-keys",
    ),
    pytest.param(
        "alumio", b'{"object": {"entityData": {"x": 1e999}}}', "both rejected", id="free-1e999"
    ),
    pytest.param(
        "alumio", b'{"object": {"entityData": {"x": "\xff"}}}', "both rejected", id="free-bad-utf8"
    ),
    pytest.param(
        "alumio", b'{"object": {"route": "\xed\xa0\x80"}}', "both rejected", id="known-surrogate"
    ),
    pytest.param("alumio", b'{"object": {"\\u0072oute": "r"}}', "accepted", id="escaped-known-key"),
    pytest.param("alumio", b'{"object": {}} x', "both rejected", id="trailing-garbage"),
    pytest.param("alumio", b"\xef\xbb\xbf" + alumio_with(), "both rejected", id="bom"),
]


@pytest.mark.parametrize(("provider", "body", "outcome"), EDGES)
def test_edge_bodies_agree(provider: str, body: bytes, outcome: str) -> None:
    assert assert_agree(provider, body) == outcome


def test_a_duplicate_key_keeps_the_last_value_on_both_paths() -> None:
    body = b'{"object": {"identifier": "a", "identifier": "b"}}'
    assert assert_agree("alumio", body) == "accepted"
    assert ADAPTERS["alumio"].decode_task(body, "b").id == "b"


# --- the documented leniencies: values the mirror skips under unknown keys -----------

LENIENT = [
    pytest.param(b'{"object": {"x": 1e999}}', id="infinite-number"),
    pytest.param(b'{"object": {"x": "\xff"}}', id="invalid-utf8-value"),
    pytest.param(b'{"object": {"\xff": 1}}', id="invalid-utf8-key"),
    pytest.param(b'{"x": [1e400], "object": {}}', id="top-level-unknown-key"),
]


@pytest.mark.parametrize("body", LENIENT)
def test_unknown_keys_values_are_skipped_not_checked(body: bytes) -> None:
    # orjson refuses these bodies; the mirror never reads the unknown key's value.
    assert checked("alumio", body).startswith("SchemaError: body is not valid JSON")  # type: ignore[union-attr]
    task = ADAPTERS["alumio"].decode_task(body, "requested-id")
    assert (task.id, task.detail.identifier) == ("requested-id", None)


def test_deep_nesting_under_an_unknown_key_follows_the_recursion_limit() -> None:
    deep = b'{"object": {}, "x": ' + b"[" * 1100 + b"]" * 1100 + b"}"
    assert checked("alumio", deep).startswith("SchemaError: body is not valid JSON")  # type: ignore[union-attr]
    # msgspec stops at the interpreter's recursion limit for C code: at the default limit
    # Python 3.10 and 3.11 refuse this depth (the fallback answers as orjson does), while
    # 3.13 lets it through; skipped, the value cannot change the task either way.
    outcome = fast("alumio", deep)
    if sys.version_info < (3, 12):
        assert outcome == REJECTED
    else:
        assert outcome == REJECTED or outcome == fast("alumio", b'{"object": {}}')
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(5000)
    try:
        # Raised past orjson's 1,024 levels, the skipped value is accepted.
        assert ADAPTERS["alumio"].decode_task(deep, "x").id == "x"
    finally:
        sys.setrecursionlimit(limit)


def test_unmirrorable_models_are_refused_at_construction() -> None:
    @attrs.frozen
    class WithDefault:
        name: str = "x"

    @attrs.frozen
    class WithSet:
        tags: set[str]

    with pytest.raises(TypeError, match="only None defaults"):
        FastDecoder(WithDefault)
    with pytest.raises(TypeError, match="no msgspec mirror"):
        FastDecoder(WithSet)


class Color(str, enum.Enum):
    RED = "red"


@attrs.frozen(kw_only=True)
class Leaf:
    at: datetime
    colors: list[Color | str]
    weight: float | None = None


@attrs.frozen(kw_only=True)
class Sub:
    data: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Every:
    """Every kind the mirror handles, in lists and optionals too."""

    name: str
    count: int | None = None
    leaves: list[Leaf] | None = None
    times: list[datetime] = None  # type: ignore[assignment]  # a None default, None refused
    blobs: list[dict[str, Any]] | None = None
    blob: dict[str, Any] = None  # type: ignore[assignment]
    maybe: dict[str, Any] | None = attrs.field(default=None, metadata={"wire": "Maybe"})
    sub: Sub
    other: Sub | None = None


BASE: dict[str, Any] = {"name": "x", "times": [], "blob": {}, "sub": {}}
GENERIC = [
    # The converters read an absent key as null, which `times` and `blob` refuse.
    pytest.param({"name": "x"}, "both rejected", id="absent-defaults-to-none"),
    pytest.param(BASE, "accepted", id="minimal"),
    pytest.param({**BASE, "sub": {"data": {"a": [1]}}, "other": {}}, "accepted", id="nested"),
    pytest.param({**BASE, "other": {"data": 1}}, "both rejected", id="nested-free-int"),
    pytest.param({**BASE, "sub": {"data": "{}"}}, "both rejected", id="nested-free-str"),
    pytest.param({**BASE, "sub": None}, "both rejected", id="required-nested-null"),
    pytest.param(
        {
            "name": "x",
            "count": 3,
            "leaves": [{"at": "2026-01-01T00:00:00.1234565", "colors": ["red", "blue"]}],
            "times": ["2026-01-01t00:00:00z", "2026-01-01T00:00:00+01:00"],
            "blobs": [{"a": 1}, {}],
            "blob": {"n": 2**70},
            "Maybe": None,
            "sub": {"data": None},
            "other": {"data": {"n": 1.5}},
        },
        "accepted",
        id="full",
    ),
    pytest.param({**BASE, "leaves": [{"at": "x", "colors": []}]}, "both rejected", id="dt"),
    pytest.param(
        {**BASE, "leaves": [{"at": "2026-01-01T00:00:00Z", "colors": [], "weight": 2}]},
        "accepted",
        id="float-takes-int",
    ),
    pytest.param({**BASE, "blobs": [None]}, "both rejected", id="null-blob-item"),
    pytest.param({**BASE, "blob": None}, "both rejected", id="null-not-optional"),
    pytest.param({**BASE, "Maybe": []}, "both rejected", id="renamed-list"),
    pytest.param({**BASE, "maybe": []}, "accepted", id="wire-name-only"),
    pytest.param({**BASE, "times": None}, "both rejected", id="null-list"),
    pytest.param({**BASE, "count": 2**63}, "fallback accepted", id="u64"),
]


@pytest.mark.parametrize(("document", "outcome"), GENERIC)
def test_every_field_kind_agrees_with_the_converters(document: Any, outcome: str) -> None:
    from taskbridge._decode.convert import Decoder, make_converter

    body = dumps(document)
    mirror = FastDecoder(Every)
    checked_decode = Decoder(Every, make_converter(), make_converter(detailed_validation=True))
    try:
        slow: Any = checked_decode(body)
    except SchemaError as exc:
        slow = str(exc)
    try:
        quick: Any = mirror.builder(Every)(mirror.decode(body))
    except Exception:
        quick = REJECTED
    if quick is REJECTED:
        assert outcome == ("both rejected" if isinstance(slow, str) else "fallback accepted")
    else:
        assert outcome == "accepted"
        strict_same(quick, slow)


@pytest.mark.parametrize(
    ("provider", "body", "names"),
    [
        pytest.param(
            "cakewalk",
            cakewalk_with(createdAt=12, status=None),
            ["$.data.createdAt", "$.data.status"],
            id="cakewalk",
        ),
        pytest.param(
            "alumio", alumio_with(createdAt="soon", meta=[]), ["$.object.createdAt"], id="alumio"
        ),
    ],
)
async def test_get_over_http_names_the_fields_the_mirror_refused(
    server: ScriptedServer, provider: str, body: bytes, names: list[str]
) -> None:
    server.answer_json(body)
    async with make_bridge(server) as bridge:
        with pytest.raises(DecodeError) as caught:
            await bridge.get(provider, TASK_ID[provider])
    assert all(name in str(caught.value) for name in names), str(caught.value)
    assert str(caught.value).endswith(checked(provider, body).removeprefix("SchemaError: "))  # type: ignore[union-attr]
