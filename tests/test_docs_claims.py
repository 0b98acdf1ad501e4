"""The docs' behavioural claims, run: each test quotes its claim and the file it is in.

A claim that stops holding fails here, so the docs cannot drift from the code. The CLI's
pipe claims (``| head``) and usage-error lines are tested with the CLI.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from taskbridge import (
    AlumioConfig,
    BatchTimeoutError,
    CakewalkConfig,
    InvalidTaskIdError,
    QueueTimeoutError,
    RetryPolicy,
    TaskBridge,
    TaskNotFoundError,
    TaskRef,
    TaskResult,
    WaitTimeoutError,
)
from taskbridge.sandbox import Faults, Lifecycle, Sandbox

ROOT = Path(__file__).resolve().parents[1]


def claimed(path: str, text: str) -> None:
    """The claim is still written in ``path`` (word-wrapped as it may be)."""
    written = " ".join((ROOT / path).read_text(encoding="utf-8").split())
    assert " ".join(text.split()) in written, f"{path} no longer says: {text}"


def outcome(result: TaskResult) -> str:
    return "ok" if result.ok else type(result.error).__name__


@pytest.fixture
async def slow_sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=1, faults=Faults(latency=1.0)) as sb:
        yield sb


def shedding_bridge(sb: Sandbox) -> TaskBridge:
    return TaskBridge(cakewalk=sb.cakewalk_config(max_concurrency=1, max_queue_wait=0.2))


async def test_max_queue_wait_sheds_get(slow_sandbox: Sandbox) -> None:
    """docs/guides/options.md: "a request that would wait longer for a slot, a pause or
    the rate limiter fails with QueueTimeoutError (a ProviderError, never retried, never
    sent)"."""
    claimed("docs/guides/options.md", "a request that would wait longer for a slot, a pause or")
    ids = slow_sandbox.cakewalk_ids[:3]
    async with shedding_bridge(slow_sandbox) as bridge:
        results = await asyncio.gather(
            *(bridge.get("cakewalk", i) for i in ids), return_exceptions=True
        )
        kinds = sorted(type(r).__name__ for r in results)
        assert kinds == ["QueueTimeoutError", "QueueTimeoutError", "UnifiedTask"]
        assert bridge.stats().providers["cakewalk"].queue_timeouts == 2
    assert slow_sandbox.stats.cakewalk.requests == 1  # the shed ones were never sent


@pytest.mark.parametrize("call", ["get_many", "stream"])
async def test_max_queue_wait_in_a_batch_is_on_the_items_result(
    slow_sandbox: Sandbox, call: str
) -> None:
    """docs/guides/options.md: "In a batch it is on the item's result: a ref of get_many
    is queued from the call on, a ref of stream from when the stream reads it, and one
    whose turn [...] comes later than max_queue_wait fails without being sent";
    "stats().queue_timeouts counts each of them"."""
    claimed("docs/guides/options.md", "In a batch it is on the item's result")
    claimed("docs/guides/options.md", "`stats().queue_timeouts` counts each of them")
    refs = [TaskRef("cakewalk", i) for i in slow_sandbox.cakewalk_ids[:3]]
    async with shedding_bridge(slow_sandbox) as bridge:
        if call == "get_many":
            results = await bridge.get_many(refs)
        else:
            results = [r async for r in bridge.stream(refs)]
        assert [outcome(r) for r in results] == ["ok", "QueueTimeoutError", "QueueTimeoutError"]
        assert all(isinstance(r.error, QueueTimeoutError) for r in results[1:])
        assert bridge.stats().providers["cakewalk"].queue_timeouts == 2
    assert slow_sandbox.stats.cakewalk.requests == 1


async def test_messages_cut_long_ids_after_80_characters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/concepts/providers.md: "Identifiers longer than 1,024 characters are an
    InvalidTaskIdError; messages and log lines cut ids after 80 characters" (also
    SECURITY.md) -- the provider's echo of the id in its error detail included."""
    claimed("docs/concepts/providers.md", "messages and log lines cut ids after 80 characters")
    claimed("SECURITY.md", "messages and logs cut ids after 80 characters")
    long_id, too_long = "x" * 1024, "y" * 1025
    caplog.set_level(logging.DEBUG, logger="taskbridge")
    async with Sandbox(seed=1) as sb, TaskBridge(alumio=sb.alumio_config()) as bridge:
        with pytest.raises(TaskNotFoundError) as missing:
            await bridge.get("alumio", long_id)
        with pytest.raises(InvalidTaskIdError) as invalid:
            await bridge.get("alumio", too_long)
    for error, task_id in ((missing.value, long_id), (invalid.value, too_long)):
        message = str(error)
        assert len(message) < 300, message
        assert task_id[:80] in message and task_id[:81] not in message
    assert missing.value.detail is not None and long_id in missing.value.detail  # kept whole
    logged = [r.getMessage() for r in caplog.records]
    assert any(long_id[:80] in line for line in logged)  # the request was logged ...
    assert not any(long_id[:81] in line or too_long[:81] in line for line in logged)


async def test_timeouts_and_shedding_cut_long_ids_too() -> None:
    """docs/concepts/providers.md: "messages and log lines cut ids after 80 characters":
    a wait that times out, a request shed by max_queue_wait, a batch's deadline."""
    first, second = "a" * 1024, "b" * 1024
    frozen = Lifecycle(speed=0)  # tasks never finish
    async with Sandbox(seed=1, any_id=True, lifecycle=frozen, faults=Faults(latency=0.5)) as sb:
        config = sb.alumio_config(max_concurrency=1, max_queue_wait=0.1)
        async with TaskBridge(alumio=config) as bridge:
            with pytest.raises(WaitTimeoutError) as waited:
                await bridge.wait("alumio", first, timeout=0.2)
            both = await asyncio.gather(
                bridge.get("alumio", first), bridge.get("alumio", second), return_exceptions=True
            )
            (late,) = await bridge.get_many([("alumio", first)], timeout=0.1)
    shed = next(r for r in both if isinstance(r, QueueTimeoutError))
    assert isinstance(late.error, BatchTimeoutError)
    for error in (waited.value, shed, late.error):
        message = str(error)
        assert len(message) < 300, message
        assert ("a" * 80 in message or "b" * 80 in message) and "a" * 81 not in message
        assert "b" * 81 not in message


def written_defaults(text: str) -> dict[str, object]:
    """``name=value`` pairs of a signature as a page writes it: ``(a, *, b=16, c=None)``."""
    found = re.findall(r"(\w+)=(\"[^\"]*\"|[\w.]+)", text)
    return {name: ast.literal_eval(value) for name, value in found}


def defaults(call: object) -> dict[str, object]:
    parameters = inspect.signature(call).parameters.values()  # type: ignore[arg-type]
    return {p.name: p.default for p in parameters if p.default is not p.empty}


@pytest.mark.parametrize(
    ("cls", "row"),
    [
        pytest.param(CakewalkConfig, "`cakewalk` |", id="CakewalkConfig"),
        pytest.param(AlumioConfig, "`alumio` |", id="AlumioConfig"),
        pytest.param(RetryPolicy, "`retry` |", id="RetryPolicy"),
    ],
)
def test_the_getting_started_table_gives_the_real_defaults(cls: type, row: str) -> None:
    """docs/getting-started.md, the arguments table: e.g. "CakewalkConfig(api_key,
    api_secret, *, base_url="https://open-api.getcakewalk.io", max_concurrency=16,
    requests_per_minute=1000)"."""
    page = (ROOT / "docs/getting-started.md").read_text(encoding="utf-8")
    (line,) = [line for line in page.splitlines() if line.startswith(f"| {row}")]
    written = written_defaults(line.split(cls.__name__, 1)[1] if cls is not RetryPolicy else line)
    assert written, line
    real = defaults(cls)
    assert {name: real[name] for name in written} == written


def test_the_bridge_defaults_are_the_documented_ones() -> None:
    """docs/getting-started.md: "| `timeout` | `30.0` | seconds per attempt" and
    "| `max_response_bytes` | 10 MiB |"; docs/guides/rate-limits.md: "`max_concurrency`
    (requests in flight at once, 16 by default)"."""
    claimed("docs/getting-started.md", "| `timeout` | `30.0` | seconds per attempt")
    claimed("docs/getting-started.md", "| `max_response_bytes` | 10 MiB |")
    claimed("docs/guides/rate-limits.md", "(requests in flight at once, 16 by default)")
    real = defaults(TaskBridge)
    assert (real["timeout"], real["max_response_bytes"]) == (30.0, 10 * 1024 * 1024)
    assert defaults(CakewalkConfig)["max_concurrency"] == 16
    assert defaults(AlumioConfig)["max_concurrency"] == 16


def test_max_queue_wait_defaults_to_none() -> None:
    """docs/guides/options.md: "max_queue_wait (seconds, on CakewalkConfig and
    AlumioConfig, default None)"."""
    claimed("docs/guides/options.md", "[`AlumioConfig`][taskbridge.AlumioConfig], default `None`")
    assert CakewalkConfig("key", "secret").max_queue_wait is None
    assert AlumioConfig("https://example.invalid", token="token").max_queue_wait is None


def cli(
    *args: str, stdin: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command line with no ``TASKBRIDGE_*`` variable but those in ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TASKBRIDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "taskbridge.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**environ, **(env or {})},
        timeout=60,
        check=False,
    )


def test_get_many_exits_1_when_some_failed() -> None:
    """docs/guides/cli.md: "Exit status: 0 all fetched, 1 some failed"."""
    claimed("docs/guides/cli.md", "Exit status: 0 all fetched, 1 some failed")
    missing = "00000000-0000-4000-8000-000000000000"
    sb = Sandbox(seed=1)  # the seed `--sandbox` serves; only its ids are read (not started)
    good = sb.cakewalk_ids[0]
    assert cli("get-many", "--sandbox", "--summary", stdin=f"cakewalk {good}\n").returncode == 0
    both = f"cakewalk {good}\ncakewalk {missing}\n"
    assert cli("get-many", "--sandbox", "--summary", stdin=both).returncode == 1


def test_wait_exits_1_when_the_task_cannot_be_fetched() -> None:
    """docs/guides/cli.md: "wait exits 0 when the task succeeded, 1 when it ended
    otherwise (failed, rejected, cancelled, skipped) or could not be fetched"."""
    claimed("docs/guides/cli.md", "1 when it ended otherwise (failed, rejected, cancelled,")
    missing = "00000000-0000-4000-8000-000000000000"
    assert cli("wait", "--sandbox", "cakewalk", missing, stdin="").returncode == 1


def test_a_configuration_error_exits_2() -> None:
    """docs/guides/cli.md: "2 usage or configuration error"."""
    claimed("docs/guides/cli.md", "2 usage or configuration error")
    result = cli("get-many", stdin="alumio some-task\n", env={})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
