"""Leaks and bounds: decoders built once, identifier length, base URL encoding, loopback
names, the exact max_response_bytes."""

from __future__ import annotations

import gzip
import linecache
import logging
from typing import Any

import pytest
from aiohttp import web

from taskbridge import (
    AlumioConfig,
    CakewalkConfig,
    ConfigurationError,
    DecodeError,
    InvalidTaskIdError,
    TaskBridge,
    TaskNotFoundError,
)
from taskbridge.providers.alumio import MAX_IDENTIFIER_LENGTH

from .conftest import KEY, SECRET, TOKEN, ScriptedServer, alumio_body, dumps, make_bridge


def generated() -> int:
    return sum(1 for name in linecache.cache if name.startswith("<"))


def test_building_bridges_adds_no_generated_code_each_time() -> None:
    def build() -> TaskBridge:
        return TaskBridge(
            cakewalk=CakewalkConfig(KEY, SECRET), alumio=AlumioConfig("https://a.example", TOKEN)
        )

    build()
    before = generated()
    for _ in range(25):
        build()
    assert generated() == before


async def test_an_identifier_at_the_bound_is_sent(server: ScriptedServer) -> None:
    server.answer_json(alumio_body())
    async with make_bridge(server) as bridge:
        await bridge.get("alumio", "i" * MAX_IDENTIFIER_LENGTH)
    assert server.requests[0].path.endswith("/" + "i" * MAX_IDENTIFIER_LENGTH)


@pytest.mark.parametrize("length", [MAX_IDENTIFIER_LENGTH + 1, 1024 * 1024])
async def test_a_longer_identifier_is_refused_before_any_request(
    server: ScriptedServer, length: int
) -> None:
    async with make_bridge(server) as bridge:
        with pytest.raises(InvalidTaskIdError) as info:
            await bridge.get("alumio", "i" * length)
        results = await bridge.get_many([("alumio", "i" * length)])
    assert server.requests == []
    assert isinstance(results[0].error, InvalidTaskIdError)
    assert len(str(info.value)) < 300
    assert f"{length} characters" in str(info.value)
    assert len(info.value.task_id) <= MAX_IDENTIFIER_LENGTH + 1


async def test_long_identifiers_are_cut_in_messages_and_logs(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskbridge")
    server.script([(404, {"title": "Not Found"})])
    long_id = "x" * MAX_IDENTIFIER_LENGTH
    async with make_bridge(server) as bridge:
        with pytest.raises(TaskNotFoundError) as info:
            await bridge.get("alumio", long_id)
    assert info.value.task_id == long_id  # the attribute keeps it whole
    assert len(str(info.value)) < 300
    assert all(len(r.getMessage()) < 300 for r in caplog.records)
    assert caplog.records


async def test_a_base_url_path_with_spaces_and_non_ascii_is_percent_encoded(
    server: ScriptedServer,
) -> None:
    server.answer_json(alumio_body())
    config = AlumioConfig(f"{server.url}/my tenant/\u00fcber", TOKEN)
    assert config.base_url == f"{server.url}/my%20tenant/%C3%BCber"
    async with TaskBridge(alumio=config) as bridge:
        await bridge.get("alumio", "x")
    assert server.requests[0].raw_path == "/my%20tenant/%C3%BCber/api/v1/tasks/x"


def test_a_non_ascii_host_is_idna_encoded() -> None:
    config = CakewalkConfig(KEY, SECRET, base_url="https://b\u00fccher.example")
    assert config.base_url == "https://xn--bcher-kva.example"


@pytest.mark.parametrize(
    "url", ["http://tenant.localhost", "http://a.b.localhost:8080", "http://LOCALHOST.evil.com"]
)
def test_subdomains_of_localhost_are_not_loopback(url: str) -> None:
    with pytest.raises(ConfigurationError):
        AlumioConfig(url, TOKEN)


@pytest.mark.parametrize("url", ["http://localhost:1", "http://127.0.0.2", "http://[::1]:8080"])
def test_the_documented_loopback_hosts_allow_http(url: str) -> None:
    assert AlumioConfig(url, TOKEN).base_url.startswith("http://")


# max_response_bytes: the exact bound, whatever the framing

ASKED = "order-export-42"  # the task BODY holds (an answer for another is refused)
BODY = dumps(alumio_body(identifier=ASKED))


async def _sized(request: web.Request) -> web.StreamResponse:
    return web.Response(body=BODY, content_type="application/json")


async def _chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for start in range(0, len(BODY), 100):
        await response.write(BODY[start : start + 100])
    await response.write_eof()
    return response


async def _gzipped(request: web.Request) -> web.StreamResponse:
    return web.Response(
        body=gzip.compress(BODY),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(_sized, id="content-length"),
        pytest.param(_chunked, id="chunked"),
        pytest.param(_gzipped, id="gzip"),
    ],
)
@pytest.mark.parametrize(
    ("limit", "ok"),
    [
        pytest.param(len(BODY), True, id="exactly-the-limit"),
        pytest.param(len(BODY) - 1, False, id="one-byte-over"),
    ],
)
async def test_max_response_bytes_is_the_exact_bound(
    server: ScriptedServer, handler: Any, limit: int, ok: bool
) -> None:
    server.handler = handler
    async with make_bridge(server, max_response_bytes=limit) as bridge:
        if ok:
            assert (await bridge.get("alumio", ASKED)).id == ASKED
        else:
            with pytest.raises(DecodeError, match="max_response_bytes"):
                await bridge.get("alumio", ASKED)
