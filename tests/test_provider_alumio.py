"""Alumio only: its optional fields, free-form objects, identifiers and error body (what
every provider shares is `tests/test_decoding_contract.py`).

Pure unit tests of the adapter: `AlumioConfig(...).adapter().decode_task(body, id)`.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskbridge import AlumioConfig, TaskStatus, UnifiedTask
from taskbridge._decode.convert import SchemaError
from taskbridge.providers.alumio import (
    AlumioError,
    AlumioTask,
    AlumioTaskMeta,
    AlumioTaskMetaDataItem,
    AlumioTaskStatus,
    AlumioViolation,
    encode_identifier,
)
from taskbridge.providers.alumio._converter import parse_error

from ._asked import asked_for
from .conftest import TOKEN, alumio_body, alumio_task

UTC = timezone.utc
REQUESTED = "requested-id"


def decode(body: Any, task_id: str | None = None) -> UnifiedTask[AlumioTask]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    if task_id is None:
        task_id = asked_for("alumio", raw, REQUESTED)
    return AlumioConfig("https://acme.alumio.com", TOKEN).adapter().decode_task(raw, task_id)


def set_path(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def del_path(doc: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return doc


def get_attr(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = getattr(obj, key)
    return obj


# --- statuses -----------------------------------------------------------------------

STATUSES = [
    pytest.param("new", TaskStatus.PENDING, False, id="new"),
    pytest.param("processing", TaskStatus.RUNNING, False, id="processing"),
    pytest.param("waiting", TaskStatus.WAITING, False, id="waiting"),
    pytest.param("retry", TaskStatus.WAITING, False, id="retry"),
    pytest.param("finished", TaskStatus.SUCCEEDED, True, id="finished"),
    pytest.param("resolved", TaskStatus.SUCCEEDED, True, id="resolved"),
    pytest.param("failed", TaskStatus.FAILED, True, id="failed"),
    pytest.param("rejected", TaskStatus.REJECTED, True, id="rejected"),
    pytest.param("killed", TaskStatus.CANCELLED, True, id="killed"),
    pytest.param("skipped", TaskStatus.SKIPPED, True, id="skipped"),
]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(s, id=s)
        for s in (
            "new",
            "processing",
            "finished",
            "failed",
            "resolved",
            "skipped",
            "retry",
            "waiting",
            "killed",
        )
    ],
)
def test_spec_status_decodes_to_its_enum_member(raw: str) -> None:
    assert decode(alumio_body(status=raw)).detail.status is AlumioTaskStatus(raw)


def test_rejected_is_kept_as_a_raw_string_in_detail() -> None:
    status = decode(alumio_body(status="rejected")).detail.status
    assert (status, type(status)) == ("rejected", str)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("paused", id="paused"),
        pytest.param("Finished", id="wrong-case"),
        pytest.param("", id="empty-string"),
    ],
)
def test_unknown_status_is_unknown_with_raw_provider_status(raw: str) -> None:
    task = decode(alumio_body(status=raw))
    assert (task.status, task.provider_status, task.is_terminal) == (TaskStatus.UNKNOWN, raw, False)


# --- object, identifier, status fallbacks -----------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="no-object"),
        pytest.param({"object": None}, id="object-null"),
        pytest.param({"results": [alumio_task()]}, id="list-shape"),
    ],
)
def test_body_without_object_is_a_schema_error_naming_it(body: dict[str, Any]) -> None:
    with pytest.raises(SchemaError, match=r"\$\.object"):
        decode(body)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("order-export-42", id="string"),
        pytest.param([], id="empty-array"),
        pytest.param([alumio_task()], id="array-of-tasks"),
        pytest.param(42, id="number"),
        pytest.param(True, id="bool"),
    ],
)
def test_object_that_is_not_an_object_is_a_schema_error_naming_it(value: Any) -> None:
    with pytest.raises(SchemaError, match=r"\$\.object(;|$)"):
        decode({"object": value})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(del_path(alumio_body(), ("object", "identifier")), id="absent"),
        pytest.param(alumio_body(identifier=None), id="null"),
    ],
)
def test_missing_identifier_falls_back_to_the_requested_id(body: dict[str, Any]) -> None:
    assert decode(body, "asked-for-this").id == "asked-for-this"


def test_an_identifier_of_another_task_is_refused_naming_both() -> None:
    with pytest.raises(SchemaError, match="asked for 'asked-for-this', got 'from-body'"):
        decode(alumio_body(identifier="from-body"), "asked-for-this")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(del_path(alumio_body(), ("object", "status")), id="absent"),
        pytest.param(alumio_body(status=None), id="null"),
    ],
)
def test_missing_status_gives_empty_provider_status_and_unknown(body: dict[str, Any]) -> None:
    task = decode(body)
    assert (task.provider_status, task.status) == ("", TaskStatus.UNKNOWN)


def test_empty_object_decodes_to_a_task_with_only_the_requested_id() -> None:
    task = decode({"object": {}}, "only-id")
    assert (task.id, task.status, task.provider_status, task.kind, task.detail) == (
        "only-id",
        TaskStatus.UNKNOWN,
        "",
        None,
        AlumioTask(),
    )


# --- every field, null and absent --------------------------------------------------

ITEM = AlumioTaskMetaDataItem(identifier="shopify-in", name="Shopify incoming")


def test_full_body_decodes_every_field_of_the_spec() -> None:
    assert decode(alumio_body()).detail == AlumioTask(
        identifier="order-export-42",
        entity_type="order",
        entity_identifier="SO-1001",
        entity_data={"sku": "A-1", "qty": 3, "nested": {"ok": True}},
        context={"run": 7},
        status=AlumioTaskStatus.PROCESSING,
        route="shopify-to-erp",
        created_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        updated_at=datetime(2026, 3, 1, 9, 31, 0, 500000, tzinfo=UTC),
        meta=AlumioTaskMeta(incoming=ITEM, outgoing=ITEM, route=ITEM, http_proxy=ITEM),
    )


def test_unified_fields_come_from_the_task() -> None:
    task = decode(alumio_body())
    assert (task.provider, task.id, task.kind, task.created_at, task.updated_at) == (
        "alumio",
        "order-export-42",
        "order",
        datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        datetime(2026, 3, 1, 9, 31, 0, 500000, tzinfo=UTC),
    )


def test_meta_http_proxy_is_decoded() -> None:
    body = set_path(
        alumio_body(), ("object", "meta", "httpProxy"), {"identifier": "p", "name": "P"}
    )
    meta = decode(body).detail.meta
    assert meta is not None
    assert meta.http_proxy == AlumioTaskMetaDataItem(identifier="p", name="P")


FIELDS = [
    (("identifier",), ("identifier",)),
    (("entityType",), ("entity_type",)),
    (("entityIdentifier",), ("entity_identifier",)),
    (("entityData",), ("entity_data",)),
    (("context",), ("context",)),
    (("status",), ("status",)),
    (("route",), ("route",)),
    (("createdAt",), ("created_at",)),
    (("updatedAt",), ("updated_at",)),
    (("meta",), ("meta",)),
    (("meta", "incoming"), ("meta", "incoming")),
    (("meta", "outgoing"), ("meta", "outgoing")),
    (("meta", "route"), ("meta", "route")),
    (("meta", "httpProxy"), ("meta", "http_proxy")),
    (("meta", "incoming", "identifier"), ("meta", "incoming", "identifier")),
    (("meta", "httpProxy", "name"), ("meta", "http_proxy", "name")),
]
FIELD_PARAMS = [pytest.param(wire, attr, id=".".join(wire)) for wire, attr in FIELDS]


@pytest.mark.parametrize(("wire", "attr"), FIELD_PARAMS)
def test_field_has_a_value_in_the_full_body(wire: tuple[str, ...], attr: tuple[str, ...]) -> None:
    # Guards the two tests below: they would prove nothing on a field already None.
    assert get_attr(decode(alumio_body()).detail, attr) is not None


@pytest.mark.parametrize(("wire", "attr"), FIELD_PARAMS)
def test_field_set_to_null_decodes_to_none(wire: tuple[str, ...], attr: tuple[str, ...]) -> None:
    body = set_path(alumio_body(), ("object", *wire), None)
    assert get_attr(decode(body).detail, attr) is None


@pytest.mark.parametrize(("wire", "attr"), FIELD_PARAMS)
def test_field_absent_decodes_to_none(wire: tuple[str, ...], attr: tuple[str, ...]) -> None:
    body = del_path(alumio_body(), ("object", *wire))
    assert get_attr(decode(body).detail, attr) is None


@pytest.mark.parametrize(
    "where",
    [
        pytest.param((), id="top-level"),
        pytest.param(("object",), id="object"),
        pytest.param(("object", "meta"), id="meta"),
        pytest.param(("object", "meta", "incoming"), id="meta-item"),
    ],
)
def test_extra_keys_are_ignored(where: tuple[str, ...]) -> None:
    body = alumio_body()
    set_path(body, (*where, "someNewField"), [1, {"x": None}])
    assert decode(body) == decode(alumio_body())


# --- free-form objects ------------------------------------------------------------

FREE_FORM = {
    "string": "x",
    "number": 1.5,
    "int": -3,
    "bool": False,
    "null": None,
    "list": [1, "two", {"three": [3]}],
    "object": {"deep": {"deeper": {"deepest": []}}},
    "camelCaseKey": "kept as sent",
}


@pytest.mark.parametrize("key", [pytest.param("entityData"), pytest.param("context")])
def test_free_form_object_is_kept_as_sent(key: str) -> None:
    detail = decode(alumio_body(**{key: FREE_FORM})).detail
    assert getattr(detail, "entity_data" if key == "entityData" else "context") == FREE_FORM


@pytest.mark.parametrize("key", [pytest.param("entityData"), pytest.param("context")])
def test_empty_free_form_object_is_kept_as_an_empty_dict(key: str) -> None:
    detail = decode(alumio_body(**{key: {}})).detail
    assert getattr(detail, "entity_data" if key == "entityData" else "context") == {}


@pytest.mark.parametrize("key", [pytest.param("entityData"), pytest.param("context")])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param([], id="array"),
        pytest.param("text", id="string"),
        pytest.param(5, id="number"),
        pytest.param(True, id="bool"),
    ],
)
def test_free_form_field_that_is_not_an_object_is_a_schema_error_naming_it(
    key: str, value: Any
) -> None:
    with pytest.raises(SchemaError, match=rf"\$\.object\.{key}(;|$)"):
        decode(alumio_body(**{key: value}))


MISTYPED = [
    pytest.param(("identifier",), 42, "$.object.identifier", id="identifier-int"),
    pytest.param(("entityType",), ["order"], "$.object.entityType", id="entityType-list"),
    pytest.param(("status",), 3, "$.object.status", id="status-int"),
    pytest.param(("createdAt",), "yesterday", "$.object.createdAt", id="createdAt-text"),
    pytest.param(("updatedAt",), 1700000000, "$.object.updatedAt", id="updatedAt-int"),
    pytest.param(("meta",), "m", "$.object.meta", id="meta-string"),
    pytest.param(("meta", "incoming"), "x", "$.object.meta.incoming", id="meta-item-string"),
    pytest.param(("meta", "httpProxy", "name"), 1, "$.object.meta.httpProxy.name", id="name-int"),
]


@pytest.mark.parametrize(("path", "value", "named"), MISTYPED)
def test_mistyped_field_is_a_schema_error_naming_it(
    path: tuple[str, ...], value: Any, named: str
) -> None:
    with pytest.raises(SchemaError, match=rf" @ {re.escape(named)}(;|$)"):
        decode(set_path(alumio_body(), ("object", *path), value))


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b"null", id="null"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"<html></html>", id="html"),
    ],
)
def test_body_that_is_not_a_json_object_is_a_schema_error(raw: bytes) -> None:
    with pytest.raises(SchemaError):
        decode(raw)


# --- error bodies -------------------------------------------------------------------


def test_parse_error_reads_a_full_body_with_violations() -> None:
    body = {
        "status": "422",
        "context": {"field": "identifier"},
        "type": "validation",
        "title": "Invalid",
        "detail": "identifier is invalid",
        "violations": [
            {"title": "too long", "propertyPath": "identifier", "type": "length"},
            {"title": "bad char", "propertyPath": "identifier"},
        ],
    }
    assert parse_error(orjson.dumps(body)) == AlumioError(
        status="422",
        context={"field": "identifier"},
        type="validation",
        title="Invalid",
        detail="identifier is invalid",
        violations=[
            AlumioViolation(title="too long", property_path="identifier", type="length"),
            AlumioViolation(title="bad char", property_path="identifier", type=None),
        ],
    )


def test_parse_error_accepts_an_integer_status_as_text() -> None:
    error = parse_error(b'{"status": 404, "title": "Not Found"}')
    assert error is not None
    assert (error.status, error.title) == ("404", "Not Found")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("status", True, id="status-bool"),
        pytest.param("status", 404.5, id="status-float"),
        pytest.param("type", 1, id="type-int"),
        pytest.param("detail", ["x"], id="detail-list"),
        pytest.param("context", "ctx", id="context-string"),
        pytest.param("violations", "none", id="violations-string"),
    ],
)
def test_parse_error_drops_a_field_of_the_wrong_type(key: str, value: Any) -> None:
    error = parse_error(orjson.dumps({"title": "kept", key: value}))
    assert error is not None
    assert (getattr(error, key), error.title) == (None, "kept")


def test_parse_error_skips_violations_that_are_not_objects() -> None:
    error = parse_error(orjson.dumps({"violations": ["x", 1, None, {"title": "real"}]}))
    assert error is not None
    assert error.violations == [AlumioViolation(title="real")]


def test_parse_error_drops_violation_fields_of_the_wrong_type() -> None:
    error = parse_error(orjson.dumps({"violations": [{"title": 1, "propertyPath": "p"}]}))
    assert error is not None
    assert error.violations == [AlumioViolation(title=None, property_path="p")]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"<html>502</html>", id="html"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[]", id="array"),
        pytest.param(b"null", id="null"),
    ],
)
def test_parse_error_of_a_non_object_body_is_none(raw: bytes) -> None:
    assert parse_error(raw) is None


def test_adapter_decode_error_carries_title_detail_and_body() -> None:
    raw = orjson.dumps({"status": 403, "title": "Forbidden", "detail": "no access"})
    info = AlumioConfig("https://acme.alumio.com", TOKEN).adapter().decode_error(raw)
    assert (info.title, info.detail, info.body) == (
        "Forbidden",
        "no access",
        AlumioError(status="403", title="Forbidden", detail="no access"),
    )


# --- identifiers in the URL ---------------------------------------------------------

ENCODINGS = [
    pytest.param("a/b", "a%2Fb", id="slash"),
    pytest.param(".", "%2E", id="dot"),
    pytest.param("..", "%2E%2E", id="dot-dot"),
    pytest.param("...", "...", id="three-dots"),
    pytest.param("?", "%3F", id="question-mark"),
    pytest.param("#", "%23", id="hash"),
    pytest.param("%", "%25", id="percent"),
    pytest.param("%2F", "%252F", id="already-encoded"),
    pytest.param(" ", "%20", id="space"),
    pytest.param("ü", "%C3%BC", id="unicode"),
    pytest.param("日本", "%E6%97%A5%E6%9C%AC", id="cjk"),
    pytest.param("a b/../c?d#e", "a%20b%2F..%2Fc%3Fd%23e", id="mixed"),
    pytest.param("order-export-42", "order-export-42", id="plain"),
    pytest.param("a~b_c.d", "a~b_c.d", id="unreserved"),
]


@pytest.mark.parametrize(("identifier", "expected"), ENCODINGS)
def test_encode_identifier(identifier: str, expected: str) -> None:
    assert encode_identifier(identifier) == expected


NASTY = [
    "a/b",
    ".",
    "..",
    "...",
    "?",
    "#",
    "%",
    " ",
    "ü",
    "../../admin",
    "./",
    "?space=other",
    "#frag",
    "a\\b",
    "\n",
    "\x00",
    "%2e%2e",
]


@pytest.mark.parametrize("identifier", [pytest.param(n, id=repr(n)) for n in NASTY])
def test_encoded_identifier_is_one_safe_path_segment(identifier: str) -> None:
    encoded = encode_identifier(identifier)
    assert (
        any(c in encoded for c in "/?#\\"),
        encoded in (".", ".."),
        unquote(encoded) == identifier,
    ) == (False, False, True)


@given(st.text())
def test_any_identifier_encodes_to_one_safe_path_segment(identifier: str) -> None:
    encoded = encode_identifier(identifier)
    assert not any(c in encoded for c in "/?#")
    assert encoded not in (".", "..")
    assert unquote(encoded) == identifier


@pytest.mark.parametrize(
    ("identifier", "path"),
    [
        pytest.param("..", "/api/v1/tasks/%2E%2E", id="dot-dot"),
        pytest.param("a/b?c#d", "/api/v1/tasks/a%2Fb%3Fc%23d", id="reserved"),
    ],
)
def test_request_url_keeps_the_identifier_in_one_segment(identifier: str, path: str) -> None:
    url = AlumioConfig("https://acme.alumio.com", TOKEN).adapter().request(identifier).url
    assert (url.raw_path, url.raw_query_string, url.raw_fragment) == (path, "", "")


def test_request_url_carries_the_space_query() -> None:
    adapter = AlumioConfig("https://acme.alumio.com", TOKEN, space="sp ace/1").adapter()
    url = adapter.request("x").url
    assert (url.raw_path, url.query.get("space")) == ("/api/v1/tasks/x", "sp ace/1")
