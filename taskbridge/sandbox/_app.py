"""The aiohttp.web handlers: both task endpoints, their errors and the injected faults."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import unquote

import orjson
from aiohttp import web

from ._faults import Outcome, format_retry_after
from ._state import SandboxState
from ._stats import ProviderStats

__all__ = ["STATE_KEY", "create_app"]

STATE_KEY = web.AppKey("taskbridge_sandbox_state", SandboxState)
STATS_PATH = "/_sandbox/stats"
_PREFIXES = (("/api/v1/Tasks/", "cakewalk"), ("/api/v1/tasks/", "alumio"))
_PROBLEM_TYPES = {
    401: ("https://tools.ietf.org/html/rfc9110#section-15.5.2", "Unauthorized"),
    404: ("https://tools.ietf.org/html/rfc9110#section-15.5.5", "Not Found"),
    429: ("https://tools.ietf.org/html/rfc6585#section-4", "Too Many Requests"),
    500: (
        "https://tools.ietf.org/html/rfc9110#section-15.6.1",
        "An error occurred while processing your request.",
    ),
}
_GATEWAY_REASONS = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def _equal(given: str | None, expected: str) -> bool:
    if given is None:
        return False
    return hmac.compare_digest(given.encode(errors="replace"), expected.encode())


class _Handlers:
    """Answers requests from one ``SandboxState``."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        # The raw path is the only place where "%2F" is still told apart from "/".
        path = request.raw_path.partition("?")[0]
        if path == STATS_PATH:
            return web.Response(
                body=orjson.dumps(self.state.stats.as_dict()), content_type="application/json"
            )
        stats = self.state.stats
        stats.total += 1
        for prefix, provider in _PREFIXES:
            if path.startswith(prefix):
                counters = stats[provider]
                stats._begin(counters)
                try:
                    return await self._answer(request, provider, path, prefix, counters)
                finally:
                    counters.in_flight -= 1
        return web.Response(status=404, text="404: Not Found")

    async def _answer(
        self,
        request: web.Request,
        provider: str,
        path: str,
        prefix: str,
        counters: ProviderStats,
    ) -> web.StreamResponse:
        state = self.state
        tail = path[len(prefix) :]
        if not tail or "/" in tail:
            return self._error(provider, 404, path, "No route matches this path.")
        task_id = unquote(tail)
        state.stats._record(provider, counters, task_id)
        if not self._authorized(provider, request):
            return self._error(provider, 401, path, _AUTH_DETAIL[provider])
        scripted = state.scripted(provider, task_id)
        if scripted is not None and not 200 <= scripted.status < 300:
            return self._error(
                provider, scripted.status, path, scripted.detail, scripted.retry_after
            )
        decision, wait = state.draw(provider, task_id)
        if decision is not None and decision.delay:
            await state.sleep(decision.delay)
        if wait is not None:
            detail = f"Rate limit exceeded. Retry after {wait} seconds."
            return self._error(provider, 429, path, detail, retry_after=wait)
        malformed = False
        if decision is not None and decision.outcome is not Outcome.OK:
            outcome = decision.outcome
            if outcome is Outcome.DROP:
                return _drop(request)
            faults = state.faults(provider)
            if outcome is Outcome.RATE_LIMITED:
                detail = "Too many requests."
                return self._error(provider, 429, path, detail, retry_after=faults.retry_after)
            if outcome is Outcome.ERROR:
                retry = faults.error_retry_after if decision.status == 503 else None
                return self._error(provider, decision.status, path, "Injected failure.", retry)
            malformed = True
        served = state.lookup(provider, task_id)
        if served is not None and served.space:
            space = request.query.get("space")
            if space and space != served.space:
                served = None
        if served is None:
            return self._error(provider, 404, path, _not_found_detail(provider, task_id))
        body = served.body[: len(served.body) // 2] if malformed else served.body
        return web.Response(body=body, content_type=served.content_type, charset=served.charset)

    def _authorized(self, provider: str, request: web.Request) -> bool:
        credentials = self.state.credentials
        headers = request.headers
        if provider == "cakewalk":
            key_ok = _equal(headers.get("X-API-KEY"), credentials.cakewalk_api_key)
            secret_ok = _equal(headers.get("X-API-SECRET"), credentials.cakewalk_api_secret)
            return key_ok and secret_ok
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and _equal(token.strip(), credentials.alumio_token)

    def _error(
        self,
        provider: str,
        status: int,
        instance: str,
        detail: str,
        retry_after: float | None = None,
    ) -> web.Response:
        headers = {} if retry_after is None else {"Retry-After": format_retry_after(retry_after)}
        if status in _GATEWAY_REASONS:
            return web.Response(
                status=status, text=_gateway_page(status), content_type="text/html", headers=headers
            )
        if provider == "cakewalk":
            kind, title = _PROBLEM_TYPES.get(status, _PROBLEM_TYPES[500])
            trace = hashlib.blake2b(
                f"{self.state.seed}:{self.state.stats.total}".encode(), digest_size=24
            ).hexdigest()
            problem = {
                "type": kind,
                "title": title,
                "status": status,
                "detail": detail,
                "instance": instance,
                "traceId": f"00-{trace[:32]}-{trace[32:]}-00",
            }
            return web.Response(
                status=status,
                body=orjson.dumps(problem),
                content_type="application/problem+json",
                charset="utf-8",
                headers=headers,
            )
        error = {
            "status": str(status),
            "type": "https://tools.ietf.org/html/rfc2616#section-10",
            "title": "An error occurred",
            "detail": detail,
            "violations": [],
        }
        return web.Response(
            status=status,
            body=orjson.dumps(error),
            content_type="application/json",
            headers=headers,
        )


_AUTH_DETAIL = {
    "cakewalk": "The X-API-KEY or X-API-SECRET header is missing or invalid.",
    "alumio": "Invalid or missing API token.",
}


def _not_found_detail(provider: str, task_id: str) -> str:
    if provider == "cakewalk":
        return f"Task with id '{task_id}' was not found."
    return f'Task "{task_id}" not found.'


def _gateway_page(status: int) -> str:
    title = f"{status} {_GATEWAY_REASONS[status]}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


def _drop(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.close()
    # Writing this to the closed transport fails quietly: aiohttp takes it for a
    # client that went away, so nothing is sent and nothing is logged as an error.
    return web.Response(status=204)


def create_app(state: SandboxState | None = None) -> web.Application:
    """Build the sandbox's ``aiohttp.web.Application``, for aiohttp's own test server.

    The state is reachable as ``app[STATE_KEY]``. ``GET /_sandbox/stats`` answers the
    counters as JSON, for a sandbox running in another process.
    """
    state = state if state is not None else SandboxState()
    app = web.Application()
    app[STATE_KEY] = state
    handlers = _Handlers(state)
    app.router.add_get("/{tail:.*}", handlers.dispatch, allow_head=False)

    async def wake(_: web.Application) -> None:
        state.wake_all()

    app.on_shutdown.append(wake)
    return app
