"""A sandbox served from a background thread, for code that blocks its caller's loop.

Sync test clients (Starlette's and FastAPI's ``TestClient``, Django's test client) and
sync code that calls ``asyncio.run`` block the thread they run in; a sandbox served on
that thread's loop would never answer. `BackgroundSandbox` runs its own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from ._server import Sandbox
from ._surface import SandboxSurface

__all__ = ["BackgroundSandbox"]

P = ParamSpec("P")
T = TypeVar("T")


class BackgroundSandbox(SandboxSurface):
    """A `Sandbox` on its own thread and event loop; use it as a (sync) context manager.

    Takes the keyword arguments of `Sandbox` and offers its methods (`answer`,
    `set_faults`, `add_task`, `config`, `env`, ...). Changes run on the sandbox's loop,
    so they are safe while it serves.

    Example:
        ```python
        with BackgroundSandbox(seed=1) as sb:
            os.environ.update(sb.env())  # your app builds TaskBridge.from_env()
            with TestClient(app) as client:
                assert client.get(f"/tasks/cakewalk/{sb.cakewalk_ids[0]}").status_code == 200
        ```
    """

    def __init__(self, *, start_timeout: float = 30.0, **options: Any) -> None:
        self.sandbox = Sandbox(**options)
        self.state = self.sandbox.state
        self._start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"<BackgroundSandbox {self.sandbox!r}>"

    @property
    def url(self) -> str:
        """The sandbox's origin, ``http://127.0.0.1:PORT``."""
        return self.sandbox.url

    @property
    def port(self) -> int:
        """The port listened on; ``RuntimeError`` before ``start``."""
        return self.sandbox.port

    def start(self) -> BackgroundSandbox:
        """Start the thread and wait (bounded) until the sandbox listens."""
        if self._thread is not None:
            raise RuntimeError("the sandbox is already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self._serve(loop, ready, failure))
            finally:
                ready.set()
                loop.close()

        self._thread = threading.Thread(target=run, name="taskbridge-sandbox", daemon=True)
        self._thread.start()
        if not ready.wait(self._start_timeout):
            raise RuntimeError(f"the sandbox did not start within {self._start_timeout}s")
        if failure:
            self._thread.join(self._start_timeout)
            self._thread = None
            raise failure[0]
        return self

    async def _serve(
        self, loop: asyncio.AbstractEventLoop, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        try:
            await self.sandbox.start()
        except BaseException as exc:
            failure.append(exc)
            return
        self._stop = asyncio.Event()
        self._loop = loop
        ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.sandbox.aclose()

    def close(self, timeout: float = 30.0) -> None:
        """Stop serving and join the thread (bounded by ``timeout``)."""
        thread, loop, stop = self._thread, self._loop, self._stop
        self._thread = self._loop = self._stop = None
        if thread is None or loop is None or stop is None:
            return
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the sandbox thread did not stop within {timeout}s")

    def __enter__(self) -> BackgroundSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _on_loop(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the sandbox's loop and return its result (bounded wait)."""
        loop = self._loop
        if loop is None:
            return fn(*args, **kwargs)  # not serving: nothing runs concurrently

        async def call() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(self._start_timeout)
