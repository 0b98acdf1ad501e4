"""HTTP answers to typed errors, per provider, with aioresponses (no sockets).

Every bridge here uses ``RetryPolicy(max_attempts=1)``, so each answer is final.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import attrs
import orjson
import pytest
from aioresponses import aioresponses

from taskbridge import (
    AlumioConfig,
    APIError,
    AuthenticationError,
    CakewalkConfig,
    DecodeError,
    ProviderError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TaskBridge,
    TaskNotFoundError,
)
from taskbridge._decode.convert import SchemaError
from taskbridge.providers.alumio import AlumioError
from taskbridge.providers.cakewalk import CakewalkProblemDetails

from .conftest import CAKEWALK_ID, KEY, SECRET, SECRETS, TOKEN, alumio_body, cakewalk_body

ALUMIO_ID = "order-export-42"


@attrs.frozen
class Case:
    """One provider as these tests see it."""

    name: str
    task_id: str
    make_bridge: Callable[[], TaskBridge]
    error_body: Callable[[int, str, str], dict[str, Any]]
    body_type: type[Any]
    ok_body: dict[str, Any]
    echoed: tuple[str, ...]

    @property
    def url(self) -> str:
        return str(_adapter(self.name).request(self.task_id).url)


def _adapter(name: str) -> Any:
    if name == "cakewalk":
        return CakewalkConfig(KEY, SECRET).adapter()
    return AlumioConfig("https://acme.alumio.com", TOKEN).adapter()


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "type": "https://httpstatuses.io/" + str(status),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": f"/api/v1/Tasks/{CAKEWALK_ID}",
    }


def _alumio_error(status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "status": str(status),
        "type": "error",
        "title": title,
        "detail": detail,
        "violations": [{"title": "v", "propertyPath": "identifier", "type": "t"}],
    }


CAKEWALK = Case(
    name="cakewalk",
    task_id=CAKEWALK_ID,
    make_bridge=lambda: TaskBridge(
        cakewalk=CakewalkConfig(KEY, SECRET), retry=RetryPolicy(max_attempts=1)
    ),
    error_body=_problem,
    body_type=CakewalkProblemDetails,
    ok_body=cakewalk_body(),
    echoed=(KEY, SECRET),
)
ALUMIO = Case(
    name="alumio",
    task_id=ALUMIO_ID,
    make_bridge=lambda: TaskBridge(
        alumio=AlumioConfig("https://acme.alumio.com", TOKEN), retry=RetryPolicy(max_attempts=1)
    ),
    error_body=_alumio_error,
    body_type=AlumioError,
    ok_body=alumio_body(identifier=ALUMIO_ID),
    echoed=(TOKEN,),
)


@pytest.fixture(params=[pytest.param(CAKEWALK, id="cakewalk"), pytest.param(ALUMIO, id="alumio")])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse).parameters


class _Response(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without aiohttp 3.14's ``stream_writer``.

    https://github.com/pnuckowski/aioresponses/issues/289; the request is already sent,
    so only ``output_size`` is read from it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
        super().__init__(*args, **kwargs)


class _Mock(aioresponses):
    def get(self, url: Any, **kwargs: Any) -> None:  # type: ignore[override]
        kwargs.setdefault("response_class", _Response)
        super().get(url, **kwargs)


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with _Mock() as m:
        yield m


async def fetch_error(case: Case) -> ProviderError:
    async with case.make_bridge() as bridge:
        with pytest.raises(ProviderError) as info:
            await bridge.get(case.name, case.task_id)
    return info.value


STATUSES = [
    pytest.param(400, APIError, id="400"),
    pytest.param(401, AuthenticationError, id="401"),
    pytest.param(403, AuthenticationError, id="403"),
    pytest.param(404, TaskNotFoundError, id="404"),
    pytest.param(409, APIError, id="409"),
    pytest.param(422, APIError, id="422"),
    pytest.param(429, RateLimitedError, id="429"),
    pytest.param(500, ServerError, id="500"),
    pytest.param(502, ServerError, id="502"),
    pytest.param(503, ServerError, id="503"),
    pytest.param(504, ServerError, id="504"),
]


@pytest.mark.parametrize(("status", "expected"), STATUSES)
async def test_status_maps_to_its_error_class(
    case: Case, mocked: aioresponses, status: int, expected: type[APIError]
) -> None:
    mocked.get(case.url, status=status, payload=case.error_body(status, "Title", "Detail"))
    assert type(await fetch_error(case)) is expected


@pytest.mark.parametrize(("status", "expected"), STATUSES)
async def test_error_carries_provider_task_id_status_title_detail(
    case: Case, mocked: aioresponses, status: int, expected: type[APIError]
) -> None:
    mocked.get(case.url, status=status, payload=case.error_body(status, "Title", "Detail"))
    error = await fetch_error(case)
    assert isinstance(error, APIError)
    assert (error.provider, error.task_id, error.status, error.title, error.detail) == (
        case.name,
        case.task_id,
        status,
        "Title",
        "Detail",
    )


@pytest.mark.parametrize(("status", "expected"), STATUSES)
async def test_error_body_is_the_parsed_provider_model(
    case: Case, mocked: aioresponses, status: int, expected: type[APIError]
) -> None:
    mocked.get(case.url, status=status, payload=case.error_body(status, "Title", "Detail"))
    error = await fetch_error(case)
    assert isinstance(error, APIError)
    assert isinstance(error.body, case.body_type)
    assert (error.body.title, error.body.detail) == ("Title", "Detail")


async def test_cakewalk_error_body_keeps_status_and_extensions(mocked: aioresponses) -> None:
    body = {**_problem(404, "Not Found", "gone"), "traceId": "00-abc-01"}
    mocked.get(CAKEWALK.url, status=404, payload=body)
    error = await fetch_error(CAKEWALK)
    assert isinstance(error, APIError)
    assert error.body == CakewalkProblemDetails(
        type="https://httpstatuses.io/404",
        title="Not Found",
        status=404,
        detail="gone",
        instance=f"/api/v1/Tasks/{CAKEWALK_ID}",
        extensions={"traceId": "00-abc-01"},
    )


async def test_alumio_error_body_keeps_violations(mocked: aioresponses) -> None:
    mocked.get(ALUMIO.url, status=400, payload=_alumio_error(400, "Bad", "bad id"))
    error = await fetch_error(ALUMIO)
    assert isinstance(error, APIError)
    assert isinstance(error.body, AlumioError)
    assert [(v.title, v.property_path, v.type) for v in error.body.violations or []] == [
        ("v", "identifier", "t")
    ]


async def test_rate_limited_error_carries_retry_after(case: Case, mocked: aioresponses) -> None:
    mocked.get(
        case.url,
        status=429,
        payload=case.error_body(429, "Too Many Requests", "slow down"),
        headers={"Retry-After": "7"},
    )
    error = await fetch_error(case)
    assert (type(error), getattr(error, "retry_after", None)) == (RateLimitedError, 7.0)


async def test_rate_limited_without_retry_after_has_none(case: Case, mocked: aioresponses) -> None:
    mocked.get(case.url, status=429, body=b"")
    error = await fetch_error(case)
    assert (type(error), getattr(error, "retry_after", "unset")) == (RateLimitedError, None)


async def test_one_attempt_policy_sends_one_request(case: Case, mocked: aioresponses) -> None:
    mocked.get(case.url, status=503, body=b"", repeat=True)
    await fetch_error(case)
    assert sum(len(calls) for calls in mocked.requests.values()) == 1


@pytest.mark.parametrize("status", [pytest.param(301, id="301"), pytest.param(302, id="302")])
async def test_redirect_is_not_followed_and_is_a_plain_api_error(
    case: Case, mocked: aioresponses, status: int
) -> None:
    elsewhere = "https://elsewhere.example/api/v1/moved"
    mocked.get(case.url, status=status, body=b"", headers={"Location": elsewhere})
    mocked.get(elsewhere, status=200, payload=case.ok_body)
    error = await fetch_error(case)
    assert (type(error), getattr(error, "status", None)) == (APIError, status)


async def test_error_body_that_is_not_json_gives_no_title_and_no_body(
    case: Case, mocked: aioresponses
) -> None:
    mocked.get(case.url, status=502, body=b"<html>Bad Gateway</html>", content_type="text/html")
    error = await fetch_error(case)
    assert isinstance(error, ServerError)
    assert (error.title, error.detail, error.body) == (None, None, None)


async def test_error_message_names_provider_task_and_status(
    case: Case, mocked: aioresponses
) -> None:
    mocked.get(case.url, status=404, payload=case.error_body(404, "Not Found", "no such task"))
    message = str(await fetch_error(case))
    assert (case.name in message, case.task_id in message, "404" in message) == (True, True, True)


# --- secrets echoed by the server --------------------------------------------------


def _echoing_body(case: Case) -> dict[str, Any]:
    return case.error_body(
        401, f"bad credentials {' '.join(case.echoed)}", f"you sent {' / '.join(case.echoed)}"
    )


async def test_echoed_secrets_are_redacted_from_message(case: Case, mocked: aioresponses) -> None:
    mocked.get(case.url, status=401, payload=_echoing_body(case))
    error = await fetch_error(case)
    texts = [str(error), repr(error), *map(str, error.args)]
    assert [s for s in SECRETS for t in texts if s in t] == []


async def test_echoed_secrets_are_redacted_from_title_and_detail(
    case: Case, mocked: aioresponses
) -> None:
    mocked.get(case.url, status=401, payload=_echoing_body(case))
    error = await fetch_error(case)
    assert isinstance(error, APIError)
    assert [s for s in SECRETS if s in f"{error.title}|{error.detail}"] == []


async def test_redaction_keeps_the_rest_of_the_text(case: Case, mocked: aioresponses) -> None:
    mocked.get(case.url, status=401, payload=_echoing_body(case))
    error = await fetch_error(case)
    assert isinstance(error, APIError)
    assert (error.title or "").startswith("bad credentials ")


async def test_echoed_secrets_are_redacted_from_the_parsed_body(
    case: Case, mocked: aioresponses
) -> None:
    mocked.get(case.url, status=401, payload=_echoing_body(case))
    error = await fetch_error(case)
    assert isinstance(error, APIError)
    assert [s for s in SECRETS if s in repr(error.body)] == []


# --- successful answers -------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("application/json", id="application-json"),
        pytest.param("text/json", id="text-json"),
        pytest.param("text/plain", id="text-plain"),
        pytest.param("text/plain; charset=utf-8", id="text-plain-charset"),
    ],
)
async def test_cakewalk_200_decodes_whatever_the_content_type(
    mocked: aioresponses, content_type: str
) -> None:
    mocked.get(
        CAKEWALK.url,
        status=200,
        body=orjson.dumps(cakewalk_body(status="Approved")),
        content_type=content_type,
    )
    async with CAKEWALK.make_bridge() as bridge:
        task = await bridge.get("cakewalk", CAKEWALK_ID)
    assert (task.id, task.provider_status) == (CAKEWALK_ID, "Approved")


async def test_200_that_does_not_fit_the_spec_is_a_decode_error_caused_by_schema_error(
    case: Case, mocked: aioresponses
) -> None:
    mocked.get(case.url, status=200, payload={"unexpected": True})
    error = await fetch_error(case)
    assert (type(error), type(error.__cause__)) == (DecodeError, SchemaError)


async def test_decode_error_message_names_the_missing_field(mocked: aioresponses) -> None:
    body = cakewalk_body()
    del body["data"]["lastUpdatedAt"]
    mocked.get(CAKEWALK.url, status=200, payload=body)
    error = await fetch_error(CAKEWALK)
    assert (type(error), "$.data.lastUpdatedAt" in str(error)) == (DecodeError, True)


async def test_200_that_is_not_json_is_a_decode_error(case: Case, mocked: aioresponses) -> None:
    mocked.get(case.url, status=200, body=b"<html>maintenance</html>", content_type="text/html")
    error = await fetch_error(case)
    assert (type(error), error.provider, error.task_id) == (DecodeError, case.name, case.task_id)


async def test_decode_error_is_not_retried(mocked: aioresponses) -> None:
    mocked.get(CAKEWALK.url, status=200, body=b"{", repeat=True)
    async with TaskBridge(
        cakewalk=CakewalkConfig(KEY, SECRET),
        retry=RetryPolicy(max_attempts=3, initial_backoff=0, max_backoff=0),
    ) as bridge:
        with pytest.raises(DecodeError):
            await bridge.get("cakewalk", CAKEWALK_ID)
    assert sum(len(calls) for calls in mocked.requests.values()) == 1


async def test_requests_carry_the_provider_credentials(case: Case, mocked: aioresponses) -> None:
    mocked.get(case.url, status=200, payload=case.ok_body)
    async with case.make_bridge() as bridge:
        await bridge.get(case.name, case.task_id)
    [calls] = mocked.requests.values()
    headers = calls[0].kwargs["headers"]
    expected = (
        {"X-API-KEY": KEY, "X-API-SECRET": SECRET}
        if case.name == "cakewalk"
        else {"Authorization": f"Bearer {TOKEN}"}
    )
    assert {k: headers.get(k) for k in expected} == expected
