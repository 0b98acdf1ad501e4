"""taskbridge.webhooks: signatures (real RSA keys), key forms, the key fetch, the events."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import pickle
from typing import Any

import orjson
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from taskbridge import (
    AuthenticationError,
    ConfigurationError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    TaskBridgeError,
    TaskRef,
)
from taskbridge.testing import use_clock
from taskbridge.webhooks import (
    ActionableTaskEvent,
    CakewalkWebhooks,
    InvalidSignatureError,
    TestEvent,
    UnknownEvent,
    WebhookBodyTooLargeError,
    WebhookEvent,
    WebhookKeyError,
    WebhookPayloadError,
    load_public_key,
)

from .conftest import FakeClock, ScriptedServer, base_config

TASK_ID = "7ac60a4b-4b4d-4fc1-988c-f95254591f06"
SECRET = "whsec-taskbridge-tests-3d8f0c2a9b7e41d6a5c0f8e2b1d4c7a9"
ACTIONABLE = {
    "eventType": "action_task.actionable",
    "data": {
        "taskId": TASK_ID,
        "assignedTo": [],
        "requestMetadata": {
            "reviewedBy": [{"id": "c1b264ce", "email": "r@example.com", "fullName": "Rev Iewer"}],
            "requestType": "GrantAccessRequest",
            "requestedBy": {"id": "u1", "email": "q@example.com", "fullName": "Re Quester"},
            "targetWorkApp": {"id": "b95160f2", "name": "Google Workspace"},
            "permissionLevel": None,
            "targetUser": {"id": "u2", "email": "t@example.com", "fullName": "Tar Get"},
        },
    },
}


@pytest.fixture(name="key", scope="module")
def key_fixture() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(name="other_key", scope="module")
def other_key_fixture() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign(
    key: rsa.RSAPrivateKey,
    body: bytes,
    scheme: padding.AsymmetricPadding | None = None,
    algorithm: hashes.HashAlgorithm | None = None,
) -> dict[str, str]:
    signature = key.sign(body, scheme or padding.PKCS1v15(), algorithm or hashes.SHA256())
    return {"X-SIGNATURE": base64.b64encode(signature).decode()}


def body_of(value: Any) -> bytes:
    return orjson.dumps(value)


# Verification: the default scheme, and each bad signature.


async def test_a_signed_actionable_event_verifies_into_a_typed_event(key: Any) -> None:
    hooks = CakewalkWebhooks(public_key=pem(key))
    body = body_of(ACTIONABLE)
    [event] = await hooks.verify(body, sign(key, body))
    assert isinstance(event, ActionableTaskEvent)
    assert event.ref == TaskRef("cakewalk", TASK_ID)
    assert event.type == "action_task.actionable"
    assert event.data == ACTIONABLE["data"]
    meta = event.request_metadata
    assert meta is not None
    assert meta.request_type == "GrantAccessRequest"
    assert meta.reviewed_by[0].full_name == "Rev Iewer"
    assert meta.target_work_app is not None and meta.target_work_app.name == "Google Workspace"
    assert meta.target_user is not None and meta.target_user.email == "t@example.com"


async def test_the_header_is_found_in_any_case_and_in_asgi_pairs(key: Any) -> None:
    hooks = CakewalkWebhooks(public_key=pem(key))
    body = body_of(ACTIONABLE)
    signature = sign(key, body)["X-SIGNATURE"]
    assert await hooks.verify(body, {"x-signature": signature})
    assert await hooks.verify(body, [(b"x-signature", signature.encode())])


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"X-SIGNATURE": ""}, id="empty"),
        pytest.param({"X-SIGNATURE": "   "}, id="blank"),
        pytest.param({"X-SIGNATURE": "not base64 at all: %%%"}, id="not-base64"),
        pytest.param({"X-SIGNATURE": base64.b64encode(b"short").decode()}, id="wrong-length"),
    ],
)
async def test_a_missing_empty_or_malformed_signature_is_refused(
    key: Any, headers: dict[str, str]
) -> None:
    hooks = CakewalkWebhooks(public_key=pem(key))
    with pytest.raises(InvalidSignatureError):
        await hooks.verify(body_of(ACTIONABLE), headers)


async def test_a_signature_over_another_body_is_refused(key: Any) -> None:
    hooks = CakewalkWebhooks(public_key=pem(key))
    other = body_of({"eventType": "test", "data": {"message": "Hello, World!"}})
    with pytest.raises(InvalidSignatureError):
        await hooks.verify(body_of(ACTIONABLE), sign(key, other))


async def test_a_body_reserialised_after_signing_is_refused(key: Any) -> None:
    hooks = CakewalkWebhooks(public_key=pem(key))
    body = body_of(ACTIONABLE)
    headers = sign(key, body)
    spaced = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    assert orjson.loads(spaced) == orjson.loads(body)
    with pytest.raises(InvalidSignatureError):
        await hooks.verify(spaced, headers)


async def test_a_signature_by_another_key_is_refused(key: Any, other_key: Any) -> None:
    hooks = CakewalkWebhooks(public_key=pem(key))
    body = body_of(ACTIONABLE)
    with pytest.raises(InvalidSignatureError):
        await hooks.verify(body, sign(other_key, body))


async def test_the_signature_is_checked_before_the_body_is_parsed(key: Any) -> None:
    hooks = CakewalkWebhooks(public_key=pem(key))
    with pytest.raises(InvalidSignatureError):
        await hooks.verify(b"{not json", {"X-SIGNATURE": "AAAA"})


async def test_invalid_json_after_a_valid_signature_is_a_payload_error(key: Any) -> None:
    hooks = CakewalkWebhooks(public_key=pem(key))
    body = b'{"eventType": "test", "data": '
    with pytest.raises(WebhookPayloadError, match="not JSON"):
        await hooks.verify(body, sign(key, body))


@pytest.mark.parametrize(
    ("scheme", "algorithm", "options"),
    [
        pytest.param(padding.PKCS1v15(), hashes.SHA1(), {"hash": "sha1"}, id="pkcs1-sha1"),
        pytest.param(padding.PKCS1v15(), hashes.SHA384(), {"hash": "sha384"}, id="pkcs1-sha384"),
        pytest.param(padding.PKCS1v15(), hashes.SHA512(), {"hash": "sha512"}, id="pkcs1-sha512"),
        pytest.param(
            padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH),
            hashes.SHA256(),
            {"padding": "pss"},
            id="pss-sha256",
        ),
        pytest.param(
            padding.PSS(padding.MGF1(hashes.SHA512()), 32),
            hashes.SHA512(),
            {"padding": "pss", "hash": "sha512"},
            id="pss-sha512",
        ),
    ],
)
async def test_the_scheme_and_hash_are_configurable(
    key: Any, scheme: Any, algorithm: Any, options: dict[str, Any]
) -> None:
    body = body_of(ACTIONABLE)
    headers = sign(key, body, scheme, algorithm)
    assert await CakewalkWebhooks(public_key=pem(key), **options).verify(body, headers)
    with pytest.raises(InvalidSignatureError):  # the default reading refuses it
        await CakewalkWebhooks(public_key=pem(key)).verify(body, headers)


async def test_the_hmac_mode_verifies_base64_and_hex_and_refuses_a_wrong_secret() -> None:
    body = body_of(ACTIONABLE)
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    hooks = CakewalkWebhooks(secret=SECRET)
    assert await hooks.verify(body, {"X-SIGNATURE": base64.b64encode(digest).decode()})
    assert await hooks.verify(body, {"X-SIGNATURE": digest.hex()})
    assert await hooks.verify(body, {"X-SIGNATURE": f"sha256={digest.hex()}"})
    wrong = CakewalkWebhooks(secret=SECRET + "-rotated")
    with pytest.raises(InvalidSignatureError):
        await wrong.verify(body, {"X-SIGNATURE": digest.hex()})
    assert SECRET not in repr(hooks)


async def test_a_body_over_the_limit_is_refused_before_any_crypto(key: Any) -> None:
    hooks = CakewalkWebhooks(public_key=pem(key), max_body_bytes=1024)
    body = b" " * 1025
    with pytest.raises(WebhookBodyTooLargeError):
        await hooks.verify(body, {})  # no signature at all: the size is checked first


def test_the_constructor_refuses_bad_settings(key: Any) -> None:
    with pytest.raises(ConfigurationError):
        CakewalkWebhooks()
    with pytest.raises(ConfigurationError):
        CakewalkWebhooks(public_key=pem(key), secret=SECRET)
    with pytest.raises(ConfigurationError):
        CakewalkWebhooks(secret="short")
    with pytest.raises(ConfigurationError):
        CakewalkWebhooks(public_key=pem(key), padding="oaep")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        CakewalkWebhooks(public_key=pem(key), hash="md5")  # type: ignore[arg-type]
    with pytest.raises(WebhookKeyError):
        CakewalkWebhooks(
            public_key=b"-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----"
        )


def test_the_errors_are_taskbridge_errors_and_pickle() -> None:
    for cls in (InvalidSignatureError, WebhookBodyTooLargeError, WebhookPayloadError):
        error = cls("x")
        assert isinstance(error, TaskBridgeError)
        assert type(pickle.loads(pickle.dumps(error))) is cls


# Events.


async def test_an_array_of_envelopes_gives_one_event_each_in_order() -> None:
    hooks = CakewalkWebhooks(secret=SECRET)
    body = body_of(
        [
            {"eventType": "test", "data": {"message": "Hello, World!"}},
            ACTIONABLE,
            {"eventType": "user.created", "data": {"id": 1}},
        ]
    )
    events = await hooks.verify(body, hmac_headers(body))
    assert [type(e) for e in events] == [TestEvent, ActionableTaskEvent, UnknownEvent]
    test_event = events[0]
    assert isinstance(test_event, TestEvent) and test_event.message == "Hello, World!"


async def test_an_unknown_event_type_is_a_webhook_event_with_its_raw_data() -> None:
    hooks = CakewalkWebhooks(secret=SECRET)
    body = body_of({"eventType": "access_request.created", "data": {"nested": {"a": [1, 2]}}})
    [event] = await hooks.verify(body, hmac_headers(body))
    assert isinstance(event, WebhookEvent)
    assert event.type == "access_request.created"
    assert event.data == {"nested": {"a": [1, 2]}}


@pytest.mark.parametrize(
    "task_id", ["not-a-uuid", "", "7ac60a4b4b4d4fc1988cf95254591f06", 42, None]
)
async def test_an_actionable_event_whose_task_id_is_not_a_uuid_is_a_payload_error(
    task_id: object,
) -> None:
    hooks = CakewalkWebhooks(secret=SECRET)
    body = body_of({"eventType": "action_task.actionable", "data": {"taskId": task_id}})
    with pytest.raises(WebhookPayloadError, match="UUID"):
        await hooks.verify(body, hmac_headers(body))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(42, id="number"),
        pytest.param({"data": {}}, id="no-event-type"),
        pytest.param({"eventType": "test", "data": [1]}, id="data-not-object"),
        pytest.param([{"eventType": "test"}, "x"], id="array-item-not-object"),
        pytest.param(
            {"eventType": "action_task.actionable", "data": {"taskId": TASK_ID, "assignedTo": 3}},
            id="assigned-not-array",
        ),
        pytest.param(
            {
                "eventType": "action_task.actionable",
                "data": {"taskId": TASK_ID, "requestMetadata": {"reviewedBy": 5}},
            },
            id="metadata-does-not-fit",
        ),
    ],
)
async def test_a_verified_body_that_is_not_envelopes_is_a_payload_error(payload: Any) -> None:
    hooks = CakewalkWebhooks(secret=SECRET)
    body = body_of(payload)
    with pytest.raises(WebhookPayloadError):
        await hooks.verify(body, hmac_headers(body))


async def test_an_uppercase_task_id_gives_the_lower_cased_ref() -> None:
    hooks = CakewalkWebhooks(secret=SECRET)
    body = body_of({"eventType": "action_task.actionable", "data": {"taskId": TASK_ID.upper()}})
    [event] = await hooks.verify(body, hmac_headers(body))
    assert isinstance(event, ActionableTaskEvent)
    assert event.ref.task_id == TASK_ID


def hmac_headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return {"X-SIGNATURE": base64.b64encode(digest).decode()}


# Listeners.


async def test_listeners_hear_each_verified_actionable_event_until_unsubscribed() -> None:
    hooks = CakewalkWebhooks(secret=SECRET)
    heard: list[TaskRef] = []
    unsubscribe = hooks.subscribe(heard.append)
    assert hooks.subscribers == 1
    body = body_of([ACTIONABLE, {"eventType": "test", "data": {}}])
    await hooks.verify(body, hmac_headers(body))
    assert heard == [TaskRef("cakewalk", TASK_ID)]
    with pytest.raises(InvalidSignatureError):
        await hooks.verify(body, {"X-SIGNATURE": "AAAA"})
    assert len(heard) == 1  # a refused request tells no one
    unsubscribe()
    unsubscribe()  # twice is harmless
    assert hooks.subscribers == 0
    await hooks.verify(body, hmac_headers(body))
    assert len(heard) == 1


async def test_a_failing_listener_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = CakewalkWebhooks(secret=SECRET)
    heard: list[TaskRef] = []

    def broken(ref: TaskRef) -> None:
        raise RuntimeError("listener bug")

    hooks.subscribe(broken)
    hooks.subscribe(heard.append)
    body = body_of(ACTIONABLE)
    assert await hooks.verify(body, hmac_headers(body))
    assert heard == [TaskRef("cakewalk", TASK_ID)]
    assert "listener failed" in caplog.text


# Key forms.


def key_forms(key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    public = key.public_key()
    spki_der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pkcs1_der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    pkcs1_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    return {
        "pem": pem(key),
        "pem-pkcs1": pkcs1_pem,
        "base64-der": base64.b64encode(spki_der),
        "base64-der-wrapped": base64.encodebytes(spki_der),
        "base64-der-pkcs1": base64.b64encode(pkcs1_der),
        "der": spki_der,
        "json-publicKey": orjson.dumps({"publicKey": pem(key).decode()}),
        "json-key-base64": orjson.dumps(
            {"keyId": "k1", "key": base64.b64encode(spki_der).decode()}
        ),
        "json-nested": orjson.dumps({"data": {"id": "k1", "value": pem(key).decode()}}),
        "json-array": orjson.dumps([{"id": "k1", "publicKeyPem": pem(key).decode()}]),
        "json-string": orjson.dumps(pem(key).decode()),
        "json-escaped-newlines": orjson.dumps({"pem": pem(key).decode().replace("\n", "\\n")}),
    }


@pytest.mark.parametrize(
    "form",
    [
        "pem",
        "pem-pkcs1",
        "base64-der",
        "base64-der-wrapped",
        "base64-der-pkcs1",
        "der",
        "json-publicKey",
        "json-key-base64",
        "json-nested",
        "json-array",
        "json-string",
        "json-escaped-newlines",
    ],
)
async def test_each_form_of_the_public_key_is_read(key: Any, form: str) -> None:
    data = key_forms(key)[form]
    loaded = load_public_key(data)
    assert loaded.public_numbers() == key.public_key().public_numbers()
    body = body_of(ACTIONABLE)
    assert await CakewalkWebhooks(public_key=data).verify(body, sign(key, body))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"<html>502</html>",
        b'{"keys": []}',
        b'{"publicKey": 42}',
        b"[[[[[[[[]]]]]]]]",
    ],
)
def test_data_without_a_key_is_a_key_error(data: bytes) -> None:
    with pytest.raises(WebhookKeyError, match="no RSA public key"):
        load_public_key(data)


def test_a_non_rsa_key_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(WebhookKeyError):
        load_public_key(ec_pem)


# The key fetch: through the bridge's transport, cached, re-fetched on rotation.


def keys_answer(key: rsa.RSAPrivateKey) -> tuple[int, Any]:
    return 200, {"publicKey": pem(key).decode()}


async def test_the_key_is_fetched_once_with_the_credentials_and_cached(
    server: ScriptedServer, key: Any
) -> None:
    server.script([keys_answer(key)])
    config = base_config(server, "cakewalk")
    async with CakewalkWebhooks.from_config(config) as hooks:
        body = body_of(ACTIONABLE)
        for _ in range(3):
            assert await hooks.verify(body, sign(key, body))
    assert [r.path for r in server.requests] == ["/api/Keys"]
    headers = server.requests[0].headers
    assert headers["X-API-KEY"] == config.api_key
    assert headers["X-API-SECRET"] == config.api_secret


async def test_a_rotated_key_is_refetched_once_then_not_again_within_a_minute(
    server: ScriptedServer, key: Any, other_key: Any
) -> None:
    server.script([keys_answer(key), keys_answer(other_key)])
    clock = FakeClock()
    with use_clock(clock):
        hooks = CakewalkWebhooks.from_config(base_config(server, "cakewalk"))
    async with hooks:
        body = body_of(ACTIONABLE)
        assert await hooks.verify(body, sign(key, body))
        clock.skipped += 61
        # Signed with the new key: the failure re-fetches, and the new key verifies.
        assert await hooks.verify(body, sign(other_key, body))
        assert len(server.requests) == 2
        # A bad signature now cannot make it fetch again within the minute.
        for _ in range(3):
            with pytest.raises(InvalidSignatureError):
                await hooks.verify(body, sign(key, body))
        assert len(server.requests) == 2
        clock.skipped += 61
        with pytest.raises(InvalidSignatureError):
            await hooks.verify(body, sign(key, body))
        assert len(server.requests) == 3


async def test_a_key_endpoint_answering_401_is_an_authentication_error(
    server: ScriptedServer,
) -> None:
    server.script([(401, {"title": "Unauthorized", "status": 401})])
    async with CakewalkWebhooks.from_config(base_config(server, "cakewalk")) as hooks:
        with pytest.raises(AuthenticationError) as caught:
            await hooks.verify(b"{}", {"X-SIGNATURE": "AAAA"})
    assert caught.value.status == 401
    assert len(server.requests) == 1  # not retried


async def test_a_key_endpoint_answering_500_is_retried_then_a_server_error(
    server: ScriptedServer,
) -> None:
    server.script([(500, {"title": "boom"})])
    from taskbridge import TaskBridge

    fast = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0)
    config = base_config(server, "cakewalk")
    async with TaskBridge(cakewalk=config, retry=fast) as bridge:
        hooks = CakewalkWebhooks.from_config(config, bridge=bridge)
        with pytest.raises(ServerError):
            await hooks.verify(b"{}", {"X-SIGNATURE": "AAAA"})
        await hooks.aclose()  # leaves the given bridge open
        assert bridge.providers == ["cakewalk"]
        assert bridge.stats().providers["cakewalk"].retries == 2
    assert len(server.requests) == 3


async def test_a_key_endpoint_answering_garbage_is_a_key_error(server: ScriptedServer) -> None:
    server.script([(200, "<html>maintenance</html>")])
    async with CakewalkWebhooks.from_config(base_config(server, "cakewalk")) as hooks:
        with pytest.raises(WebhookKeyError):
            await hooks.verify(b"{}", {"X-SIGNATURE": "AAAA"})


async def test_a_slow_key_endpoint_is_bounded_by_key_timeout(server: ScriptedServer) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.wait_for(release.wait(), 30)
        return web.Response(status=200)

    server.script([slow])
    config = base_config(server, "cakewalk")
    from taskbridge import TaskBridge

    try:
        async with TaskBridge(cakewalk=config, retry=RetryPolicy(max_attempts=1)) as bridge:
            hooks = CakewalkWebhooks.from_config(config, bridge=bridge, key_timeout=0.2)
            with pytest.raises(RequestTimeoutError):
                await asyncio.wait_for(hooks.verify(b"{}", {"X-SIGNATURE": "AAAA"}), 10)
    finally:
        release.set()


async def test_the_key_fetch_errors_never_show_the_credentials(server: ScriptedServer) -> None:
    config = base_config(server, "cakewalk")
    server.script([(401, {"title": "Unauthorized", "detail": f"bad key {config.api_key}"})])
    async with CakewalkWebhooks.from_config(config) as hooks:
        with pytest.raises(AuthenticationError) as caught:
            await hooks.verify(b"{}", {"X-SIGNATURE": "AAAA"})
    shown = f"{caught.value!s} {caught.value!r} {vars(caught.value)!r}"
    assert config.api_key not in shown
    assert config.api_secret not in shown
    assert config.api_secret not in repr(hooks)


def test_from_config_needs_a_cakewalk_config() -> None:
    with pytest.raises(ConfigurationError):
        CakewalkWebhooks.from_config("not a config")  # type: ignore[arg-type]
