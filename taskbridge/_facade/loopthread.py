"""The private event loop behind `SyncTaskBridge`: one daemon thread, calls handed to it.

A `Runtime` is one process's loop thread and the `TaskBridge` that runs on it. Callers
from any thread hand it coroutines and block on the result (`Runtime.call`) or pull
results of an async iterator through a bounded buffer (`BlockingIterator`). Nothing can
block forever: if the loop thread dies, every waiting call and iterator is failed with
`BridgeClosedError` at once.

After ``os.fork()`` the child must not touch the parent's runtime: its sockets (and, with
TLS, a close would write a close_notify into the parent's connection) and its loop. The
loop polls with ``poll(2)``, which keeps no kernel state a child could share (an epoll
set is shared across fork), and a runtime left behind by a fork is kept alive for good
(`forsake`), so that no destructor ever runs on it in the child.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import os
import selectors
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from .._base.errors import BridgeClosedError, ConfigurationError

if TYPE_CHECKING:
    from .bridge import TaskBridge

__all__ = ["BlockingIterator", "Runtime", "forsake"]

T = TypeVar("T")

# How long close() (and the clean-up at interpreter exit) waits for the loop to finish.
STOP_TIMEOUT = 30.0


class _Pending(Protocol):
    def abort(self, error: BaseException) -> None: ...


def _new_loop() -> asyncio.AbstractEventLoop:
    if hasattr(selectors, "PollSelector"):
        return asyncio.SelectorEventLoop(selectors.PollSelector())
    return asyncio.new_event_loop()  # pragma: no cover - Windows: no fork either


class _Call:
    """A blocking call in flight: cancelled at once if the loop thread dies (the caller
    then raises the runtime's error; a cancelled future is what asyncio's chaining
    expects to find, an exception set from outside is not)."""

    __slots__ = ("future",)

    def __init__(self, future: concurrent.futures.Future[Any]) -> None:
        self.future = future

    def abort(self, error: BaseException) -> None:
        self.future.cancel()


class Runtime:
    """One process's private loop thread and the `TaskBridge` running on it."""

    def __init__(self, bridge: TaskBridge) -> None:
        self.pid = os.getpid()
        self.bridge = bridge
        self.loop = _new_loop()
        self.dead: BaseException | None = None  # why the loop thread ended, once it has
        self.stopping = False
        self.pending: set[_Pending] = set()
        self.thread = threading.Thread(target=self._serve, name="taskbridge-sync-loop", daemon=True)
        self.thread.start()
        atexit.register(self.stop_at_exit)

    def __repr__(self) -> str:
        state = "dead" if self.dead is not None else "running"
        return f"<taskbridge loop thread pid={self.pid} {state}>"

    def _serve(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        death: BaseException | None = None
        try:
            loop.run_forever()
        except BaseException as exc:  # a callback let SystemExit or the like escape
            death = exc
        self.dead = death or BridgeClosedError("this SyncTaskBridge is closed")
        error = self.error()
        for pending in list(self.pending):
            pending.abort(error)
        if not self.stopping:  # died: still close the session, cancel what is left
            with contextlib.suppress(BaseException):
                loop.run_until_complete(self._shutdown(stop=False))
        with contextlib.suppress(BaseException):
            loop.close()

    async def _shutdown(self, *, stop: bool = True) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self.bridge.aclose()
        finally:
            others = [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await loop.shutdown_asyncgens()
            await loop.shutdown_default_executor()  # the resolver's threads
            if stop:
                loop.stop()

    def error(self) -> BridgeClosedError:
        """The error of a call that found the loop thread ended."""
        if isinstance(self.dead, BridgeClosedError) or self.dead is None:
            return BridgeClosedError("this SyncTaskBridge is closed")
        error = BridgeClosedError(
            f"this SyncTaskBridge's event loop thread died: {type(self.dead).__name__}"
        )
        error.__cause__ = self.dead
        return error

    def check_caller(self) -> None:
        """Refuse a call that would wait on the loop from the loop's own thread."""
        if threading.get_ident() == self.thread.ident:
            raise ConfigurationError(
                "a SyncTaskBridge cannot be called from its own callbacks (until=, "
                "on_result=), which run on its event loop: it would wait for itself"
            )

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        try:
            return asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:  # the loop closed meanwhile
            coro.close()
            raise self.error() from None

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and return its result; a KeyboardInterrupt (or any
        other exception raised while waiting) cancels it there and propagates at once."""
        if threading.get_ident() == self.thread.ident:
            coro.close()
            self.check_caller()
        future = self.submit(coro)
        call = _Call(future)
        self.pending.add(call)
        try:
            if self.dead is not None:  # died before it could see this call
                call.abort(self.dead)
            return future.result()
        except concurrent.futures.CancelledError:
            if self.dead is not None or self.stopping:  # not the caller's own cancel
                error = self.error()
                raise error from error.__cause__
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            self.pending.discard(call)

    def stop(self, *, wait: bool = True) -> None:
        """Close the bridge on the loop, then stop the loop and its thread."""
        if self.stopping or self.pid != os.getpid():
            return
        if wait:
            self.check_caller()
        self.stopping = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop_at_exit)
        if self.dead is not None:
            return
        try:
            self.submit(self._shutdown())
        except BridgeClosedError:
            return
        if wait:  # the thread ends once the loop is closed
            self.thread.join(STOP_TIMEOUT)

    def stop_at_exit(self) -> None:
        """At interpreter exit: close a bridge nobody closed (no "Unclosed" warnings)."""
        if self.pid == os.getpid():
            self.stop()


# Runtimes a fork left behind in this process; see `forsake`.
_FORSAKEN: list[Runtime] = []


def forsake(runtime: Runtime) -> None:
    """In a forked child: let go of the parent's runtime without touching it, ever.

    Its thread did not survive the fork, and its sockets are the parent's. Kept in a
    list that lives as long as the process, with one extra reference, so that not even
    interpreter exit runs its destructors (an aiohttp connector would close its
    connections, and a TLS close writes into the parent's stream).
    """
    _FORSAKEN.append(runtime)
    with contextlib.suppress(Exception):
        atexit.unregister(runtime.stop_at_exit)
    try:
        import ctypes

        ctypes.pythonapi.Py_IncRef(ctypes.py_object(_FORSAKEN))
    except Exception:  # pragma: no cover - no ctypes: module teardown may free them
        pass


class _Channel(Generic[T]):
    """What a `BlockingIterator` and its pump on the loop share (the pump must not hold
    the iterator, so that dropping the iterator can cancel the pump)."""

    def __init__(self, runtime: Runtime, source: AsyncIterator[T], limit: int) -> None:
        self.runtime = runtime
        self.source: AsyncIterator[T] | None = source
        self.items: collections.deque[T] = collections.deque()
        self.cond = threading.Condition(threading.Lock())
        self.limit = limit
        self.done = False  # no more items will come
        self.finished = False  # the pump has ended (its requests are cancelled)
        self.cancelled = False
        self.error: BaseException | None = None
        self.room: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    def abort(self, error: BaseException) -> None:
        with self.cond:
            if not self.done:
                self.done, self.error = True, error
            self.finished = True
            self.cond.notify_all()

    def launch(self) -> None:
        """On the loop: start the pump (unless cancelled first)."""
        source, self.source = self.source, None
        if self.cancelled or source is None:
            self.abort(BridgeClosedError("this iterator is closed"))
            return
        self.task = self.runtime.loop.create_task(self.pump(source))
        self.task.add_done_callback(self._ended)

    def cancel(self) -> None:
        """From any thread: cancel the pump and what it has in flight."""
        self.cancelled = True
        with contextlib.suppress(RuntimeError):  # a closed loop has nothing left to stop
            self.runtime.loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.runtime.pending.discard(self)
        with self.cond:
            self.done = self.finished = True
            self.cond.notify_all()

    async def pump(self, source: AsyncIterator[T]) -> None:
        loop = asyncio.get_running_loop()
        error: BaseException | None = None
        try:
            async for item in source:
                with self.cond:
                    self.items.append(item)
                    self.cond.notify()
                    full = len(self.items) >= self.limit
                    if full:
                        room = self.room = loop.create_future()
                if full:
                    await room
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # delivered to the consumer, after what came first
            error = exc
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            with self.cond:
                self.done = True
                if self.error is None:
                    self.error = error
                self.cond.notify_all()


def _wake(room: asyncio.Future[None]) -> None:
    if not room.done():
        room.set_result(None)


class BlockingIterator(Generic[T]):
    """A plain iterator over an async iterator run on the loop thread.

    Items are read ahead into a buffer of at most ``limit``. Leaving a ``for`` loop early
    (the iterator is then dropped), `close`, or an exception (a KeyboardInterrupt) while
    waiting cancels the async iterator on the loop, and with it its requests.
    """

    def __init__(self, runtime: Runtime, source: AsyncIterator[T], limit: int = 256) -> None:
        self._runtime = runtime
        self._channel: _Channel[T] = _Channel(runtime, source, limit)
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<taskbridge BlockingIterator buffered={len(self._channel.items)}>"

    def __iter__(self) -> BlockingIterator[T]:
        return self

    def __enter__(self) -> BlockingIterator[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        runtime = self._runtime
        runtime.check_caller()
        channel = self._channel
        runtime.pending.add(channel)
        self._started = True
        try:
            runtime.loop.call_soon_threadsafe(channel.launch)
        except RuntimeError:  # the loop closed meanwhile
            channel.abort(runtime.error())
        if runtime.dead is not None:
            channel.abort(runtime.error())

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        if self._runtime.pid != os.getpid():
            raise BridgeClosedError(
                "this iterator was made before os.fork(): its loop is the parent's; "
                "call stream() or watch() again in this process"
            )
        if not self._started:
            self._start()
        channel = self._channel
        try:
            with channel.cond:
                while not channel.items and not channel.done:
                    channel.cond.wait()
                if channel.items:
                    item = channel.items.popleft()
                    room = channel.room
                    if room is not None and len(channel.items) <= channel.limit // 2:
                        channel.room = None
                        self._runtime.loop.call_soon_threadsafe(_wake, room)
                    return item
                error, channel.error = channel.error, None
        except BaseException:
            self.close()
            raise
        self._closed = True
        if error is not None:
            raise error
        raise StopIteration

    def close(self, *, wait: bool = True) -> None:
        """Stop now: what is still in flight is cancelled (waits until it is)."""
        if self._closed:
            return
        self._closed = True
        channel = self._channel
        if not self._started:
            channel.source = None
            return
        if self._runtime.pid != os.getpid():
            return
        channel.cancel()
        if wait and threading.get_ident() != self._runtime.thread.ident:
            with channel.cond:
                channel.cond.wait_for(lambda: channel.finished, STOP_TIMEOUT)

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close(wait=False)
