"""`taskbridge get-many` for big batches: bad lines, summaries, fields, pipes, Ctrl-C."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

from taskbridge import TaskBridge, TaskRef
from taskbridge.cli._progress import limiter_text
from taskbridge.cli._sink import BatchOptions, Sink, count_refs
from taskbridge.sandbox import Sandbox

from .test_cli import CLI, UNKNOWN_UUID, clean_env, env_for, refs_text, run, seeded


def test_every_bad_line_is_reported_and_the_good_ones_fetched() -> None:
    text = refs_text(2, 2, "jira 1", "cakewalk", f"cakewalk {UNKNOWN_UUID} extra")
    result = run("get-many", "--sandbox", "--format", "ndjson", stdin=text)
    assert result.returncode == 2
    errors = result.stderr.splitlines()
    assert errors[0].startswith("taskbridge: line 7: unknown provider 'jira'")
    assert errors[1] == 'taskbridge: line 8: expected "PROVIDER TASK_ID"'
    assert errors[2] == 'taskbridge: line 9: expected "PROVIDER TASK_ID"'
    assert "3 input line(s)" in errors[3]
    assert len(result.stdout.splitlines()) == 4


def test_skip_invalid_turns_bad_lines_into_failed_items() -> None:
    text = refs_text(1, 1, "jira 1", "cakewalk")
    result = run("get-many", "--sandbox", "--format", "ndjson", "--skip-invalid", stdin=text)
    assert result.returncode == 1, result.stderr
    items = [orjson.loads(line) for line in result.stdout.splitlines()]
    bad = [i for i in items if not i["ok"]]
    assert [(i["line"], i["error"]["type"]) for i in bad] == [
        (5, "InvalidLine"),
        (6, "InvalidLine"),
    ]
    assert bad[0]["provider"] == "jira" and "unknown provider" in bad[0]["error"]["message"]
    assert result.stderr.startswith("taskbridge: 2 of 4 refs failed (InvalidLine 2)")


def test_skip_invalid_in_a_table() -> None:
    result = run("get-many", "--sandbox", "--skip-invalid", stdin=refs_text(1, 0, "jira 1"))
    assert result.returncode == 1
    assert "InvalidLine: line 4: unknown provider 'jira'" in result.stdout
    assert "2 refs: 1 fetched, 1 failed" in result.stdout


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_summary_counts_by_status_and_error_only(fmt: str) -> None:
    text = refs_text(3, 3, f"cakewalk {UNKNOWN_UUID}")
    result = run("get-many", "--sandbox", "--format", fmt, "--summary", stdin=text)
    assert result.returncode == 1
    summary = orjson.loads(result.stdout)
    assert (summary["total"], summary["fetched"], summary["failed"]) == (7, 6, 1)
    assert summary["errors"] == {"TaskNotFoundError": 1}
    assert sum(summary["status"].values()) == 6
    assert "task" not in result.stdout


def test_summary_as_text() -> None:
    result = run("get-many", "--sandbox", "--summary", stdin=refs_text(2, 2))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "4 refs: 4 fetched, 0 failed"
    assert lines[1].startswith("By status: ") and lines[2] == "By error: none"


def test_fields_choose_the_json_keys() -> None:
    args = ("get-many", "--sandbox", "--format", "ndjson", "--fields", "id,status")
    result = run(*args, stdin=refs_text(2, 1))
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        item = orjson.loads(line)
        assert set(item["task"]) == {"id", "status"}


def test_fields_choose_the_table_columns() -> None:
    result = run("get-many", "--sandbox", "--fields", "id,kind", stdin=refs_text(1, 1))
    assert result.returncode == 0, result.stderr
    header = [w for w in result.stdout.splitlines()[0].split() if w.isalpha()]
    assert header == ["id", "kind"]


def test_unknown_field_is_a_usage_error() -> None:
    result = run("get-many", "--sandbox", "--fields", "id,colour", stdin=refs_text(1, 1))
    assert result.returncode == 2
    assert "colour" in result.stderr and "provider_status" in result.stderr


def test_json_streams_a_valid_array_even_when_empty() -> None:
    result = run("get-many", "--sandbox", "--format", "json", stdin="# nothing\n")
    assert result.returncode == 0
    assert orjson.loads(result.stdout) == []


def test_table_never_wraps_ids_at_80_columns() -> None:
    sb = seeded()
    sink = Sink(BatchOptions("table"), io.BytesIO(), Console(file=io.StringIO()))

    async def fetch() -> None:
        async with (
            Sandbox(seed=1) as live,
            TaskBridge(cakewalk=live.cakewalk_config(), alumio=live.alumio_config()) as bridge,
        ):
            refs = [TaskRef("cakewalk", i) for i in sb.cakewalk_ids[:5]]
            refs += [TaskRef("alumio", i) for i in sb.alumio_ids[:10]]
            async for result in bridge.stream(refs):
                sink.result(result)

    import asyncio

    asyncio.run(fetch())
    buffer = io.StringIO()
    for table in sink.tables(chunk=4):  # printed in chunks
        Console(file=buffer, width=80, color_system=None).print(table)
    text = buffer.getvalue()
    for task_id in (*sb.cakewalk_ids[:5], *sb.alumio_ids[:10]):
        assert any(task_id in line for line in text.splitlines()), task_id
    # The chunks line up as one table.
    rows = [line for line in text.splitlines() if "│" in line]
    assert len(rows) == 15
    assert len({tuple(i for i, c in enumerate(line) if c == "│") for line in rows}) == 1


def test_count_refs_counts_ref_lines_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "refs.txt"
    path.write_text(refs_text(3, 2, "", "# comment"), encoding="utf-8")
    with path.open("rb") as f:
        assert count_refs(f) == 5
        assert f.read(1) == b"#"  # rewound for the real read
    assert count_refs(io.BytesIO(b"x")) == 1
    r, w = os.pipe()
    with os.fdopen(r, "rb") as pipe, os.fdopen(w, "wb"):
        assert count_refs(pipe) is None


def test_the_bar_says_what_each_limiter_is_doing() -> None:
    from datetime import datetime, timezone

    from taskbridge import BridgeStats, ProviderStats

    def snap(name: str, **state: Any) -> ProviderStats:
        counts = {"requests": 0, "in_flight": 0, "queued": 0, "waiting_for_rate_limit": 0}
        counts |= {"retries": 0, "rate_limited": 0, "queue_timeouts": 0}
        limits = {"max_concurrency": 8, "requests_per_minute": 60.0, "max_queue_wait": None}
        return ProviderStats(name, **{**counts, "paused_until": None, **limits, **state})

    idle = BridgeStats({"cakewalk": snap("cakewalk"), "alumio": snap("alumio")})
    assert limiter_text(idle) == "fetching"
    busy = BridgeStats(
        {
            "cakewalk": snap("cakewalk", in_flight=8, queued=3, waiting_for_rate_limit=1),
            "alumio": snap("alumio", paused_until=datetime.now(timezone.utc)),
        }
    )
    assert limiter_text(busy) == (
        "cakewalk 8 in flight, 3 queued, rate limit · alumio paused (429)"
    )


async def test_limits_options_reach_the_bridge() -> None:
    from taskbridge.cli._common import Settings, open_bridge

    settings = Settings({}, True, 30.0, 3, 120.0)
    async with open_bridge(settings, None) as bridge:
        for snap in bridge.stats().providers.values():
            assert (snap.max_concurrency, snap.requests_per_minute) == (3, 120.0)


@pytest.mark.parametrize(
    "env",
    [{"TASKBRIDGE_REQUESTS_PER_MINUTE": "0"}, {"TASKBRIDGE_MAX_CONCURRENCY": "none"}],
)
def test_limit_variables_are_checked(env: dict[str, str]) -> None:
    result = run("get-many", "--sandbox", stdin=refs_text(1, 1), env=clean_env(**env))
    assert result.returncode == 2
    assert "Invalid value" in result.stderr


def test_limit_options_are_in_the_help() -> None:
    result = run("get-many", "--help")
    wanted = ["--requests-per-minute", "--max-concurrency", "TASKBRIDGE_MAX_CONCURRENCY"]
    wanted += ["TASKBRIDGE_REQUESTS_PER_MINUTE", "--summary", "--fields", "--skip-invalid"]
    for text in wanted:
        assert text in result.stdout


@pytest.fixture(scope="module")
def slow_sandbox_url() -> object:
    proc = subprocess.Popen(
        [*CLI, "sandbox", "--port", "0", "--any-id", "--latency", "0.05"],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    assert proc.stdout is not None
    try:
        yield proc.stdout.readline().rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def many_refs(n: int) -> bytes:
    return "".join(f"alumio big-{i}\n" for i in range(n)).encode()


def test_a_closed_pipe_exits_0_quietly(slow_sandbox_url: str) -> None:
    proc = subprocess.Popen(
        [*CLI, "get-many", "--format", "ndjson", "--requests-per-minute", "100000"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env_for(slow_sandbox_url),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(many_refs(2000))
    proc.stdin.close()
    assert orjson.loads(proc.stdout.readline())["ok"]
    proc.stdout.close()  # like `| head -1`
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""
    proc.stderr.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_one_ctrl_c_stops_cleanly_with_130_and_valid_json(slow_sandbox_url: str) -> None:
    proc = subprocess.Popen(
        [*CLI, "get-many", "--format", "json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env_for(slow_sandbox_url),
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(many_refs(5000))
    proc.stdin.close()
    assert proc.stdout.readline() == b"[\n"
    first = proc.stdout.readline()
    assert first.startswith(b'{"provider"')  # results are streaming
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    # Read through the same buffered pipe: readline() above may have read ahead.
    rest, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    items = orjson.loads(b"[\n" + first + rest)  # the array was closed: valid JSON
    assert 1 <= len(items) < 5000
    # One line of how far it got (stdin has no total to give): no traceback.
    assert err.decode() == f"taskbridge: stopped after {len(items)} (0 failed)\n"


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_reading_a_terminal_prints_a_hint() -> None:
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, "get-many", "--sandbox", "--format", "ndjson"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    os.close(slave)
    try:
        os.write(master, f"cakewalk {seeded().cakewalk_ids[0]}\n".encode())
        os.write(master, b"\x04")  # Ctrl-D: end of input
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    assert proc.returncode == 0, err
    assert err.decode().startswith('taskbridge: reading "PROVIDER TASK_ID" lines from the terminal')
    assert orjson.loads(out.splitlines()[0])["ok"]
