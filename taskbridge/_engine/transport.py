"""One HTTP attempt: send, read within bounds, and map the answer or the failure."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp

from .._base.errors import (
    ID_SHOWN,
    APIError,
    DecodeError,
    ProviderError,
    RequestTimeoutError,
    TransportError,
    api_error_for_status,
    show_id,
)
from .._base.models import UnifiedTask
from .._base.secrets import Redactor, sanitize_cause
from .._decode.errors import SchemaError
from ..providers._kit.base import ProviderAdapter
from .hooks import HookSet, RequestEvent, ResponseEvent, masked_headers
from .retry import parse_retry_after

__all__ = ["ERROR_BODY_LIMIT", "Redactor", "attempt", "show_id", "unexpected_error"]

logger = logging.getLogger("taskbridge")

ERROR_BODY_LIMIT = 64 * 1024


class _TooLargeError(Exception):
    pass


# The provider's own words (title, detail) as a message quotes them.
_TEXT_SHOWN = 200


def quote_text(text: str, task_id: str, limit: int = _TEXT_SHOWN) -> str:
    """``text`` (the provider's words, an exception's) as a message quotes it: a long id
    it echoes is cut after 80 characters, the whole after ``limit`` (the error's
    attributes keep the provider's words whole)."""
    if len(task_id) > ID_SHOWN and task_id in text:
        text = text.replace(task_id, f"{task_id[:ID_SHOWN]}...")
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text)} characters)"
    return text


def unexpected_error(
    provider: str, task_id: str, exc: Exception, redact: Redactor
) -> ProviderError:
    """A typed error for one ref's fetch that failed in a way nothing foresaw.

    The original is chained, sanitized, so a bug can still be found and reported.
    """
    error = ProviderError(
        f"{provider} task {show_id(task_id)}: unexpected {type(exc).__name__}: "
        f"{quote_text(redact.text(str(exc)), task_id, 500)}",
        provider=provider,
        task_id=task_id,
    )
    error.__cause__ = sanitize_cause(exc, redact)
    return error


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


async def attempt(  # noqa: PLR0912, PLR0915 - the exchange inline: one frame less per request
    session: aiohttp.ClientSession,
    adapter: ProviderAdapter,
    task_id: str,
    *,
    timeout: aiohttp.ClientTimeout,
    max_bytes: int,
    redact: Redactor,
    attempt_no: int,
    hooks: HookSet | None = None,
    extra_headers: dict[str, str] | None = None,
    answer: list[Any] | None = None,
) -> UnifiedTask[Any]:
    """Send one GET for ``task_id`` and return the task, or raise a `ProviderError`.

    Whatever goes wrong ends as a `ProviderError` whose ``__cause__`` (if any) was
    sanitized: no traceback, no request headers, no raw body. The headers are never
    bound to a local name here, so a traceback shown with its locals holds no secret.

    With ``hooks``, the attempt is told to them (`observed`); ``extra_headers`` go out
    beneath the provider's own, and ``answer`` receives the status and headers.
    """
    if hooks is not None:
        return await observed(
            hooks,
            session,
            adapter,
            task_id,
            timeout=timeout,
            max_bytes=max_bytes,
            redact=redact,
            attempt_no=attempt_no,
        )
    provider = adapter.name
    request = adapter.request(task_id)  # its repr leaves the headers out
    debug = logger.isEnabledFor(logging.DEBUG)
    started = time.monotonic() if debug else 0.0
    outcome = "error"
    status: int | None = None
    failure: TransportError | None = None
    body: bytes | None
    retry_after: str | None = None
    response_headers: Any = None
    response: Any = None  # its repr shows the answer's headers: dropped before raising
    try:
        # raise_for_status=False: a session built with raise_for_status=True must not
        # turn a 404 into a retried connection error; we classify statuses ourselves.
        async with session.get(
            request.url,
            headers=request.headers
            if extra_headers is None
            else {**extra_headers, **request.headers},
            allow_redirects=False,
            timeout=timeout,
            raise_for_status=False,
        ) as response:
            status = response.status
            if answer is not None:
                answer.append((status, response.headers))
            if 200 <= status < 300:
                length = response.content_length
                if (
                    length is not None
                    and length <= max_bytes
                    and "Content-Encoding" not in response.headers
                ):
                    body = await response.read()  # the common case, without _read's frame
                else:
                    try:
                        body = await _read(response, max_bytes)
                    except _TooLargeError:
                        body = None
            else:
                body = await _read_error_body(response)
                response_headers = response.headers
                retry_after = response_headers.get("Retry-After")
        if debug:
            outcome = str(status)
    except asyncio.TimeoutError as exc:
        outcome = "timeout"
        failure = RequestTimeoutError(
            f"{provider} task {show_id(task_id)}: no complete answer within {timeout.total}s",
            provider=provider,
            task_id=task_id,
        )
        failure.__cause__ = sanitize_cause(exc, redact)
    except Exception as exc:
        # aiohttp's ClientError above all, but also what it raises untyped (a session
        # closed by its owner is a RuntimeError): every one is this ref's failure.
        outcome = type(exc).__name__
        failure = TransportError(
            f"{provider} task {show_id(task_id)}: connection failed ({type(exc).__name__}: "
            f"{quote_text(redact.text(str(exc)), task_id, 500) or 'no detail'})",
            provider=provider,
            task_id=task_id,
        )
        failure.__cause__ = sanitize_cause(exc, redact)
    finally:
        if debug:
            logger.debug(
                "GET %s task %s -> %s in %.3fs (attempt %d)",
                provider,
                show_id(task_id),
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
    if failure is not None:
        # Raised outside the except block, so the original is not its __context__.
        response = None
        raise failure
    assert status is not None  # set with the answer, or failure is

    error: ProviderError
    if body is None:
        error = DecodeError(
            f"{provider} task {show_id(task_id)}: body larger than "
            f"max_response_bytes ({max_bytes} bytes); not read further",
            provider=provider,
            task_id=task_id,
        )
    elif 200 <= status < 300:
        try:
            decoded = adapter.decode_task(body, task_id)
        except Exception as exc:
            error = _decode_error(adapter, task_id, exc, redact)
        else:
            if isinstance(decoded, UnifiedTask):
                return decoded
            error = _decode_error(
                adapter,
                task_id,
                TypeError(f"decode_task returned {type(decoded).__name__}"),
                redact,
            )
    else:
        error = _api_error(
            adapter,
            task_id,
            status=status,
            body=body,
            retry_after=retry_after,
            redact=redact,
            headers=response_headers,
        )
    # The raw body and headers may quote a secret: no frame of the traceback keeps them.
    del body, response_headers, response
    if answer:
        answer[0] = (status, None)
    raise error


def _decode_error(
    adapter: ProviderAdapter, task_id: str, exc: Exception, redact: Redactor
) -> DecodeError:
    """The `DecodeError` for a body ``decode_task`` refused with ``exc``."""
    provider = adapter.name
    cause: SchemaError | None = None
    if isinstance(exc, SchemaError):
        # A fresh SchemaError with the same (masked) explanation: the original chains
        # the parser's errors, which hold the raw body (JSONDecodeError.doc) and values.
        cause = SchemaError(redact.text(str(exc)))
        reason = f"answer does not fit the spec: {cause}"
    elif isinstance(exc, RecursionError):
        reason = "answer nests too deeply to decode"
    else:
        # An adapter bug or a value no check foresaw: still this ref's DecodeError.
        reason = f"answer could not be decoded ({type(exc).__name__})"
    error = DecodeError(
        f"{provider} task {show_id(task_id)}: {reason}", provider=provider, task_id=task_id
    )
    error.__cause__ = cause
    return error


def _api_error(
    adapter: ProviderAdapter,
    task_id: str,
    *,
    status: int,
    body: bytes,
    retry_after: str | None,
    redact: Redactor,
    headers: Any,
) -> APIError:
    info = adapter.decode_error(redact.body(body)) if body else None
    title = redact(info.title) if info else None
    detail = redact(info.detail) if info else None
    parsed = redact.parsed(info.body) if info else None
    message = f"{adapter.name} task {show_id(task_id)}: HTTP {status}"
    if title:
        message += f" {quote_text(title, task_id)}"
    if detail:
        message += f": {quote_text(detail, task_id)}"
    return api_error_for_status(status)(
        message,
        provider=adapter.name,
        task_id=task_id,
        status=status,
        title=title,
        detail=detail,
        body=parsed,
        retry_after=parse_retry_after(retry_after),
        headers=masked_headers(headers, redact),
    )


def _public_url(url: Any, redact: Redactor) -> str:
    """The URL as events show it: no user info, known secrets masked."""
    if getattr(url, "user", None) is not None or getattr(url, "password", None) is not None:
        url = url.with_user(None)
    return redact.text(str(url))


async def observed(
    hooks: HookSet,
    session: aiohttp.ClientSession,
    adapter: ProviderAdapter,
    task_id: str,
    *,
    timeout: aiohttp.ClientTimeout,
    max_bytes: int,
    redact: Redactor,
    attempt_no: int,
) -> UnifiedTask[Any]:
    """`attempt`, told to ``hooks``: a `RequestEvent` before, a `ResponseEvent` after."""
    event = RequestEvent(
        adapter.name, task_id, _public_url(adapter.request(task_id).url, redact), attempt_no
    )
    hooks.request(event)
    answer: list[Any] = []
    started = time.perf_counter()
    try:
        task = await attempt(
            session,
            adapter,
            task_id,
            timeout=timeout,
            max_bytes=max_bytes,
            redact=redact,
            attempt_no=attempt_no,
            extra_headers={str(k): str(v) for k, v in event.headers.items()} or None,
            answer=answer,
        )
    except BaseException as exc:  # CancelledError too: the observer must see the end
        # The raw headers may quote a secret: the error's traceback keeps no frame of them.
        status = exc.status if isinstance(exc, APIError) else (answer[0][0] if answer else None)
        headers = exc.headers if isinstance(exc, APIError) else None
        answer.clear()
        elapsed = time.perf_counter() - started
        hooks.response(ResponseEvent(event, status, headers, exc, elapsed, redact))
        raise
    status, headers = answer[0]
    elapsed = time.perf_counter() - started
    hooks.response(ResponseEvent(event, status, headers, None, elapsed, redact))
    return task
