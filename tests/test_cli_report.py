"""The command line tells where it is: wait's status line, Ctrl-C's count, resuming a
killed run, closed pipes, and one line for every usage error."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from .test_cli import CLI, clean_env, env_for, lifecycle_ids, run

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pipes")


@pytest.fixture(scope="module")
def slow_url() -> Iterator[str]:
    """A served sandbox that answers any id after 50 ms."""
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


def refs_file(path: Path, n: int) -> list[tuple[str, str]]:
    refs = [("alumio", f"resume-{i}") for i in range(n)]
    path.write_text("".join(f"{p} {i}\n" for p, i in refs), encoding="utf-8")
    return refs


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen[bytes]) -> None:
    """Wait (30 s at most) until ``path`` holds ``n`` whole lines."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        assert proc.poll() is None, "the run ended before it was interrupted"
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {n} lines in 30 s")


def ndjson_refs(path: Path) -> Counter[tuple[str, str]]:
    lines = path.read_bytes().splitlines()
    items = [orjson.loads(line) for line in lines]  # every line is whole JSON
    return Counter((item["provider"], item["task_id"]) for item in items)


# --- a closed pipe ------------------------------------------------------------------------


@POSIX
@pytest.mark.parametrize(
    "args",
    [("--format", "table"), ("--format", "json"), ("--format", "ndjson"), ("--summary",)],
    ids=["table", "json", "ndjson", "summary"],
)
def test_a_pipe_closed_early_exits_0_quietly_in_every_format(
    slow_url: str, tmp_path: Path, args: tuple[str, ...]
) -> None:
    refs_file(tmp_path / "refs.txt", 3000)
    proc = subprocess.Popen(
        [*CLI, "get-many", *args, "--max-concurrency", "1", str(tmp_path / "refs.txt")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env_for(slow_url),
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader leaves before a line is written, as `| head -0`
    try:
        # Within the time limit, although 3,000 refs one at a time at 50 ms take 150 s.
        assert proc.wait(timeout=60) == 0
        assert proc.stderr.read() == b""
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stderr.close()


@POSIX
@pytest.mark.parametrize("fmt", ["table", "ndjson"])
def test_piped_into_head_exits_0_quietly(slow_url: str, tmp_path: Path, fmt: str) -> None:
    # More rows than a pipe holds, so that the writes after head's exit fail.
    refs_file(tmp_path / "refs.txt", 2000)
    limits = ["--requests-per-minute", "100000", "--max-concurrency", "64"]
    cli = subprocess.Popen(
        [*CLI, "get-many", "--format", fmt, *limits, str(tmp_path / "refs.txt")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env_for(slow_url),
    )
    assert cli.stdout is not None and cli.stderr is not None
    head = subprocess.run(
        ["head", "-3"], stdin=cli.stdout, capture_output=True, timeout=60, check=True
    )
    cli.stdout.close()
    code = cli.wait(timeout=60)
    err = cli.stderr.read()
    cli.stderr.close()
    assert (code, err) == (0, b"")
    assert len(head.stdout.splitlines()) == 3


# --- Ctrl-C -------------------------------------------------------------------------------


@POSIX
@pytest.mark.parametrize("fmt", ["ndjson", "json"])
def test_ctrl_c_says_how_far_it_got_and_leaves_a_valid_output_file(
    slow_url: str, tmp_path: Path, fmt: str
) -> None:
    refs_file(tmp_path / "refs.txt", 5000)
    output = tmp_path / f"out.{fmt}"
    proc = subprocess.Popen(
        [*CLI, "get-many", "--format", fmt, "-o", str(output), str(tmp_path / "refs.txt")],
        stderr=subprocess.PIPE,
        env=env_for(slow_url),
    )
    assert proc.stderr is not None
    wait_for_lines(output, 5, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if fmt == "json":
        done = len(orjson.loads(output.read_bytes()))  # the array was closed
        tail = ""
    else:
        done = sum(ndjson_refs(output).values())
        tail = f"; --resume continues from {output}"
    assert 5 <= done < 5000
    assert err == f"taskbridge: stopped after {done} of 5000 (0 failed){tail}\n"


@POSIX
def test_ctrl_c_on_a_terminal_clears_the_bar_before_saying_how_far_it_got(
    slow_url: str, tmp_path: Path
) -> None:
    import pty

    refs_file(tmp_path / "refs.txt", 5000)
    output = tmp_path / "out.ndjson"
    leader, follower = pty.openpty()
    env = {**env_for(slow_url), "TERM": "xterm", "COLUMNS": "100"}
    proc = subprocess.Popen(
        [*CLI, "get-many", "-o", str(output), str(tmp_path / "refs.txt")],
        stderr=follower,
        env=env,
    )
    os.close(follower)
    try:
        wait_for_lines(output, 5, proc)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        seen = b""
        with contextlib.suppress(OSError):  # EIO once the terminal's last writer is gone
            while chunk := os.read(leader, 65536):
                seen += chunk
    finally:
        proc.kill()
        proc.wait(timeout=10)
        os.close(leader)
    assert b"ETA" in seen  # the bar was drawn
    before, message = seen.rsplit(b"taskbridge: stopped after ", 1)
    # The bar (transient) was erased first: the message starts a line of its own.
    assert before.endswith((b"\x1b[2K", b"\n", b"\r")), before[-80:]
    done = sum(ndjson_refs(output).values())
    assert message.startswith(f"{done} of 5000 (0 failed)".encode())


# --- resuming a killed run ----------------------------------------------------------------


@POSIX
def test_a_run_killed_mid_way_resumes_where_it_stopped(slow_url: str, tmp_path: Path) -> None:
    refs = refs_file(tmp_path / "refs.txt", 400)
    output = tmp_path / "out.ndjson"
    args = ["get-many", "--format", "ndjson", "-o", str(output), "--max-concurrency", "2"]
    args.append(str(tmp_path / "refs.txt"))
    proc = subprocess.Popen([*CLI, *args], stderr=subprocess.DEVNULL, env=env_for(slow_url))
    wait_for_lines(output, 20, proc)
    proc.kill()  # SIGKILL: no clean-up at all
    proc.wait(timeout=30)
    first = ndjson_refs(output) if output.read_bytes().endswith(b"\n") else None
    assert first is None or 20 <= sum(first.values()) < len(refs)

    resumed = run(*args, "--resume", env=env_for(slow_url, TASKBRIDGE_MAX_CONCURRENCY="16"))
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.startswith("taskbridge: resuming: ")
    found = ndjson_refs(output)
    assert set(found) == set(refs)
    assert set(found.values()) == {1}  # every ref exactly once across both runs


def test_resume_fetches_again_a_line_cut_short(slow_url: str, tmp_path: Path) -> None:
    refs = refs_file(tmp_path / "refs.txt", 4)
    output = tmp_path / "out.ndjson"
    whole = [{"provider": p, "task_id": i, "ok": True} for p, i in refs[:2]]
    text = b"".join(orjson.dumps(item) + b"\n" for item in whole)
    output.write_bytes(text + b'{"provider":"alumio","task_id":"resume-2","o')  # killed here
    args = ["get-many", "--format", "ndjson", "-o", str(output), "--resume"]
    result = run(*args, str(tmp_path / "refs.txt"), env=env_for(slow_url))
    assert result.returncode == 0, result.stderr
    assert "resuming: 2 refs" in result.stderr
    assert ndjson_refs(output) == Counter(refs)


def test_output_format_follows_the_file_name_unless_given(slow_url: str, tmp_path: Path) -> None:
    refs = refs_file(tmp_path / "refs.txt", 3)
    for name in ("a.ndjson", "b.jsonl", "c.json", "d.txt"):
        result = run(
            "get-many",
            "-o",
            str(tmp_path / name),
            str(tmp_path / "refs.txt"),
            env=env_for(slow_url),
        )
        assert result.returncode == 0, result.stderr
    assert ndjson_refs(tmp_path / "a.ndjson") == Counter(refs)
    assert ndjson_refs(tmp_path / "b.jsonl") == Counter(refs)
    assert len(orjson.loads((tmp_path / "c.json").read_bytes())) == 3
    assert (tmp_path / "d.txt").read_text(encoding="utf-8").startswith("provider ")  # a table
    # --format wins over the name; --resume alone means ndjson.
    result = run(
        "get-many",
        "--format",
        "table",
        "-o",
        str(tmp_path / "e.ndjson"),
        str(tmp_path / "refs.txt"),
        env=env_for(slow_url),
    )
    assert (tmp_path / "e.ndjson").read_text(encoding="utf-8").startswith("provider ")
    result = run(
        "get-many",
        "--resume",
        "-o",
        str(tmp_path / "a.out"),
        str(tmp_path / "refs.txt"),
        env=env_for(slow_url),
    )
    assert result.returncode == 0, result.stderr
    assert ndjson_refs(tmp_path / "a.out") == Counter(refs)


def test_resume_needs_an_ndjson_output_file() -> None:
    for args in (["--resume"], ["--resume", "-o", os.devnull, "--format", "json"]):
        result = run("get-many", "--sandbox", *args, stdin="")
        assert result.returncode == 2
        assert result.stderr.startswith("taskbridge: --resume needs --output FILE")


# --- wait ---------------------------------------------------------------------------------

FAST = {"TASKBRIDGE_SANDBOX_STEP": "0.05"}


def test_wait_reports_each_status_change_with_elapsed_and_timeout() -> None:
    good, _ = lifecycle_ids("cakewalk")
    result = run("wait", "cakewalk", good, "--sandbox", "--timeout", "60", env=clean_env(**FAST))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith(f"taskbridge: cakewalk {good}: ") for line in lines)
    assert all(line.endswith(" s of 60 s") for line in lines)
    assert lines[-1].startswith(f"taskbridge: cakewalk {good}: Approved (succeeded), ")
    statuses = [line.split(": ")[2].split(" (")[0] for line in lines]
    # One line per change, in the lifecycle's order (on a loaded machine a short stage
    # can pass between two polls, so a stage may be missing, never repeated).
    stages = ["Pending", "InProgress", "Approved"]
    assert statuses == [s for s in stages if s in statuses]


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_wait_shows_a_spinner_line_on_a_terminal() -> None:
    import pty

    good, _ = lifecycle_ids("alumio")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, "wait", "alumio", good, "--sandbox", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=clean_env(TASKBRIDGE_SANDBOX_STEP="0.3"),
    )
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    assert proc.stdout is not None
    proc.stdout.close()
    assert f"alumio {good}: ".encode() in shown
    assert b" s of 60 s" in shown
    assert b"\r" in shown or b"\x1b[" in shown  # redrawn in place, not one line per change


# --- usage errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("get-many", "--no-such-option"),
        ("get", "cakewalk"),
        ("wait", "nowhere", "x"),
        ("sandbox", "--port", "many"),
        ("no-such-command",),
        ("get-many", "--format", "xml"),
    ],
)
def test_a_usage_error_is_one_taskbridge_line_and_exit_2(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("taskbridge: ")
    assert len(result.stderr.splitlines()) == 1
    assert "--help" in result.stderr
