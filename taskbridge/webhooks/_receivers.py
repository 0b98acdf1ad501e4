"""Receivers to mount in a service: an aiohttp.web handler and an ASGI app.

Both read the body up to ``max_body_bytes`` (a larger ``Content-Length`` is refused
before reading, a longer stream as soon as it is over), verify it, and hand the events
to the user's callback (sync or async). The answers:

| status | when |
|---|---|
| 204 | verified, parsed, and the callback returned |
| 400 | signed right, but not events (`WebhookPayloadError`) |
| 401 | missing, malformed or wrong signature (`InvalidSignatureError`) |
| 413 | body over ``max_body_bytes`` |
| 500 | the callback raised (logged): Cakewalk retries |
| 503 | the public key could not be fetched (logged): Cakewalk retries |
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .._base.errors import TaskBridgeError
from ._errors import InvalidSignatureError, WebhookBodyTooLargeError, WebhookPayloadError
from ._events import WebhookEvent
from ._hooks import CakewalkWebhooks, HeadersLike

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["OnEvents", "aiohttp_handler", "answer", "asgi_app"]

logger = logging.getLogger("taskbridge.webhooks")

#: The user's callback: given the verified events; may be a coroutine function.
OnEvents = Callable[[list[WebhookEvent]], object]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REASONS = {
    400: b"the body is signed but is not webhook events",
    401: b"invalid signature",
    405: b"only POST is accepted",
    413: b"body too large",
    500: b"the event handler failed",
    503: b"the signing key is not available",
}


async def answer(
    hooks: CakewalkWebhooks, body: bytes, headers: HeadersLike, on_events: OnEvents
) -> int:
    """Verify ``body``, call ``on_events``, and return the HTTP status to answer."""
    try:
        events = await hooks.verify(body, headers)
    except WebhookBodyTooLargeError:
        return 413
    except InvalidSignatureError as exc:
        logger.warning("webhook refused: %s", exc)
        return 401
    except WebhookPayloadError as exc:
        logger.warning("webhook refused: %s", exc)
        return 400
    except TaskBridgeError as exc:  # the key fetch failed: Cakewalk should try again
        logger.error("webhook not verified, the public key is not available: %s", exc)
        return 503
    try:
        result = on_events(events)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("the webhook event handler failed (%d event(s))", len(events))
        return 500
    return 204


def _check(hooks: object, on_events: object) -> None:
    from .._base.errors import ConfigurationError

    if not isinstance(hooks, CakewalkWebhooks):
        raise ConfigurationError("hooks must be a CakewalkWebhooks")
    if not callable(on_events):
        raise ConfigurationError("on_events must be callable")


def aiohttp_handler(
    hooks: CakewalkWebhooks, on_events: OnEvents
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp.web handler: ``app.router.add_post("/webhooks", aiohttp_handler(hooks, cb))``.

    Args:
        hooks: verifies each request.
        on_events: called with the list of verified events (sync or async).
    """
    from aiohttp import web

    _check(hooks, on_events)
    limit = hooks.max_body_bytes

    async def handler(request: web.Request) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > limit:
            return _aiohttp_response(web, 413)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                return _aiohttp_response(web, 413)
            chunks.append(chunk)
        status = await answer(hooks, b"".join(chunks), request.headers, on_events)
        return _aiohttp_response(web, status)

    return handler


def _aiohttp_response(web: Any, status: int) -> web.Response:
    if status == 204:
        return web.Response(status=204)  # type: ignore[no-any-return]
    # Connection: close for a body left unread, so the rest is not taken for a request.
    headers = {"Connection": "close"} if status == 413 else None
    return web.Response(  # type: ignore[no-any-return]
        status=status, body=_REASONS[status], content_type="text/plain", headers=headers
    )


def asgi_app(hooks: CakewalkWebhooks, on_events: OnEvents) -> ASGIApp:
    """An ASGI app (mount it in Starlette or FastAPI: ``app.mount("/webhooks", ...)``).

    Answers every POST to it; other methods get 405. Lifespan messages are answered.

    Args:
        hooks: verifies each request.
        on_events: called with the list of verified events (sync or async).
    """
    _check(hooks, on_events)
    limit = hooks.max_body_bytes

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        if scope.get("method") != "POST":
            await _asgi_send(send, 405)
            return
        headers = scope.get("headers") or []
        if _declared(headers) > limit:
            await _asgi_send(send, 413)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _asgi_send(send, 413)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        await _asgi_send(send, await answer(hooks, b"".join(chunks), headers, on_events))

    return app


def _declared(headers: list[tuple[bytes, bytes]]) -> int:
    """The request's ``Content-Length``, or -1 (none, or not a number)."""
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return -1


async def _asgi_send(send: Send, status: int) -> None:
    body = b"" if status == 204 else _REASONS[status]
    headers = [] if status == 204 else [(b"content-type", b"text/plain")]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
