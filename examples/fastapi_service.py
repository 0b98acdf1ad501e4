"""A FastAPI service with one TaskBridge for its whole life and typed task answers.

The bridge is opened in the lifespan and reached through a `Depends` helper
(``get_bridge``); ``GET /tasks/{provider}/{id}`` answers `UnifiedTask.to_dict()`
data, whose JSON Schema (from `taskbridge.schema`) is in the OpenAPI document.

Try it against the sandbox (credentials come from the ``TASKBRIDGE_*`` variables)::

    pip install "aiotaskbridge[cli]" fastapi uvicorn
    taskbridge sandbox --port 8080     # in another shell; paste the export lines it prints
    uvicorn --app-dir examples fastapi_service:app --port 8000
    curl localhost:8000/tasks/cakewalk/00abd83b-3f9b-4e37-8840-2b87b3c1c069
    curl localhost:8000/openapi.json
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from taskbridge import (
    ConfigurationError,
    InvalidTaskIdError,
    TaskBridge,
    TaskBridgeError,
    TaskNotFoundError,
    UnifiedTask,
)
from taskbridge.schema import pydantic_task_type


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    # One bridge for the whole process; what is yielded becomes ``request.state``.
    async with TaskBridge.from_env() as bridge:
        yield {"bridge": bridge}


def get_bridge(request: Request) -> TaskBridge:
    """The application's bridge, for ``Depends``."""
    bridge: TaskBridge = request.state.bridge
    return bridge


Bridge = Annotated[TaskBridge, Depends(get_bridge)]

app = FastAPI(title="tasks", lifespan=lifespan)


@app.get("/tasks/{provider}/{task_id:path}", response_model=pydantic_task_type())
async def get_task(provider: str, task_id: str, bridge: Bridge) -> UnifiedTask[Any]:
    """One task, of any provider, as `UnifiedTask.to_dict()` data."""
    return await bridge.get(provider, task_id)


@app.exception_handler(TaskBridgeError)
async def on_taskbridge_error(request: Request, exc: TaskBridgeError) -> JSONResponse:
    """Map the error tree onto HTTP: the caller's mistakes are 4xx, the provider's 502."""
    if isinstance(exc, (InvalidTaskIdError, ConfigurationError)):
        status = 400
    elif isinstance(exc, TaskNotFoundError):
        status = 404
    else:
        status = 502
    return JSONResponse({"error": type(exc).__name__, "message": str(exc)}, status)
