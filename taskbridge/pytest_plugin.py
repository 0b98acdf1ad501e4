"""pytest plugin: a sandbox and a bridge wired to it, for testing code that embeds taskbridge.

Installed with taskbridge (the ``pytest11`` entry point) and idle until a test asks
for one of its fixtures:

- ``taskbridge_sandbox``: a started `taskbridge.sandbox.Sandbox` (seed 0) on a free
  loopback port; ``taskbridge_sandbox.cakewalk_ids`` / ``.alumio_ids`` are its seeded
  ids, ``.stats`` counts what it received, ``.set_faults(...)`` injects failures.
- ``taskbridge_bridge``: a `TaskBridge` configured for that sandbox, every provider it
  serves (plug-ins included; no client-side rate limit, fast retries), closed after the test.
- ``taskbridge_env``: sets the ``TASKBRIDGE_*`` variables to ``taskbridge_sandbox`` (and
  removes any other ``TASKBRIDGE_*``), for code that builds its own bridge with
  `TaskBridge.from_env`; returns them as a dict.
- ``taskbridge_thread_sandbox`` / ``taskbridge_thread_env``: the same, with the sandbox
  served from a background thread (`BackgroundSandbox`), for sync tests: Starlette's or
  FastAPI's ``TestClient``, Django's client, code that calls ``asyncio.run``.
- ``taskbridge_sync_bridge``: a `SyncTaskBridge` wired to ``taskbridge_thread_sandbox``
  (plain sync tests, no pytest-asyncio needed), closed after the test.
- ``taskbridge_webhook_signer``: a `WebhookSigner` holding an RSA key pair (one per test
  session) that signs payloads as Cakewalk does, and builds the `CakewalkWebhooks` that
  verifies them, for tests of your own webhook handler (the ``webhooks`` extra).

Override ``taskbridge_sandbox_options`` (a dict of `Sandbox` keyword arguments) in your
own ``conftest.py`` to change the seed, the number of tasks, faults or ``any_id``.
The fixtures are async: they need pytest-asyncio (``asyncio_mode = "auto"``, or mark
the tests with ``@pytest.mark.asyncio``).

Example:
    ```python
    async def test_my_sync_job(taskbridge_bridge, taskbridge_sandbox):
        task_id = taskbridge_sandbox.cakewalk_ids[0]
        await my_sync_job(taskbridge_bridge, [("cakewalk", task_id)])
        assert taskbridge_sandbox.stats.cakewalk.requests == 1
    ```
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from taskbridge import SyncTaskBridge, TaskBridge
    from taskbridge.sandbox import BackgroundSandbox, Sandbox
    from taskbridge.webhooks import CakewalkWebhooks

__all__ = [
    "WebhookSigner",
    "taskbridge_bridge",
    "taskbridge_env",
    "taskbridge_sandbox",
    "taskbridge_sandbox_options",
    "taskbridge_sync_bridge",
    "taskbridge_thread_env",
    "taskbridge_thread_sandbox",
    "taskbridge_webhook_signer",
]

if TYPE_CHECKING:
    from pytest_asyncio import fixture as _async_fixture
else:
    try:
        from pytest_asyncio import fixture as _async_fixture
    except ImportError:  # without pytest-asyncio the plugin must still load, idle
        _async_fixture = pytest.fixture


@pytest.fixture
def taskbridge_sandbox_options() -> dict[str, Any]:
    """Keyword arguments for the `Sandbox` behind ``taskbridge_sandbox``."""
    return {"seed": 0}


@_async_fixture
async def taskbridge_sandbox(taskbridge_sandbox_options: dict[str, Any]) -> AsyncIterator[Sandbox]:
    """A running sandbox of every registered provider on a free loopback port."""
    from taskbridge.sandbox import Sandbox

    async with Sandbox(**taskbridge_sandbox_options) as sandbox:
        yield sandbox


@_async_fixture
async def taskbridge_bridge(taskbridge_sandbox: Sandbox) -> AsyncIterator[TaskBridge]:
    """A `TaskBridge` wired to ``taskbridge_sandbox``, closed after the test."""
    from taskbridge import RetryPolicy, TaskBridge

    bridge = TaskBridge(
        providers=taskbridge_sandbox.configs(requests_per_minute=None),
        retry=RetryPolicy(initial_backoff=0.0, max_backoff=0.0, max_retry_after=1.0),
    )
    async with bridge:
        yield bridge


def _point_env_at(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("TASKBRIDGE_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return dict(env)


@pytest.fixture
def taskbridge_env(taskbridge_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The ``TASKBRIDGE_*`` variables, pointed at ``taskbridge_sandbox`` for this test."""
    return _point_env_at(monkeypatch, taskbridge_sandbox.env())


@pytest.fixture
def taskbridge_thread_sandbox(
    taskbridge_sandbox_options: dict[str, Any],
) -> Iterator[BackgroundSandbox]:
    """A sandbox served from a background thread (its own loop), for sync tests."""
    from taskbridge.sandbox import BackgroundSandbox

    with BackgroundSandbox(**taskbridge_sandbox_options) as sandbox:
        yield sandbox


@pytest.fixture
def taskbridge_thread_env(
    taskbridge_thread_sandbox: BackgroundSandbox, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The ``TASKBRIDGE_*`` variables, pointed at ``taskbridge_thread_sandbox``."""
    return _point_env_at(monkeypatch, taskbridge_thread_sandbox.env())


@pytest.fixture
def taskbridge_sync_bridge(
    taskbridge_thread_sandbox: BackgroundSandbox,
) -> Iterator[SyncTaskBridge]:
    """A `SyncTaskBridge` wired to ``taskbridge_thread_sandbox``, closed after the test."""
    from taskbridge import RetryPolicy, SyncTaskBridge

    bridge = SyncTaskBridge(
        providers=taskbridge_thread_sandbox.configs(requests_per_minute=None),
        retry=RetryPolicy(initial_backoff=0.0, max_backoff=0.0, max_retry_after=1.0),
    )
    with bridge:
        yield bridge


class WebhookSigner:
    """Signs webhook bodies as Cakewalk does (RSA PKCS#1 v1.5, SHA-256, base64 in
    ``X-SIGNATURE``), with a key pair made for the test session.

    Example:
        ```python
        async def test_my_handler(taskbridge_webhook_signer):
            hooks = taskbridge_webhook_signer.hooks()  # verifies what the signer signs
            body, headers = taskbridge_webhook_signer.actionable(task_id)
            events = await hooks.verify(body, headers)
        ```
    """

    def __init__(self, private_key: Any) -> None:
        from cryptography.hazmat.primitives import serialization

        self._private_key = private_key
        #: The PEM public key, for ``CakewalkWebhooks(public_key=...)``.
        self.public_key: bytes = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def __repr__(self) -> str:
        return "<taskbridge WebhookSigner>"

    def hooks(self, **options: Any) -> CakewalkWebhooks:
        """A `CakewalkWebhooks` that verifies this signer's signatures."""
        from taskbridge.webhooks import CakewalkWebhooks

        return CakewalkWebhooks(public_key=self.public_key, **options)

    def headers(self, body: bytes) -> dict[str, str]:
        """The ``X-SIGNATURE`` header of ``body``."""
        import base64

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signature = self._private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return {"X-SIGNATURE": base64.b64encode(signature).decode()}

    def sign(self, payload: Any) -> tuple[bytes, dict[str, str]]:
        """``payload`` (raw bytes, or an envelope or array of them to serialise) as the
        body and headers Cakewalk would send."""
        import orjson

        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        return body, self.headers(body)

    def actionable(self, task_id: str, **data: Any) -> tuple[bytes, dict[str, str]]:
        """A signed ``action_task.actionable`` event for ``task_id`` (more ``data`` fields
        by their wire names, e.g. ``requestMetadata={...}``)."""
        envelope = {"eventType": "action_task.actionable", "data": {"taskId": task_id, **data}}
        return self.sign(envelope)


@pytest.fixture(scope="session")
def taskbridge_webhook_signer() -> WebhookSigner:
    """A `WebhookSigner` with an RSA-2048 key pair made once per test session."""
    from taskbridge.webhooks._keys import need_cryptography

    need_cryptography()  # a clear error without the webhooks extra
    from cryptography.hazmat.primitives.asymmetric import rsa

    return WebhookSigner(rsa.generate_private_key(public_exponent=65537, key_size=2048))
