"""`CakewalkWebhooks`: check a request's signature, parse its events, tell the listeners."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .._base.checks import check_count, check_seconds
from .._base.clock import current_clock
from .._base.errors import ConfigurationError, TaskBridgeError
from .._base.models import TaskRef
from ._errors import InvalidSignatureError, WebhookBodyTooLargeError
from ._events import ActionableTaskEvent, WebhookEvent, parse_events
from ._keys import load_public_key, need_cryptography

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from .._facade.bridge import TaskBridge
    from ..providers.cakewalk import CakewalkConfig

__all__ = ["DEFAULT_MAX_BODY_BYTES", "KEY_REFETCH_INTERVAL", "CakewalkWebhooks"]

logger = logging.getLogger("taskbridge.webhooks")

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: A failed signature re-fetches the key (it may have rotated) at most this often.
KEY_REFETCH_INTERVAL = 60.0
KEYS_PATH = "/api/Keys"

Padding = Literal["pkcs1v15", "pss"]
HashName = Literal["sha1", "sha256", "sha384", "sha512"]
_HASHES = ("sha1", "sha256", "sha384", "sha512")
Listener = Callable[[TaskRef], object]
HeadersLike = Mapping[str, str] | Iterable[tuple[Any, Any]]


def _signature_of(headers: HeadersLike, name: str) -> str | None:
    """The header ``name`` (any case), from a mapping or ASGI's ``(bytes, bytes)`` pairs."""
    if isinstance(headers, Mapping):
        found = headers.get(name)  # a case-insensitive mapping (aiohttp's) finds it here
        if isinstance(found, str):
            return found
    wanted = name.lower()
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        key_text = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if key_text.lower() == wanted:
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


def _decode_signature(text: str, *, hex_too: bool) -> bytes:
    text = text.strip()
    if hex_too:
        text = text.removeprefix("sha256=")
        if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
            return bytes.fromhex(text)
    try:
        return base64.b64decode(text, validate=True)  # the usual form, at once
    except (binascii.Error, ValueError):
        pass
    compact = "".join(text.split())
    for alphabet in (None, b"-_"):
        try:
            padded = compact + "=" * (-len(compact) % 4)
            return base64.b64decode(padded, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise InvalidSignatureError("the signature is not base64")


def _rsa_scheme(name: Padding, hash_name: HashName) -> tuple[Any, Any]:
    """``cryptography``'s padding and hash objects for ``verify``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    algorithm: hashes.HashAlgorithm
    if hash_name == "sha1":
        algorithm = hashes.SHA1()
    elif hash_name == "sha384":
        algorithm = hashes.SHA384()
    elif hash_name == "sha512":
        algorithm = hashes.SHA512()
    else:
        algorithm = hashes.SHA256()
    if name == "pss":
        return padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.AUTO), algorithm
    return padding.PKCS1v15(), algorithm


class CakewalkWebhooks:
    """Verify Cakewalk's webhook requests and parse them into typed events.

    Give exactly one of ``public_key`` (PEM, base64 DER or JSON holding it; no I/O)
    or ``secret`` (the HMAC-SHA256 reading of Cakewalk's set-up page), or build with
    `from_config` to fetch the key from Cakewalk's ``/api/Keys``.

    Args:
        public_key: Cakewalk's RSA public key.
        secret: the shared secret of the HMAC-SHA256 mode.
        padding: ``"pkcs1v15"`` (default) or ``"pss"`` (any salt length).
        hash: ``"sha256"`` (default), ``"sha1"``, ``"sha384"`` or ``"sha512"``.
        max_body_bytes: larger bodies are refused before any crypto (default 1 MiB).
        header: the signature's header (default ``X-SIGNATURE``, any case).

    Example:
        ```python
        hooks = CakewalkWebhooks(public_key=pem_bytes)
        events = await hooks.verify(body, request.headers)
        ```
    """

    _secret: bytes | None
    _key: RSAPublicKey | None

    def __init__(
        self,
        *,
        public_key: bytes | str | None = None,
        secret: bytes | str | None = None,
        padding: Padding = "pkcs1v15",
        hash: HashName = "sha256",
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        header: str = "X-SIGNATURE",
    ) -> None:
        if (public_key is None) == (secret is None):
            raise ConfigurationError("give exactly one of public_key= or secret=")
        self._setup(padding, hash, max_body_bytes, header)
        if secret is not None:
            raw = secret.encode() if isinstance(secret, str) else bytes(secret)
            if len(raw) < 16:
                raise ConfigurationError("secret must be at least 16 bytes")
            self._secret = raw
        if public_key is not None:
            self._key = load_public_key(public_key)

    def _setup(
        self,
        padding: Padding,
        hash: HashName,
        max_body_bytes: int,
        header: str,
    ) -> None:
        if padding not in ("pkcs1v15", "pss"):
            raise ConfigurationError("padding must be 'pkcs1v15' or 'pss'")
        if hash not in _HASHES:
            raise ConfigurationError(f"hash must be one of {', '.join(_HASHES)}")
        if not isinstance(header, str) or not header:
            raise ConfigurationError("header must be a non-empty header name")
        self.max_body_bytes = check_count("max_body_bytes", max_body_bytes)
        self.padding: Padding = padding
        self.hash: HashName = hash
        self.header = header
        self._secret = None
        self._key = None
        self._scheme: tuple[Any, Any] | None = None  # (padding, hash), made on first use
        self._listeners: list[Listener] = []
        self._clock = current_clock()
        self._fetched_at: float | None = None
        self._fetching: asyncio.Lock | None = None
        self._config: CakewalkConfig | None = None
        self._bridge: TaskBridge | None = None
        self._own_bridge = False
        self._key_timeout = 10.0

    @classmethod
    def from_config(
        cls,
        config: CakewalkConfig,
        *,
        bridge: TaskBridge | None = None,
        key_timeout: float = 10.0,
        padding: Padding = "pkcs1v15",
        hash: HashName = "sha256",
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        header: str = "X-SIGNATURE",
    ) -> CakewalkWebhooks:
        """Verify with the RSA key Cakewalk serves at ``GET /api/Keys``.

        The key is fetched on first use through ``bridge`` (its session, rate limit
        and retries; by default a bridge of its own, closed by `aclose`), then cached;
        a signature that fails re-fetches it once, for a rotated key, at most once a
        minute. The other arguments are the constructor's.

        Raises (from `verify`, when the key cannot be had):
            AuthenticationError: the key endpoint answered 401/403.
            ServerError, RequestTimeoutError, TransportError: as for any request.
            WebhookKeyError: the answer holds no RSA public key.
        """
        from ..providers.cakewalk import CakewalkConfig

        if not isinstance(config, CakewalkConfig):
            raise ConfigurationError("from_config needs a CakewalkConfig")
        need_cryptography()
        hooks = cls.__new__(cls)
        hooks._setup(padding, hash, max_body_bytes, header)
        hooks._config = config
        hooks._bridge = bridge
        hooks._key_timeout = check_seconds("key_timeout", key_timeout)
        return hooks

    def __repr__(self) -> str:
        if self._secret is not None:
            mode = "hmac-sha256"
        else:
            source = "fetched" if self._config is not None else "given"
            mode = f"rsa-{self.padding}-{self.hash} key={source}"
        return f"<CakewalkWebhooks {mode} listeners={len(self._listeners)}>"

    async def __aenter__(self) -> CakewalkWebhooks:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the bridge `from_config` built for the key fetch (a given one stays open)."""
        bridge, own = self._bridge, self._own_bridge
        if own and bridge is not None:
            self._bridge, self._own_bridge = None, False
            await bridge.aclose()

    # Listeners: how `TaskBridge.wait`/`watch` (``events=``) hear of verified events.

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(ref)`` for each verified `ActionableTaskEvent`; returns the
        function that unsubscribes it. A listener's exception is logged, not raised."""
        if not callable(listener):
            raise ConfigurationError("listener must be callable")
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    @property
    def subscribers(self) -> int:
        """How many listeners are subscribed (one per running ``events=`` wait or watch)."""
        return len(self._listeners)

    def _publish(self, events: list[WebhookEvent]) -> None:
        if not self._listeners:
            return
        for event in events:
            if isinstance(event, ActionableTaskEvent):
                for listener in list(self._listeners):
                    try:
                        listener(event.ref)
                    except Exception:
                        logger.exception("a webhook event listener failed")

    # Verification.

    async def verify(self, body: bytes, headers: HeadersLike) -> list[WebhookEvent]:
        """Check ``body``'s signature, then parse it into events (and tell listeners).

        Args:
            body: the raw request body, exactly as received.
            headers: the request's headers: a mapping (any case) or ASGI pairs.

        Returns:
            The events, in the body's order (one for a single envelope).

        Raises:
            WebhookBodyTooLargeError: the body is over ``max_body_bytes``.
            InvalidSignatureError: missing, malformed or wrong signature (before parsing).
            WebhookPayloadError: signed right, but not events.
        """
        self.check(body)
        await self.verify_signature(body, headers)
        events = parse_events(body)
        self._publish(events)
        return events

    def check(self, body: bytes) -> None:
        """Refuse a body over ``max_body_bytes`` (`WebhookBodyTooLargeError`)."""
        if len(body) > self.max_body_bytes:
            raise WebhookBodyTooLargeError(
                f"webhook body of {len(body)} bytes is over max_body_bytes={self.max_body_bytes}"
            )

    async def verify_signature(self, body: bytes, headers: HeadersLike) -> None:
        """Only the signature check of `verify`: `InvalidSignatureError` if it fails."""
        self.check(body)
        text = _signature_of(headers, self.header)
        if not text or not text.strip():
            raise InvalidSignatureError(f"no {self.header} header, or an empty one")
        secret = self._secret
        signature = _decode_signature(text, hex_too=secret is not None)
        if secret is not None:
            expected = hmac.new(secret, body, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, signature):
                raise InvalidSignatureError("the HMAC signature does not match the body")
            return
        key = self._key if self._key is not None else await self._fetch_key(force=False)
        if self._verifies(key, signature, body):
            return
        if self._config is not None and self._may_refetch():
            try:
                fresh = await self._fetch_key(force=True)
            except TaskBridgeError as exc:  # the signature still failed: that is the answer
                logger.warning("re-fetching the webhook key failed: %s", exc)
            else:
                if fresh is not key and self._verifies(fresh, signature, body):
                    return
        raise InvalidSignatureError(
            f"the signature does not match the body (RSA {self.padding} {self.hash})"
        )

    def _verifies(self, key: RSAPublicKey, signature: bytes, body: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        scheme = self._scheme
        if scheme is None:
            scheme = self._scheme = _rsa_scheme(self.padding, self.hash)
        try:
            key.verify(signature, body, *scheme)
        except InvalidSignature:
            return False
        return True

    def _may_refetch(self) -> bool:
        at = self._fetched_at
        return at is None or self._clock.time() - at >= KEY_REFETCH_INTERVAL

    async def _fetch_key(self, *, force: bool) -> RSAPublicKey:
        if self._fetching is None:
            self._fetching = asyncio.Lock()
        async with self._fetching:
            if self._key is not None and not (force and self._may_refetch()):
                return self._key  # another verify fetched it meanwhile
            self._fetched_at = self._clock.time()
            key = load_public_key(await self._get_keys())
            self._key = key
            return key

    async def _get_keys(self) -> bytes:
        from .._facade.bridge import TaskBridge
        from .._facade.raw import get_bytes

        config = self._config
        if config is None:
            raise ConfigurationError("no key source: build with public_key= or from_config()")
        bridge = self._bridge
        if bridge is None:
            bridge = self._bridge = TaskBridge(cakewalk=config, timeout=self._key_timeout)
            self._own_bridge = True
        headers = {
            "X-API-KEY": config.api_key,
            "X-API-SECRET": config.api_secret,
            "Accept": "application/json, application/x-pem-file, text/plain",
        }
        view = bridge.with_options(timeout=self._key_timeout)
        url = f"{config.base_url}{KEYS_PATH}"
        return await get_bytes(view, "cakewalk", url, headers, what="public key (/api/Keys)")
