"""No path from an error to a credential: a scanner over every error kind.

For every error kind the bridge can produce, and every secret of every provider, it
looks in ``str``/``repr``, ``.body``, ``.headers``, the whole ``__cause__``/``__context__``
chain and the attributes of each link, the traceback formatted with its locals (as
Sentry or rich's ``show_locals`` would), ``pickle.dumps`` and every log record at DEBUG.
Every bridge here also runs OpenTelemetry (the SDK, in memory) and a hook recording
every event: after each test, every span name, attribute, event, status, metric
attribute and hook argument's ``repr`` is scanned too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from taskbridge import (
    AlumioConfig,
    APIError,
    BridgeClosedError,
    CakewalkConfig,
    DecodeError,
    EventHooks,
    ProviderError,
    RequestTimeoutError,
    RetryPolicy,
    TaskBridge,
    TaskBridgeError,
    TransportError,
)

from ._faulty import faulty_alumio, faulty_cakewalk
from .conftest import CAKEWALK_ID, ScriptedServer, cakewalk_task, dumps

# A "/" in each secret, so that a PHP-style echo ("\/") is a different byte string.
KEY = "k3y/CAKEWALK/key-value"
SECRET = "s3cr3t/CAKEWALK/secret"
TOKEN = "t0k3n/ALUMIO/token-value"
SECRETS = (KEY, SECRET, TOKEN)
ONE = RetryPolicy(max_attempts=1)


def php_escaped(secret: str) -> str:
    """How PHP's json_encode writes it: every "/" as "\\/"."""
    return secret.replace("/", "\\/")


def unicode_escaped(secret: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in secret)


def echo_body(escape: Callable[[str], str]) -> bytes:
    """An error body that quotes every secret, escaped, at every depth and field."""
    k, s, t = (escape(x) for x in SECRETS)
    text = (
        f'{{"type": "{k}", "title": "bad key {k}", "status": 401, "detail": "secret {s}",'
        f' "instance": "{t}", "context": {{"deep": [{{"k": "{k}"}}, "{s}"], "{t}": 1}},'
        f' "violations": [{{"title": "{t}", "propertyPath": "{k}", "type": "{s}"}}],'
        f' "extra": {{"a": {{"b": {{"c": ["{k}", "{s}", "{t}"]}}}}}}}}'
    )
    json.loads(text)  # the test's own check: this is valid JSON
    return text.encode()


def chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        link = todo.pop()
        if link is None or any(link is s for s in seen):
            continue
        seen.append(link)
        todo += [link.__cause__, link.__context__]
    return seen


def views(error: BaseException) -> dict[str, str]:
    """Every text a user, a logger, an error tracker or a pickle could get from it."""
    out = {"str": str(error), "repr": repr(error)}
    if isinstance(error, APIError):
        out["body"] = repr(error.body)
        out["headers"] = repr(list(error.headers.items()))
    for n, link in enumerate(chain(error)):
        out[f"chain[{n}]"] = f"{type(link).__name__} {link!s} {link!r} {link.args!r}"
        out[f"chain[{n}].attrs"] = repr(getattr(link, "__dict__", {}))
    out["traceback"] = "".join(
        traceback.TracebackException.from_exception(error, capture_locals=True).format()
    )
    out["pickle"] = pickle.dumps(error).decode("latin-1")
    return out


def assert_clean(error: BaseException, records: list[logging.LogRecord]) -> None:
    found = [
        (where, secret)
        for where, text in views(error).items()
        for secret in SECRETS
        if secret in text
    ]
    found += [
        ("log", secret)
        for record in records
        for secret in SECRETS
        if secret in record.getMessage() or secret in repr(record.__dict__)
    ]
    assert found == [], found


class RawServer:
    """Answers every connection with the same raw bytes: broken HTTP on purpose."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.url = ""
        self._server: asyncio.base_events.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(self.answer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


class HookRecorder(EventHooks):
    """Every event's ``repr`` (and its headers'), as a hook would log them."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def _take(self, event: Any) -> None:
        self.seen.append(repr(event))
        self.seen.append(repr(getattr(event, "headers", None)))

    request = response = retry = rate_limit_pause = queue_wait = _take  # type: ignore[assignment]


class Telemetry:
    """OpenTelemetry's SDK reading into memory, and a recording hook."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.hook = HookRecorder()

    def texts(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for n, span in enumerate(self.exporter.get_finished_spans()):
            out[f"span[{n}]"] = repr(
                (
                    span.name,
                    dict(span.attributes or {}),
                    [(e.name, dict(e.attributes or {})) for e in span.events],
                    span.status.description,
                )
            )
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points = [dict(p.attributes or {}) for p in metric.data.data_points]
                    out[f"metric {metric.name}"] = repr(points)
        for n, text in enumerate(self.hook.seen):
            out[f"hook[{n}]"] = text
        return out

    def assert_clean(self) -> None:
        found = [
            (where, secret)
            for where, text in self.texts().items()
            for secret in SECRETS
            if secret in text
        ]
        assert found == [], found


_TELEMETRY: list[Telemetry] = []


@pytest.fixture(autouse=True)
def telemetry() -> Any:
    """Each test's telemetry, scanned for secrets when the test ends."""
    current = Telemetry()
    _TELEMETRY.append(current)
    yield current
    _TELEMETRY.remove(current)
    try:
        current.assert_clean()
    finally:
        current.tracer_provider.shutdown()
        current.meter_provider.shutdown()


def bridge_for(url: str, **kwargs: Any) -> TaskBridge:
    kwargs.setdefault("retry", ONE)
    if _TELEMETRY:
        current = _TELEMETRY[-1]
        kwargs.setdefault("tracer_provider", current.tracer_provider)
        kwargs.setdefault("meter_provider", current.meter_provider)
        kwargs.setdefault("hooks", current.hook)
    return TaskBridge(
        cakewalk=CakewalkConfig(KEY, SECRET, base_url=url, requests_per_minute=None),
        alumio=AlumioConfig(url, TOKEN),
        **kwargs,
    )


async def errors_from(bridge: TaskBridge) -> list[BaseException]:
    """One error per provider, through get, plus the same through get_many."""
    errors: list[BaseException] = []
    for provider, task_id in (("cakewalk", CAKEWALK_ID), ("alumio", "order/42")):
        with pytest.raises(TaskBridgeError) as info:
            await bridge.get(provider, task_id)
        errors.append(info.value)
    results = await bridge.get_many([("cakewalk", CAKEWALK_ID), ("alumio", "other")])
    errors += [r.error for r in results if r.error is not None]
    assert len(errors) == 4
    return errors


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.set_level(logging.DEBUG)
    return caplog.records


RAW_ANSWERS = [
    pytest.param(b"HTTP/1.1 abc\r\n\r\n", id="malformed-status-line"),
    pytest.param(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", id="huge-header"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}", id="bad-content-length"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{", id="cut-body"),
    pytest.param(b"", id="closed-without-answer"),
]


@pytest.mark.parametrize("answer", RAW_ANSWERS)
async def test_transport_errors_carry_no_secret(
    answer: bytes, records: list[logging.LogRecord]
) -> None:
    async with RawServer(answer) as raw, bridge_for(raw.url) as bridge:
        errors = await errors_from(bridge)
    assert all(isinstance(e, TransportError) for e in errors)
    for error in errors:
        assert_clean(error, records)
    # What a user needs to debug stays: the aiohttp error's type, in the message.
    assert all("connection failed (" in str(e) for e in errors)


async def test_connection_refused_carries_no_secret(records: list[logging.LogRecord]) -> None:
    async with bridge_for("http://127.0.0.1:1") as bridge:
        errors = await errors_from(bridge)
    for error in errors:
        assert isinstance(error, TransportError)
        assert_clean(error, records)


async def test_timeouts_carry_no_secret(
    server: ScriptedServer, records: list[logging.LogRecord]
) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        raise AssertionError

    server.handler = slow
    async with bridge_for(server.url, timeout=0.05) as bridge:
        errors = await errors_from(bridge)
    for error in errors:
        assert isinstance(error, RequestTimeoutError)
        assert_clean(error, records)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 503])
@pytest.mark.parametrize(
    "escape",
    [
        pytest.param(lambda s: s, id="verbatim"),
        pytest.param(php_escaped, id="php-slashes"),
        pytest.param(unicode_escaped, id="unicode-escapes"),
    ],
)
async def test_api_errors_that_echo_secrets_carry_none(
    server: ScriptedServer,
    records: list[logging.LogRecord],
    status: int,
    escape: Callable[[str], str],
) -> None:
    server.script([(status, echo_body(escape))])
    async with bridge_for(server.url) as bridge:
        errors = await errors_from(bridge)
    for error in errors:
        assert isinstance(error, APIError)
        assert error.status == status
        assert error.body is not None
        assert "***" in repr(error.body)
        assert_clean(error, records)


DECODE_BODIES = [
    pytest.param(f"not json {KEY} {SECRET} {TOKEN}".encode(), id="not-json"),
    pytest.param(b'{"data": "' + php_escaped(SECRET).encode() + b'"', id="cut-json"),
    pytest.param(
        dumps({"data": cakewalk_task(createdAt=KEY, status=SECRET), "object": TOKEN}),
        id="secret-in-a-mistyped-field",
    ),
    pytest.param(dumps({"data": {"id": [SECRET, KEY, TOKEN]}, "object": 1}), id="secret-list"),
]


@pytest.mark.parametrize("body", DECODE_BODIES)
async def test_decode_errors_carry_no_secret(
    server: ScriptedServer, records: list[logging.LogRecord], body: bytes
) -> None:
    server.script([(200, body)])
    async with bridge_for(server.url) as bridge:
        errors = await errors_from(bridge)
    for error in errors:
        assert isinstance(error, DecodeError)
        assert_clean(error, records)


async def test_too_large_bodies_carry_no_secret(
    server: ScriptedServer, records: list[logging.LogRecord]
) -> None:
    server.script([(200, (KEY + SECRET + TOKEN).encode() * 100)])
    async with bridge_for(server.url, max_response_bytes=100) as bridge:
        errors = await errors_from(bridge)
    for error in errors:
        assert isinstance(error, DecodeError)
        assert_clean(error, records)


async def test_unexpected_errors_carry_no_secret(
    server: ScriptedServer, records: list[logging.LogRecord]
) -> None:
    def odd(_: str) -> Exception:
        return ValueError(f"odd {KEY} {SECRET} {TOKEN}")

    cakewalk = CakewalkConfig(KEY, SECRET, base_url=server.url, requests_per_minute=None)
    alumio = faulty_alumio(AlumioConfig(server.url, TOKEN), on_request=odd)
    async with TaskBridge(
        cakewalk=faulty_cakewalk(cakewalk, on_request=odd), alumio=alumio, retry=ONE
    ) as bridge:
        results = await bridge.get_many([("cakewalk", CAKEWALK_ID), ("alumio", "x")])
    for result in results:
        assert type(result.error) is ProviderError
        assert_clean(result.error, records)


async def test_closed_bridge_and_invalid_ids_carry_no_secret(
    server: ScriptedServer, records: list[logging.LogRecord]
) -> None:
    async with bridge_for(server.url) as bridge:
        results = await bridge.get_many([("cakewalk", "nope"), ("alumio", ""), ("jira", "x")])
    errors: list[BaseException] = [r.error for r in results if r.error is not None]
    with pytest.raises(BridgeClosedError) as info:
        await bridge.get("alumio", "x")
    errors.append(info.value)
    for error in errors:
        assert_clean(error, records)


async def test_the_scanner_finds_a_secret_in_a_cause(records: list[logging.LogRecord]) -> None:
    """The scanner itself can fail: a secret hidden two links down is found."""
    inner = RuntimeError("inner")
    inner.request_headers = {"X-API-KEY": KEY}  # type: ignore[attr-defined]
    outer = ProviderError("outer", provider="cakewalk", task_id="x")
    outer.__cause__ = ValueError("middle")
    outer.__cause__.__context__ = inner
    with pytest.raises(AssertionError):
        assert_clean(outer, records)


async def test_the_scanner_finds_a_secret_in_telemetry(
    server: ScriptedServer, telemetry: Telemetry
) -> None:
    """The telemetry scan itself can fail: a span attribute holding a secret is found."""
    async with bridge_for(server.url) as bridge:
        await bridge.get("cakewalk", CAKEWALK_ID)
    assert any(name.startswith("span[") for name in telemetry.texts())
    assert any(name.startswith("hook[") for name in telemetry.texts())
    assert "metric http.client.request.duration" in telemetry.texts()
    tracer = telemetry.tracer_provider.get_tracer("test")
    tracer.start_span("leak", attributes={"x": f"a {TOKEN} b"}).end()
    with pytest.raises(AssertionError):
        telemetry.assert_clean()
    telemetry.exporter.clear()


async def test_retries_and_pauses_seen_by_telemetry_carry_no_secret(
    server: ScriptedServer, records: list[logging.LogRecord], telemetry: Telemetry
) -> None:
    """Retries and a 429 pause reach the scan; response headers echoing secrets are masked."""
    echo = {"X-Echo": f"{KEY} {SECRET} {TOKEN}"}
    server.script(
        [
            (429, echo_body(lambda s: s), {"Retry-After": "0", **echo}),
            (503, echo_body(php_escaped), echo),
        ]
    )
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0)
    async with bridge_for(server.url, retry=policy) as bridge:
        errors = await errors_from(bridge)
    for error in errors:
        assert isinstance(error, APIError)
        assert error.headers["x-echo"] == "*** *** ***"
        assert_clean(error, records)
    kinds = {text.split("(")[0] for text in telemetry.hook.seen}
    assert {"RequestEvent", "ResponseEvent", "RetryEvent", "PauseEvent"} <= kinds
