"""A Starlette service with one TaskBridge for its whole life.

The bridge is opened in the lifespan (one connection pool, one rate limiter per
provider, shared by every request) and closed at shutdown. ``GET /health`` reports
the configured providers and the service's counters; ``GET /tasks/{provider}/{id}``
answers one task as JSON, and stops fetching it when the client hangs up.

Try it against the sandbox (credentials come from the ``TASKBRIDGE_*`` variables)::

    pip install "aiotaskbridge[cli]" starlette uvicorn
    taskbridge sandbox --port 8080     # in another shell; paste the export lines it prints
    python examples/starlette_service.py --port 8000
    curl localhost:8000/health
    curl localhost:8000/tasks/cakewalk/00abd83b-3f9b-4e37-8840-2b87b3c1c069
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import attrs
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from taskbridge import (
    ConfigurationError,
    InvalidTaskIdError,
    TaskBridge,
    TaskBridgeError,
    TaskNotFoundError,
    UnifiedTask,
)

logger = logging.getLogger("taskbridge_service")
T = TypeVar("T")


@attrs.define
class Counters:
    """What the service has done since it started."""

    served: int = 0
    failed: int = 0
    cancelled: int = 0  # clients that hung up before their answer was ready
    in_flight: int = 0


class ClientGone(Exception):
    """The client disconnected; nobody is waiting for the answer any more."""


def json_response(content: Any, status_code: int = 200) -> Response:
    # orjson writes datetimes (ISO 8601), enums (their value) and UUIDs as they are.
    return Response(orjson.dumps(content), status_code, media_type="application/json")


def task_json(task: UnifiedTask[Any]) -> dict[str, Any]:
    """The unified fields, plus the provider's full typed record under ``detail``."""
    return attrs.asdict(task, recurse=True)


async def _disconnected(request: Request) -> None:
    """Return when the client closes its connection (the ASGI ``http.disconnect``)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it (and raising `ClientGone`) if the client hangs up."""
    job = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({job, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the server itself is cancelling this handler
        job.cancel()
        watcher.cancel()
        raise
    watcher.cancel()
    if job.done():
        return job.result()
    job.cancel()  # cancels the request in flight; the bridge stays usable
    await asyncio.gather(job, return_exceptions=True)
    raise ClientGone


async def health(request: Request) -> Response:
    bridge: TaskBridge = request.state.bridge
    counters: Counters = request.state.counters
    return json_response({"status": "ok", "providers": bridge.providers, **attrs.asdict(counters)})


async def get_task(request: Request) -> Response:
    bridge: TaskBridge = request.state.bridge
    counters: Counters = request.state.counters
    provider = request.path_params["provider"]
    task_id = request.path_params["task_id"]
    counters.in_flight += 1
    try:
        task = await unless_disconnected(request, bridge.get(provider, task_id))
    except ClientGone:
        counters.cancelled += 1
        logger.info("client went away: cancelled the fetch of %s %r", provider, task_id)
        return Response(status_code=499)  # nobody reads it
    except TaskBridgeError:
        counters.failed += 1
        raise  # answered by on_taskbridge_error below
    finally:
        counters.in_flight -= 1
    counters.served += 1
    return json_response(task_json(task))


async def on_taskbridge_error(request: Request, exc: Exception) -> Response:
    """Map the error tree onto HTTP: the caller's mistakes are 4xx, the provider's 502."""
    if isinstance(exc, (InvalidTaskIdError, ConfigurationError)):
        status = 400
    elif isinstance(exc, TaskNotFoundError):
        status = 404
    else:
        status = 502
    return json_response({"error": type(exc).__name__, "message": str(exc)}, status)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    # One bridge for the whole process; what is yielded becomes ``request.state``.
    async with TaskBridge.from_env() as bridge:
        logger.info("taskbridge ready: %s", ", ".join(bridge.providers))
        yield {"bridge": bridge, "counters": Counters()}
    logger.info("taskbridge closed")


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/tasks/{provider}/{task_id:path}", get_task),
    ],
    lifespan=lifespan,
    exception_handlers={TaskBridgeError: on_taskbridge_error},
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
