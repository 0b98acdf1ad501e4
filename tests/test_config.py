"""Configuration: base URLs, limits, credentials, secrets in reprs, env, and task ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from yarl import URL

from taskbridge import (
    AlumioConfig,
    CakewalkConfig,
    ConfigurationError,
    InvalidTaskIdError,
    RetryPolicy,
    TaskBridge,
)

from .conftest import CAKEWALK_ID, KEY, SECRET, SECRETS, TOKEN, ScriptedServer

BAD_NUMBERS = [
    pytest.param(0, id="zero"),
    pytest.param(-1, id="negative"),
    pytest.param(1.5, id="float"),
    pytest.param(True, id="bool"),
    pytest.param("4", id="string"),
    pytest.param(None, id="none"),
]
BAD_RATES = [
    pytest.param(0, id="zero"),
    pytest.param(-5, id="negative"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(float("inf"), id="inf"),
    pytest.param(True, id="bool"),
    pytest.param("100", id="string"),
]

CONFIGS: list[Any] = [
    pytest.param(lambda **kw: CakewalkConfig(KEY, SECRET, **kw), id="cakewalk"),
    pytest.param(lambda **kw: AlumioConfig("https://acme.alumio.com", TOKEN, **kw), id="alumio"),
]
MakeConfig = Callable[..., Any]


# --- base URLs ----------------------------------------------------------------------

REFUSED_URLS = [
    pytest.param("http://example.com", id="http-remote"),
    pytest.param("http://10.0.0.1", id="http-private-ip"),
    pytest.param("http://0.0.0.0:8080", id="http-any-address"),
    pytest.param("http://localhost.example.com", id="http-localhost-prefix"),
    pytest.param("http://127.0.0.1.example.com", id="http-loopback-prefix"),
    pytest.param("ftp://example.com", id="ftp"),
    pytest.param("example.com", id="no-scheme"),
    pytest.param("https://", id="no-host"),
    pytest.param("", id="empty"),
    pytest.param("https://user:pw@example.com", id="credentials"),
    pytest.param("https://example.com/?x=1", id="query"),
    pytest.param("https://example.com:notaport", id="bad-port"),
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_cakewalk_refuses_base_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        CakewalkConfig(KEY, SECRET, base_url=url)


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_alumio_refuses_base_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        AlumioConfig(url, TOKEN)


LOOPBACK_URLS = [
    pytest.param("http://localhost", id="localhost"),
    pytest.param("http://localhost:8080", id="localhost-port"),
    pytest.param("http://127.0.0.1:8080", id="127.0.0.1"),
    pytest.param("http://127.5.5.5", id="127.5.5.5"),
    pytest.param("http://[::1]:8080", id="ipv6-loopback"),
    pytest.param("https://example.com", id="https-remote"),
]


@pytest.mark.parametrize("url", LOOPBACK_URLS)
def test_cakewalk_accepts_https_or_loopback_http(url: str) -> None:
    adapter = CakewalkConfig(KEY, SECRET, base_url=url).adapter()
    assert adapter.request(CAKEWALK_ID).url == URL(f"{url}/api/v1/Tasks/{CAKEWALK_ID}")


@pytest.mark.parametrize("url", LOOPBACK_URLS)
def test_alumio_accepts_https_or_loopback_http(url: str) -> None:
    adapter = AlumioConfig(url, TOKEN).adapter()
    assert adapter.request("t-1").url == URL(f"{url}/api/v1/tasks/t-1")


def test_cakewalk_default_base_url_is_the_public_api() -> None:
    url = CakewalkConfig(KEY, SECRET).adapter().request(CAKEWALK_ID).url
    assert url == URL(f"https://open-api.getcakewalk.io/api/v1/Tasks/{CAKEWALK_ID}")


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param("https://acme.alumio.com", id="origin"),
        pytest.param("https://acme.alumio.com/", id="origin-slash"),
        pytest.param("https://acme.alumio.com/api/v1", id="api-v1"),
        pytest.param("https://acme.alumio.com/api/v1/", id="api-v1-slash"),
    ],
)
def test_alumio_api_prefix_is_not_doubled(base_url: str) -> None:
    url = AlumioConfig(base_url, TOKEN).adapter().request("t-1").url
    assert str(url) == "https://acme.alumio.com/api/v1/tasks/t-1"


def test_alumio_space_is_sent_as_query() -> None:
    url = AlumioConfig("https://acme.alumio.com", TOKEN, space="prod").adapter().request("t").url
    assert str(url) == "https://acme.alumio.com/api/v1/tasks/t?space=prod"


# --- limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", CONFIGS)
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_bad_max_concurrency_is_refused(make: MakeConfig, value: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        make(max_concurrency=value)


@pytest.mark.parametrize("make", CONFIGS)
@pytest.mark.parametrize("value", BAD_RATES)
def test_bad_requests_per_minute_is_refused(make: MakeConfig, value: Any) -> None:
    with pytest.raises(ConfigurationError, match="requests_per_minute"):
        make(requests_per_minute=value)


@pytest.mark.parametrize("make", CONFIGS)
def test_requests_per_minute_none_means_no_limit(make: MakeConfig) -> None:
    assert make(requests_per_minute=None).limits.requests_per_minute is None


@pytest.mark.parametrize("make", CONFIGS)
def test_limits_reach_the_adapter(make: MakeConfig) -> None:
    adapter = make(max_concurrency=3, requests_per_minute=90)
    assert (adapter.limits.max_concurrency, adapter.limits.requests_per_minute) == (3, 90)


def test_default_limits_follow_the_contract() -> None:
    cakewalk, alumio = CakewalkConfig(KEY, SECRET), AlumioConfig("https://a.alumio.com", TOKEN)
    assert (
        cakewalk.max_concurrency,
        cakewalk.requests_per_minute,
        alumio.max_concurrency,
        alumio.requests_per_minute,
    ) == (16, 1000, 16, None)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="inf"),
        pytest.param(True, id="bool"),
        pytest.param("30", id="string"),
    ],
)
def test_bad_timeout_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        TaskBridge(cakewalk=CakewalkConfig(KEY, SECRET), timeout=value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(1.5, id="float"),
        pytest.param(True, id="bool"),
        pytest.param("1024", id="string"),
    ],
)
def test_bad_max_response_bytes_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_response_bytes"):
        TaskBridge(cakewalk=CakewalkConfig(KEY, SECRET), max_response_bytes=value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("max_attempts", 0, id="max_attempts-zero"),
        pytest.param("max_attempts", -1, id="max_attempts-negative"),
        pytest.param("max_attempts", 1.5, id="max_attempts-float"),
        pytest.param("max_attempts", True, id="max_attempts-bool"),
        pytest.param("initial_backoff", -0.1, id="initial_backoff-negative"),
        pytest.param("initial_backoff", float("nan"), id="initial_backoff-nan"),
        pytest.param("initial_backoff", float("inf"), id="initial_backoff-inf"),
        pytest.param("initial_backoff", "1", id="initial_backoff-string"),
        pytest.param("max_backoff", -1, id="max_backoff-negative"),
        pytest.param("max_retry_after", -1, id="max_retry_after-negative"),
        pytest.param("max_retry_after", float("nan"), id="max_retry_after-nan"),
    ],
)
def test_bad_retry_policy_value_is_refused(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=field):
        RetryPolicy(**{field: value})


def test_retry_policy_defaults_follow_the_contract() -> None:
    policy = RetryPolicy()
    assert (
        policy.max_attempts,
        policy.initial_backoff,
        policy.max_backoff,
        policy.max_retry_after,
    ) == (4, 0.5, 20.0, 120.0)


def test_retry_policy_accepts_one_attempt_and_zero_backoff() -> None:
    policy = RetryPolicy(max_attempts=1, initial_backoff=0, max_backoff=0, max_retry_after=0)
    assert policy.max_attempts == 1


def test_retry_policy_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        RetryPolicy(3)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        pytest.param({"cakewalk": "not a config"}, "cakewalk", id="cakewalk"),
        pytest.param({"alumio": {"token": "x"}}, "alumio", id="alumio"),
        pytest.param({"retry": 3}, "retry", id="retry"),
        pytest.param({"session": object()}, "session", id="session"),
    ],
)
def test_bridge_refuses_arguments_of_the_wrong_type(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        TaskBridge(**kwargs)


# --- credentials --------------------------------------------------------------------

EMPTY_CREDENTIALS = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param(None, id="none"),
    pytest.param(123, id="int"),
]


@pytest.mark.parametrize("value", EMPTY_CREDENTIALS)
def test_empty_api_key_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="api_key"):
        CakewalkConfig(value, SECRET)


@pytest.mark.parametrize("value", EMPTY_CREDENTIALS)
def test_empty_api_secret_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="api_secret"):
        CakewalkConfig(KEY, value)


@pytest.mark.parametrize("value", EMPTY_CREDENTIALS)
def test_empty_token_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="token"):
        AlumioConfig("https://acme.alumio.com", value)


HEADER_BREAKING = [
    pytest.param(f"{SECRET}\r\nX-Injected: 1", id="crlf"),
    pytest.param(f"{SECRET}\n", id="trailing-newline"),
    pytest.param(f"{SECRET}\x00", id="nul"),
]


@pytest.mark.parametrize("value", HEADER_BREAKING)
@pytest.mark.parametrize("field", ["api_key", "api_secret"])
def test_cakewalk_credential_with_control_characters_is_refused(field: str, value: str) -> None:
    kwargs = {"api_key": KEY, "api_secret": SECRET, field: value}
    with pytest.raises(ConfigurationError, match=field) as info:
        CakewalkConfig(**kwargs)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("value", HEADER_BREAKING)
def test_alumio_token_with_control_characters_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="token") as info:
        AlumioConfig("https://acme.alumio.com", value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "space",
    [pytest.param("", id="empty"), pytest.param(5, id="int"), pytest.param("\ud800", id="surr")],
)
def test_bad_alumio_space_is_refused(space: Any) -> None:
    with pytest.raises(ConfigurationError, match="space"):
        AlumioConfig("https://acme.alumio.com", TOKEN, space=space)


# --- secrets never shown ------------------------------------------------------------


def _objects() -> list[Any]:
    cakewalk = CakewalkConfig(KEY, SECRET)
    alumio = AlumioConfig("https://acme.alumio.com", TOKEN, space="prod")
    return [
        pytest.param(cakewalk, id="cakewalk-config"),
        pytest.param(alumio, id="alumio-config"),
        pytest.param(cakewalk.adapter(), id="cakewalk-adapter"),
        pytest.param(alumio.adapter(), id="alumio-adapter"),
        pytest.param(cakewalk.adapter().request(CAKEWALK_ID), id="cakewalk-request"),
        pytest.param(alumio.adapter().request("t-1"), id="alumio-request"),
        pytest.param(TaskBridge(cakewalk=cakewalk, alumio=alumio), id="bridge"),
    ]


@pytest.mark.parametrize("obj", _objects())
@pytest.mark.parametrize("show", [pytest.param(repr, id="repr"), pytest.param(str, id="str")])
def test_secrets_never_appear_in_repr_or_str(obj: Any, show: Callable[[Any], str]) -> None:
    text = show(obj)
    assert [s for s in SECRETS if s in text] == []


def test_request_still_carries_the_credentials_in_its_headers() -> None:
    # Guards the repr test: the secrets are in the object, just not shown.
    headers = CakewalkConfig(KEY, SECRET).adapter().request(CAKEWALK_ID).headers
    assert (headers["X-API-KEY"], headers["X-API-SECRET"]) == (KEY, SECRET)


def test_alumio_request_carries_the_bearer_token() -> None:
    headers = AlumioConfig("https://acme.alumio.com", TOKEN).adapter().request("t").headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"


# --- from_env -------------------------------------------------------------------------

CAKEWALK_ENV = {"TASKBRIDGE_CAKEWALK_API_KEY": KEY, "TASKBRIDGE_CAKEWALK_API_SECRET": SECRET}
ALUMIO_ENV = {
    "TASKBRIDGE_ALUMIO_BASE_URL": "https://acme.alumio.com",
    "TASKBRIDGE_ALUMIO_TOKEN": TOKEN,
}


@pytest.mark.parametrize(
    ("environ", "providers"),
    [
        pytest.param({**CAKEWALK_ENV, **ALUMIO_ENV}, ["alumio", "cakewalk"], id="both"),
        pytest.param(CAKEWALK_ENV, ["cakewalk"], id="cakewalk-only"),
        pytest.param(ALUMIO_ENV, ["alumio"], id="alumio-only"),
        pytest.param({**CAKEWALK_ENV, "UNRELATED": "x"}, ["cakewalk"], id="ignores-others"),
    ],
)
def test_from_env_configures_the_providers_whose_credentials_are_set(
    environ: dict[str, str], providers: list[str]
) -> None:
    assert sorted(TaskBridge.from_env(environ=environ).providers) == providers


@pytest.mark.parametrize(
    ("environ", "missing", "present"),
    [
        pytest.param(
            {"TASKBRIDGE_CAKEWALK_API_KEY": KEY},
            "TASKBRIDGE_CAKEWALK_API_SECRET",
            KEY,
            id="cakewalk-key-only",
        ),
        pytest.param(
            {"TASKBRIDGE_CAKEWALK_API_SECRET": SECRET},
            "TASKBRIDGE_CAKEWALK_API_KEY",
            SECRET,
            id="cakewalk-secret-only",
        ),
        pytest.param(
            {"TASKBRIDGE_ALUMIO_TOKEN": TOKEN},
            "TASKBRIDGE_ALUMIO_BASE_URL",
            TOKEN,
            id="alumio-token-only",
        ),
        pytest.param(
            {"TASKBRIDGE_ALUMIO_BASE_URL": "https://acme.alumio.com"},
            "TASKBRIDGE_ALUMIO_TOKEN",
            "acme",
            id="alumio-url-only",
        ),
        pytest.param(
            {**ALUMIO_ENV, "TASKBRIDGE_CAKEWALK_API_KEY": KEY},
            "TASKBRIDGE_CAKEWALK_API_SECRET",
            KEY,
            id="one-complete-one-half",
        ),
    ],
)
def test_from_env_half_set_credentials_name_the_missing_variable(
    environ: dict[str, str], missing: str, present: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        TaskBridge.from_env(environ=environ)
    message = str(info.value)
    assert (missing in message, [s for s in SECRETS if s in message]) == (True, [])


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({}, id="empty"),
        pytest.param({"TASKBRIDGE_CAKEWALK_BASE_URL": "https://x.example"}, id="only-base-url"),
        pytest.param({"TASKBRIDGE_ALUMIO_SPACE": "prod"}, id="only-space"),
        pytest.param({"PATH": "/usr/bin"}, id="unrelated"),
    ],
)
def test_from_env_without_any_provider_is_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="TASKBRIDGE_"):
        TaskBridge.from_env(environ=environ)


def test_from_env_with_a_non_https_url_is_refused_without_leaking_the_token() -> None:
    environ = {**ALUMIO_ENV, "TASKBRIDGE_ALUMIO_BASE_URL": "http://acme.alumio.com"}
    with pytest.raises(ConfigurationError, match="https") as info:
        TaskBridge.from_env(environ=environ)
    assert TOKEN not in str(info.value)


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ALUMIO_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TASKBRIDGE_CAKEWALK_API_KEY", raising=False)
    monkeypatch.delenv("TASKBRIDGE_CAKEWALK_API_SECRET", raising=False)
    assert TaskBridge.from_env().providers == ["alumio"]


async def test_from_env_uses_base_urls_and_space(server: ScriptedServer) -> None:
    environ = {
        **CAKEWALK_ENV,
        "TASKBRIDGE_CAKEWALK_BASE_URL": server.url,
        "TASKBRIDGE_ALUMIO_BASE_URL": server.url,
        "TASKBRIDGE_ALUMIO_TOKEN": TOKEN,
        "TASKBRIDGE_ALUMIO_SPACE": "prod",
    }
    async with TaskBridge.from_env(environ=environ) as bridge:
        await bridge.get("cakewalk", CAKEWALK_ID)
        await bridge.get("alumio", "t-1")
    seen = [(r.path, r.query) for r in server.requests]
    assert seen == [(f"/api/v1/Tasks/{CAKEWALK_ID}", {}), ("/api/v1/tasks/t-1", {"space": "prod"})]


def test_from_env_passes_options_to_the_bridge() -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        TaskBridge.from_env(environ=CAKEWALK_ENV, timeout=-1)


# --- providers on get ---------------------------------------------------------------


async def test_get_on_an_unconfigured_provider_is_refused(server: ScriptedServer) -> None:
    async with TaskBridge(cakewalk=CakewalkConfig(KEY, SECRET, base_url=server.url)) as bridge:
        with pytest.raises(ConfigurationError, match="alumio"):
            await bridge.get("alumio", "t-1")
    assert server.requests == []


@pytest.mark.parametrize(
    "provider",
    [
        pytest.param("jira", id="unknown-name"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param(1, id="int"),
    ],
)
async def test_get_on_an_unknown_provider_is_refused(server: ScriptedServer, provider: Any) -> None:
    async with TaskBridge(cakewalk=CakewalkConfig(KEY, SECRET, base_url=server.url)) as bridge:
        with pytest.raises(ConfigurationError):
            await bridge.get(provider, CAKEWALK_ID)
    assert server.requests == []


# --- task ids -----------------------------------------------------------------------

BAD_CAKEWALK_IDS = [
    pytest.param("not-a-uuid", id="not-a-uuid"),
    pytest.param(CAKEWALK_ID.replace("-", ""), id="no-hyphens"),
    pytest.param("{" + CAKEWALK_ID + "}", id="braces"),
    pytest.param(CAKEWALK_ID + "\n", id="trailing-newline"),
    pytest.param(" " + CAKEWALK_ID, id="leading-space"),
    pytest.param("urn:uuid:" + CAKEWALK_ID, id="urn"),
    pytest.param(CAKEWALK_ID[:-1], id="35-chars"),
    pytest.param(CAKEWALK_ID + "0", id="37-chars"),
    pytest.param(CAKEWALK_ID.replace("3", "\uff13"), id="fullwidth-digit"),
    pytest.param("../" + CAKEWALK_ID[3:], id="path-traversal"),
    pytest.param("", id="empty"),
    pytest.param(42, id="int"),
    pytest.param(None, id="none"),
    pytest.param(uuid.UUID(CAKEWALK_ID), id="uuid-object"),
    pytest.param(CAKEWALK_ID.encode(), id="bytes"),
]


@pytest.mark.parametrize("task_id", BAD_CAKEWALK_IDS)
async def test_bad_cakewalk_id_is_refused_before_any_request(
    server: ScriptedServer, task_id: Any
) -> None:
    async with TaskBridge(cakewalk=CakewalkConfig(KEY, SECRET, base_url=server.url)) as bridge:
        with pytest.raises(InvalidTaskIdError):
            await bridge.get("cakewalk", task_id)
    assert server.requests == []


def test_invalid_task_id_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="cakewalk"):
        CakewalkConfig(KEY, SECRET).adapter().check_id("nope")


def test_invalid_task_id_error_names_provider_and_id() -> None:
    with pytest.raises(InvalidTaskIdError) as info:
        CakewalkConfig(KEY, SECRET).adapter().check_id("nope")
    assert (info.value.provider, info.value.task_id) == ("cakewalk", "nope")


@pytest.mark.parametrize(
    "task_id",
    [
        pytest.param(CAKEWALK_ID.upper(), id="upper"),
        pytest.param(CAKEWALK_ID, id="lower"),
        pytest.param(CAKEWALK_ID[:8].upper() + CAKEWALK_ID[8:], id="mixed"),
    ],
)
async def test_cakewalk_uuid_in_either_case_is_fetched(
    server: ScriptedServer, task_id: str
) -> None:
    async with TaskBridge(cakewalk=CakewalkConfig(KEY, SECRET, base_url=server.url)) as bridge:
        task = await bridge.get("cakewalk", task_id)
    assert (task.id, len(server.requests)) == (CAKEWALK_ID, 1)


@pytest.mark.parametrize(
    "task_id",
    [
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param(7, id="int"),
        pytest.param("\ud800", id="lone-surrogate"),
    ],
)
async def test_bad_alumio_id_is_refused_before_any_request(
    server: ScriptedServer, task_id: Any
) -> None:
    async with TaskBridge(alumio=AlumioConfig(server.url, TOKEN)) as bridge:
        with pytest.raises(InvalidTaskIdError):
            await bridge.get("alumio", task_id)
    assert server.requests == []


async def test_alumio_id_with_a_lone_surrogate_is_a_per_item_error_in_a_batch(
    server: ScriptedServer,
) -> None:
    async with TaskBridge(alumio=AlumioConfig(server.url, TOKEN)) as bridge:
        [result] = await bridge.get_many([("alumio", "\ud800")])
    assert (type(result.error), server.requests) == (InvalidTaskIdError, [])


def test_a_lower_case_cakewalk_id_is_kept_not_copied() -> None:
    # A watch of a million refs holds each id once: the caller's string, not a copy.
    adapter = CakewalkConfig(KEY, SECRET).adapter()
    lower = "".join(["3fa85f64-5717-4562-b3fc-", "2c963f66afa6"])  # built: not a constant
    assert adapter.check_id(lower) is lower
    upper = lower.upper()
    assert adapter.check_id(upper) == lower


async def test_a_provider_that_is_not_a_name_is_a_configuration_error(
    server: ScriptedServer,
) -> None:
    async with TaskBridge(cakewalk=CakewalkConfig(KEY, SECRET, base_url=server.url)) as bridge:
        with pytest.raises(ConfigurationError, match="provider must be a string or a Provider"):
            await bridge.get(42, CAKEWALK_ID)  # type: ignore[call-overload]
    assert server.requests == []


async def test_a_known_provider_left_unconfigured_is_named_as_such(
    server: ScriptedServer,
) -> None:
    async with TaskBridge(cakewalk=CakewalkConfig(KEY, SECRET, base_url=server.url)) as bridge:
        with pytest.raises(ConfigurationError, match="'alumio' is not configured on this bridge"):
            await bridge.get("alumio", "order-42")
        with pytest.raises(ConfigurationError, match=r"unknown provider 'nowhere' \(registered: "):
            await bridge.get("nowhere", "x")  # type: ignore[call-overload]
    assert server.requests == []


async def test_a_ref_that_is_not_a_pair_fails_alone_with_its_text_cut_at_80(
    server: ScriptedServer,
) -> None:
    long_text = "not-a-pair-" * 20  # 220 characters: a string is no (provider, id) pair
    async with TaskBridge(cakewalk=CakewalkConfig(KEY, SECRET, base_url=server.url)) as bridge:
        (result,) = await bridge.get_many([long_text])
    assert not result.ok and isinstance(result.error, ConfigurationError)
    assert "each ref must be a (provider, task_id) pair, got str" in str(result.error)
    assert result.ref == (long_text[:80], "")
    assert server.requests == []
