"""``taskbridge webhooks listen``: a real process receiving the sandbox's webhooks."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from taskbridge.sandbox import Lifecycle, Sandbox


async def read_line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), 30)).decode().rstrip("\n")


async def test_listen_registers_with_the_sandbox_and_prints_each_verified_event() -> None:
    async with Sandbox(seed=2, tasks_per_provider=2, lifecycle=Lifecycle(speed=0)) as sb:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "taskbridge",
            "webhooks",
            "listen",
            "--port",
            "0",
            "--sandbox",
            sb.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert process.stdout is not None and process.stderr is not None
            banner = await read_line(process.stdout)
            assert banner.startswith("taskbridge webhooks listening on http://127.0.0.1:")
            assert "registered with the sandbox" in await read_line(process.stderr)
            sb.advance(16.0)
            lines = {await read_line(process.stdout) for _ in sb.cakewalk_ids}
            assert lines == {f"action_task.actionable cakewalk {t}" for t in sb.cakewalk_ids}
        finally:
            process.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(process.wait(), 30)
    assert code == 130
    assert sorted(s for _, s in sb.webhook_deliveries) == [204, 204]


def test_listen_without_a_key_source_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from taskbridge.cli import main

    for name in ("TASKBRIDGE_CAKEWALK_API_KEY", "TASKBRIDGE_CAKEWALK_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TASKBRIDGE_WEBHOOK_SECRET", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["webhooks", "listen", "--port", "0"])
    assert exited.value.code == 2
    assert "no key source" in capsys.readouterr().err


def test_event_lines() -> None:
    from taskbridge.cli.webhooks import event_line
    from taskbridge.webhooks import ActionableTaskEvent, UnknownEvent

    event = ActionableTaskEvent("action_task.actionable", {"taskId": "x"}, "x")
    assert event_line(event, False) == "action_task.actionable cakewalk x"
    assert event_line(UnknownEvent("user.created", {"a": 1}), False) == 'user.created {"a":1}'
    assert event_line(UnknownEvent("t", {"a": 1}), True) == '{"type":"t","data":{"a":1}}'
