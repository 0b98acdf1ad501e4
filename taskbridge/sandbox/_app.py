"""The aiohttp.web handlers: each emulated endpoint, its errors and the injected faults."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote

import orjson
from aiohttp import web

from ._faults import Outcome, format_retry_after
from ._state import SandboxState
from ._stats import ProviderStats
from ._webhooks import PROVIDER as WEBHOOK_PROVIDER
from ._webhooks import WebhookFaults, WebhookSender

__all__ = ["STATE_KEY", "create_app"]

STATE_KEY = web.AppKey("taskbridge_sandbox_state", SandboxState)
STATS_PATH = "/_sandbox/stats"
KEYS_PATH = "/api/Keys"
WEBHOOKS_PATH = "/_sandbox/webhooks"
_GATEWAY_REASONS = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


class _Handlers:
    """Answers requests from one ``SandboxState``."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.prefixes = tuple((e.prefix, name) for name, e in state.emulators.items())

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        # The raw path is the only place where "%2F" is still told apart from "/".
        path = request.raw_path.partition("?")[0]
        if path == STATS_PATH:
            return web.Response(
                body=orjson.dumps(self.state.stats.as_dict()), content_type="application/json"
            )
        stats = self.state.stats
        stats.total += 1
        if path == KEYS_PATH and WEBHOOK_PROVIDER in self.state.emulators:
            return self._keys(request)
        for prefix, provider in self.prefixes:
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
            return self._error(provider, 401, path, state.emulators[provider].auth_failure)
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
            return self._error(provider, 404, path, state.emulators[provider].not_found(task_id))
        body = served.body[: len(served.body) // 2] if malformed else served.body
        return web.Response(body=body, content_type=served.content_type, charset=served.charset)

    def _keys(self, request: web.Request) -> web.Response:
        """``GET /api/Keys``: the webhooks' public key, with the tasks' authentication."""
        if not self._authorized(WEBHOOK_PROVIDER, request):
            detail = self.state.emulators[WEBHOOK_PROVIDER].auth_failure
            return self._error(WEBHOOK_PROVIDER, 401, KEYS_PATH, detail)
        try:
            body = self.state.webhooks.keys_body()
        except RuntimeError as exc:  # the webhooks extra is not installed
            return web.Response(status=501, text=str(exc))
        return web.Response(body=body, content_type="application/json")

    async def webhooks(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/webhooks {"url": ..., "bad_signature": ..., "duplicate": ...,
        "delay": ...}``: where (and how) to send the webhooks; ``{"url": null}`` stops."""
        try:
            given = orjson.loads(await request.read())
            url = given.get("url")
            faults = WebhookFaults(
                bad_signature=bool(given.get("bad_signature", False)),
                duplicate=bool(given.get("duplicate", False)),
                delay=float(given.get("delay", 0.0)),
            )
            if url is not None and not isinstance(url, str):
                raise TypeError("url must be a string or null")
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
            return web.Response(status=400, text=f"bad webhook settings: {exc}")
        try:
            self.state.webhooks.configure(url, faults)
        except RuntimeError as exc:
            return web.Response(status=501, text=str(exc))
        return web.Response(status=204)

    def _authorized(self, provider: str, request: web.Request) -> bool:
        state = self.state
        return state.emulators[provider].authorized(request.headers, state.credentials_of(provider))

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
        trace = hashlib.blake2b(
            f"{self.state.seed}:{self.state.stats.total}".encode(), digest_size=24
        ).hexdigest()
        emulator = self.state.emulators[provider]
        body, content_type, charset = emulator.error(status, instance, detail, trace)
        return web.Response(
            status=status,
            body=body,
            content_type=content_type,
            charset=charset,
            headers=headers,
        )


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
    counters as JSON, for a sandbox running in another process; ``GET /api/Keys`` the
    webhooks' public key, and ``POST /_sandbox/webhooks`` sets where they go.
    """
    state = state if state is not None else SandboxState()
    app = web.Application()
    app[STATE_KEY] = state
    handlers = _Handlers(state)
    app.router.add_post(WEBHOOKS_PATH, handlers.webhooks)
    app.router.add_get("/{tail:.*}", handlers.dispatch, allow_head=False)
    if state.webhooks is None:
        state.webhooks = WebhookSender(state)

    async def start_webhooks(_: web.Application) -> None:
        if state.webhook_url is not None:
            state.webhooks.configure(state.webhook_url)

    async def wake(_: web.Application) -> None:
        state.wake_all()
        await state.webhooks.close()

    app.on_startup.append(start_webhooks)
    app.on_shutdown.append(wake)
    return app
