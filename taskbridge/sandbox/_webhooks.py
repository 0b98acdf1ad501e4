"""The sandbox's Cakewalk webhooks: an RSA key pair, ``GET /api/Keys``, signed events.

Given a target URL (``Sandbox(webhook_url=...)``, `Sandbox.send_webhooks_to`, or
``POST /_sandbox/webhooks {"url": ...}``), the sandbox POSTs a signed
``action_task.actionable`` event when a Cakewalk task of its lifecycle reaches its
actionable stage (``InProgress``: its action step can be executed). Signatures are RSA
PKCS#1 v1.5 over SHA-256 of the raw body, base64 in ``X-SIGNATURE``. The key pair
(2048-bit) is made once per sandbox, on first use. `WebhookFaults` sends a bad
signature, a duplicate, or a late event.

Needs the ``webhooks`` extra (``cryptography``); without it the rest of the sandbox
works, and these features say what to install.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs
import orjson

__all__ = ["PROVIDER", "WebhookFaults", "WebhookSender"]

logger = logging.getLogger("taskbridge.sandbox")

PROVIDER = "cakewalk"
_LONGEST_NAP = 1.0  # seconds between looks at the lifecycle when nothing pokes the sender


@attrs.frozen(kw_only=True)
class WebhookFaults:
    """What goes wrong with the sandbox's webhooks.

    Args:
        bad_signature: sign something other than the body sent.
        duplicate: send every event twice.
        delay: send each event this many seconds late.
    """

    bad_signature: bool = False
    duplicate: bool = False
    delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError as exc:
        raise RuntimeError(
            'the sandbox\'s webhooks need the webhooks extra: pip install "aiotaskbridge[webhooks]"'
        ) from exc
    return rsa


class WebhookSender:
    """The key pair and the deliveries of one sandbox (``state.webhooks``)."""

    def __init__(self, state: Any, target: str | None = None) -> None:
        self.state = state
        self.target = target
        self.faults = WebhookFaults()
        self.sent: set[str] = set()
        #: ``(task_id, HTTP status or None)`` of each delivery, in order.
        self.deliveries: list[tuple[str, int | None]] = []
        self._key: Any = None
        self._poke: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<sandbox WebhookSender target={self.target!r} sent={len(self.deliveries)}>"

    # The key pair.

    def private_key(self) -> Any:
        if self._key is None:
            rsa = _crypto()
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._key

    def public_key_pem(self) -> bytes:
        """The public key, PEM (``SubjectPublicKeyInfo``)."""
        key = self.private_key()  # first: says what to install without the extra
        from cryptography.hazmat.primitives import serialization

        pem: bytes = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem

    def keys_body(self) -> bytes:
        """``GET /api/Keys``'s answer: ``{"publicKey": PEM}``."""
        return orjson.dumps({"publicKey": self.public_key_pem().decode()})

    def sign(self, body: bytes) -> dict[str, str]:
        """The ``X-SIGNATURE`` header of ``body``: RSA PKCS#1 v1.5 over SHA-256, base64."""
        key = self.private_key()
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signature = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return {"X-SIGNATURE": base64.b64encode(signature).decode()}

    # Deliveries.

    def configure(self, target: str | None, faults: WebhookFaults | None = None) -> None:
        """Send to ``target`` from now on (``None``: stop), with ``faults``."""
        if target is not None:
            self.private_key()  # fail now, not in the background, without the extra
        self.target = target
        self.faults = faults or WebhookFaults()
        self.poke()
        if target is not None and self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run())

    def poke(self) -> None:
        """Look at the lifecycle again now (time jumped, or a target was set)."""
        if self._poke is not None:
            self._poke.set()

    def send(self, task_id: str) -> None:
        """Send ``task_id``'s event now (or late, as the faults say), once or twice."""
        if self.target is None:
            raise RuntimeError("no webhook target: call send_webhooks_to(url) first")
        task = asyncio.get_running_loop().create_task(self._deliver(self.target, task_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        pending = [*self._pending, *([runner] if runner is not None else [])]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _due(self) -> tuple[list[str], float | None]:
        """Tasks that reached their actionable stage and were not sent; the lifecycle
        time of the next one."""
        state = self.state
        clock = state.lifecycle_clock
        if clock is None or PROVIDER not in state.emulators:
            return [], None
        now = clock.now()
        due, upcoming = [], None
        for task_id in state.served_ids(PROVIDER):
            if task_id in self.sent:
                continue
            at = state.schedule(PROVIDER, task_id)[1][0]
            if at <= now:
                due.append(task_id)
            elif upcoming is None or at < upcoming:
                upcoming = at
        return due, upcoming

    async def _run(self) -> None:
        self._poke = asyncio.Event()
        while self.target is not None:
            due, upcoming = self._due()
            for task_id in due:
                self.sent.add(task_id)
                self.send(task_id)
            nap = _LONGEST_NAP
            clock = self.state.lifecycle_clock
            if upcoming is not None and clock is not None:
                at = clock.clock_time(upcoming)
                if at is not None:
                    nap = min(nap, max(0.0, at - self.state.clock()))
            self._poke.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._poke.wait(), nap)
        self._runner = None

    async def _deliver(self, target: str, task_id: str) -> None:
        faults = self.faults
        if faults.delay:
            await self.state.sleep(faults.delay)
        body = orjson.dumps(
            {
                "eventType": "action_task.actionable",
                "data": {"taskId": task_id, "assignedTo": [], "requestMetadata": None},
            }
        )
        headers = self.sign(body + b" " if faults.bad_signature else body)
        for _ in range(2 if faults.duplicate else 1):
            self.deliveries.append((task_id, await self._post(target, body, headers)))

    async def _post(self, target: str, body: bytes, headers: Mapping[str, str]) -> int | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            async with self._session.post(
                target, data=body, headers={**headers, "Content-Type": "application/json"}
            ) as response:
                return response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("sandbox webhook to %s failed: %s", target, type(exc).__name__)
            return None
