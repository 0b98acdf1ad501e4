"""A GET of some other resource of a provider (Cakewalk's ``/api/Keys``) through a bridge.

It goes through what a task fetch goes through: the bridge's session, the provider's
rate limit and concurrency (the gate), the per-call timeout, the retry policy (with
429 pauses), the size limit and the redaction of secrets; a failure is a typed
`ProviderError` whose ``task_id`` is the resource's name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._base.errors import (
    DecodeError,
    ProviderError,
    RequestTimeoutError,
    TransportError,
    api_error_for_status,
)
from .._base.secrets import sanitize_cause
from .._engine.retry import parse_retry_after
from .._engine.transport import ERROR_BODY_LIMIT, quote_text

if TYPE_CHECKING:
    import aiohttp

    from .._base.secrets import Redactor
    from .._engine.engine import Settings
    from .bridge import TaskBridge

__all__ = ["get_bytes"]


async def get_bytes(
    bridge: TaskBridge, provider: str, url: str, headers: Mapping[str, str], *, what: str
) -> bytes:
    """GET ``url`` with ``headers`` through ``bridge``'s ``provider`` gate; the body.

    Raises:
        APIError: a non-2xx answer (retried first as the bridge's policy says).
        RequestTimeoutError: no complete answer within the bridge's timeout.
        TransportError: the connection failed.
        DecodeError: the body is larger than the bridge's ``max_response_bytes``.
    """
    from .._engine.engine import retry_delay

    call = bridge._call
    gate = call.gate(provider)
    session = call.ensure_session()
    settings = call.settings
    redact = call.redact
    failures = 0
    while True:
        if not gate.try_enter():
            await gate.enter(what)
        try:
            answer = await _attempt(session, url, headers, settings, redact, (provider, what))
            status, body, retry_after = answer
        except ProviderError as exc:
            error: ProviderError = exc
        else:
            if 200 <= status < 300:
                if body is None:
                    raise DecodeError(
                        f"{provider} {what}: body larger than max_response_bytes "
                        f"({settings.max_bytes} bytes); not read further",
                        provider=provider,
                        task_id=what,
                    )
                return body
            text = redact.text((body or b"")[:ERROR_BODY_LIMIT].decode("utf-8", "replace"))
            error = api_error_for_status(status)(
                f"{provider} {what}: HTTP {status}: {quote_text(text, what) or 'no body'}",
                provider=provider,
                task_id=what,
                status=status,
                retry_after=parse_retry_after(retry_after),
            )
        finally:
            gate.leave()
        failures += 1
        error.attempts = failures
        await call.engine.sleep(retry_delay(settings.retry, gate, error, failures))


async def _attempt(  # noqa: PLR0917 - one request's parts
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
    settings: Settings,
    redact: Redactor,
    names: tuple[str, str],
) -> tuple[int, bytes | None, str | None]:
    provider, what = names
    try:
        async with session.get(
            url,
            headers=dict(headers),
            allow_redirects=False,
            timeout=settings.timeout,
            raise_for_status=False,
        ) as response:
            limit = settings.max_bytes if response.status < 300 else ERROR_BODY_LIMIT
            length = response.content_length
            if length is not None and length > limit:
                return response.status, None, response.headers.get("Retry-After")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_any():
                size += len(chunk)
                if size > limit:
                    return response.status, None, response.headers.get("Retry-After")
                chunks.append(chunk)
            return response.status, b"".join(chunks), response.headers.get("Retry-After")
    except asyncio.TimeoutError as exc:
        failure: ProviderError = RequestTimeoutError(
            f"{provider} {what}: no complete answer within {settings.timeout.total}s",
            provider=provider,
            task_id=what,
        )
        failure.__cause__ = sanitize_cause(exc, redact)
    except Exception as exc:
        failure = TransportError(
            f"{provider} {what}: connection failed ({type(exc).__name__})",
            provider=provider,
            task_id=what,
        )
        failure.__cause__ = sanitize_cause(exc, redact)
    raise failure
