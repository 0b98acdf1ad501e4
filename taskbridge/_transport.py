"""One HTTP attempt: send, read within bounds, and map the answer or the failure."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp

from ._convert import SchemaError
from ._errors import (
    APIError,
    DecodeError,
    RequestTimeoutError,
    TransportError,
    api_error_for_status,
)
from ._models import UnifiedTask
from ._retry import parse_retry_after
from .providers import ProviderAdapter

__all__ = ["ERROR_BODY_LIMIT", "Redactor", "attempt"]

logger = logging.getLogger("taskbridge")

ERROR_BODY_LIMIT = 64 * 1024


class _TooLargeError(Exception):
    pass


class Redactor:
    """Removes known secrets from text a provider sends back (an echoed key, say)."""

    __slots__ = ("_raw", "_secrets")

    def __init__(self, secrets: list[str]) -> None:
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._raw = [s.encode() for s in self._secrets]

    def body(self, data: bytes) -> bytes:
        """Mask secrets in a raw body before it is parsed into an error's ``.body``."""
        for secret in self._raw:
            if secret in data:
                data = data.replace(secret, b"***")
        return data

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


async def _read(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read the body, stopping as soon as it is known to exceed ``limit`` bytes."""
    length = response.content_length
    if length is not None and length > limit:
        raise _TooLargeError
    if length is not None and "Content-Encoding" not in response.headers:
        return await response.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_error_body(response: aiohttp.ClientResponse) -> bytes:
    try:
        return await _read(response, ERROR_BODY_LIMIT)
    except _TooLargeError:
        return b""


async def attempt(
    session: aiohttp.ClientSession,
    adapter: ProviderAdapter,
    task_id: str,
    *,
    timeout: aiohttp.ClientTimeout,
    max_bytes: int,
    redact: Redactor,
    attempt_no: int,
) -> UnifiedTask[Any]:
    """Send one GET for ``task_id`` and return the task, or raise a `ProviderError`."""
    provider = adapter.name
    url, headers = adapter.request(task_id)
    debug = logger.isEnabledFor(logging.DEBUG)
    started = time.monotonic() if debug else 0.0
    retry_after: str | None = None
    outcome = "error"
    status: int | None = None
    try:
        async with session.get(
            url, headers=headers, allow_redirects=False, timeout=timeout
        ) as response:
            status = response.status
            outcome = str(status)
            if 200 <= status < 300:
                try:
                    body = await _read(response, max_bytes)
                except _TooLargeError:
                    raise DecodeError(
                        f"{provider} task {task_id!r}: body larger than "
                        f"max_response_bytes ({max_bytes} bytes); not read further",
                        provider=provider,
                        task_id=task_id,
                    ) from None
            else:
                retry_after = response.headers.get("Retry-After")
                body = await _read_error_body(response)
    except asyncio.TimeoutError as exc:
        outcome = "timeout"
        raise RequestTimeoutError(
            f"{provider} task {task_id!r}: no complete answer within {timeout.total}s",
            provider=provider,
            task_id=task_id,
        ) from exc
    except aiohttp.ClientError as exc:
        outcome = type(exc).__name__
        raise TransportError(
            f"{provider} task {task_id!r}: connection failed ({type(exc).__name__}: "
            f"{redact(str(exc)) or 'no detail'})",
            provider=provider,
            task_id=task_id,
        ) from exc
    finally:
        if debug:
            logger.debug(
                "GET %s task %r -> %s in %.3fs (attempt %d)",
                provider,
                task_id,
                outcome,
                time.monotonic() - started,
                attempt_no,
                # One type per field: ``status`` is the HTTP status (int, as on
                # `APIError`) or None without an answer; ``outcome`` is always a str.
                extra={
                    "provider": provider,
                    "task_id": task_id,
                    "status": status,
                    "outcome": outcome,
                    "elapsed": time.monotonic() - started,
                    "attempt": attempt_no,
                },
            )

    if 200 <= status < 300:
        try:
            return adapter.decode_task(body, task_id)
        except SchemaError as exc:
            raise DecodeError(
                f"{provider} task {task_id!r}: answer does not fit the spec: {exc}",
                provider=provider,
                task_id=task_id,
            ) from exc
    raise _api_error(
        adapter, task_id, status=status, body=body, retry_after=retry_after, redact=redact
    )


def _api_error(
    adapter: ProviderAdapter,
    task_id: str,
    *,
    status: int,
    body: bytes,
    retry_after: str | None,
    redact: Redactor,
) -> APIError:
    info = adapter.decode_error(redact.body(body)) if body else None
    title = redact(info.title) if info else None
    detail = redact(info.detail) if info else None
    message = f"{adapter.name} task {task_id!r}: HTTP {status}"
    if title:
        message += f" {title}"
    if detail:
        message += f": {detail}"
    return api_error_for_status(status)(
        message,
        provider=adapter.name,
        task_id=task_id,
        status=status,
        title=title,
        detail=detail,
        body=info.body if info else None,
        retry_after=parse_retry_after(retry_after),
    )
