"""An aiohttp.web service with one TaskBridge for its whole life.

The bridge lives in a ``cleanup_ctx``: opened at startup, closed at shutdown, stored
under a typed ``web.AppKey``. Credentials come from the ``TASKBRIDGE_*`` variables::

    taskbridge sandbox --port 8080     # in another shell; paste the export lines it prints
    python examples/aiohttp_service.py --port 8000
    curl localhost:8000/tasks/alumio/order-export-529368
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import attrs
import orjson
from aiohttp import web

from taskbridge import (
    ConfigurationError,
    InvalidTaskIdError,
    TaskBridge,
    TaskBridgeError,
    TaskNotFoundError,
)

BRIDGE = web.AppKey("bridge", TaskBridge)
logger = logging.getLogger("taskbridge_service")


async def bridge_ctx(app: web.Application) -> AsyncIterator[None]:
    async with TaskBridge.from_env() as bridge:
        app[BRIDGE] = bridge
        yield


def json_response(content: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(content), status=status, content_type="application/json")


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "providers": request.app[BRIDGE].providers})


async def get_task(request: web.Request) -> web.Response:
    provider = request.match_info["provider"]
    task_id = request.match_info["task_id"]
    try:
        task = await request.app[BRIDGE].get(provider, task_id)
    except asyncio.CancelledError:  # the client hung up (with handler_cancellation=True)
        logger.info("client went away: cancelled the fetch of %s %r", provider, task_id)
        raise
    except (InvalidTaskIdError, ConfigurationError) as exc:
        return json_response({"error": type(exc).__name__, "message": str(exc)}, 400)
    except TaskNotFoundError as exc:
        return json_response({"error": type(exc).__name__, "message": str(exc)}, 404)
    except TaskBridgeError as exc:
        return json_response({"error": type(exc).__name__, "message": str(exc)}, 502)
    return json_response(attrs.asdict(task, recurse=True))


def create_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(bridge_ctx)
    app.router.add_get("/health", health)
    app.router.add_get("/tasks/{provider}/{task_id:.+}", get_task)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # handler_cancellation: a client that hangs up cancels its handler, and with it
    # the fetch in flight (aiohttp >= 3.9 leaves handlers running by default).
    web.run_app(create_app(), host=args.host, port=args.port, handler_cancellation=True)


if __name__ == "__main__":
    main()
