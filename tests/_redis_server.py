"""A real ``redis-server`` on a free loopback port, for the RedisLimiter tests.

Skipped with a clear reason when the binary is absent, unless
``TASKBRIDGE_REQUIRE_REDIS=1`` (set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

REDIS_SERVER = shutil.which("redis-server")
_HINT = "redis-server is not installed (Debian: apt-get install -y redis-server)"


def require_redis_server() -> str:
    if REDIS_SERVER is None:
        if os.environ.get("TASKBRIDGE_REQUIRE_REDIS") == "1":
            pytest.fail(f"{_HINT}; TASKBRIDGE_REQUIRE_REDIS=1 makes this a failure")
        pytest.skip(_HINT)
    return REDIS_SERVER


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process (no persistence) that can be stopped and restarted
    on the same port, as a restart in production would."""

    def __init__(self, binary: str, port: int, workdir: str) -> None:
        self.binary = binary
        self.port = port
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{port}/0"
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await asyncio.wait_for(self._ready(), 10)

    async def _ready(self) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            try:
                writer.write(b"PING\r\n")
                if (await reader.readline()).startswith(b"+PONG"):
                    return
            finally:
                writer.close()
                await writer.wait_closed()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.kill()  # as abrupt as a crash: nothing saved, connections cut
        await asyncio.wait_for(proc.wait(), 10)


@pytest_asyncio.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    binary = require_redis_server()
    with tempfile.TemporaryDirectory() as workdir:
        server = RedisServer(binary, free_port(), workdir)
        await server.start()
        try:
            yield server
        finally:
            await server.stop()
