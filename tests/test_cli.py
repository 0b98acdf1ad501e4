"""The `taskbridge` command line, run as a subprocess the way a user runs it."""

from __future__ import annotations

import functools
import os
import re
import secrets
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from taskbridge.sandbox import Sandbox

CLI = [sys.executable, "-m", "taskbridge.cli"]
# Long and random: it cannot occur by chance in an output that holds ports and ids.
SECRET = f"supersecret-{secrets.token_hex(16)}"
SANDBOX_CREDS = {
    "TASKBRIDGE_CAKEWALK_API_KEY": "sandbox-key",
    "TASKBRIDGE_CAKEWALK_API_SECRET": "sandbox-secret",
    "TASKBRIDGE_ALUMIO_TOKEN": "sandbox-token",
}
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


@functools.cache
def seeded() -> Sandbox:
    """The tasks `--sandbox` and `taskbridge sandbox` serve (seed 1); never started."""
    return Sandbox(seed=1)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKBRIDGE_")}
    env.update(extra)
    return env


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env() if env is None else env,
        timeout=60,
        check=False,
    )


def refs_text(cakewalk: int = 3, alumio: int = 3, *extra: str) -> str:
    sb = seeded()
    lines = [
        "# refs for the test",
        "",
        *(f"cakewalk {i}" for i in sb.cakewalk_ids[:cakewalk]),
        *(f"  ALUMIO\t{i}  " for i in sb.alumio_ids[:alumio]),
        *extra,
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    """A sandbox served by `python -m taskbridge.sandbox` on a free port (seed 1)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskbridge.sandbox", "--port", "0", "--seed", "1"],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        assert "listening on " in line, line
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def env_for(url: str, **overrides: str) -> dict[str, str]:
    urls = {"TASKBRIDGE_CAKEWALK_BASE_URL": url, "TASKBRIDGE_ALUMIO_BASE_URL": url}
    return clean_env(**{**SANDBOX_CREDS, **urls, **overrides})


def test_version_prints_the_package_version() -> None:
    import taskbridge

    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"taskbridge {taskbridge.__version__}"


def test_missing_cli_extra_is_one_line_and_exit_2() -> None:
    code = "import sys; sys.modules['click'] = None; from taskbridge.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(), check=False
    )
    assert result.returncode == 2
    assert result.stderr == (
        'taskbridge: the command line needs the cli extra: pip install "aiotaskbridge[cli]"\n'
    )


def test_demo_exits_0_and_prints_a_summary() -> None:
    result = run("demo", "--count", "120")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Total: 120 refs" in out
    assert "failed on purpose" in out
    assert "By status: " in out
    assert "Failures by kind: " in out and "TaskNotFoundError" in out
    assert "InvalidTaskIdError" in out
    assert "requests/s" in out
    assert "… 80 more" in out  # 40 rows shown
    assert result.stderr == ""  # no progress bar when stderr is piped


def test_get_sandbox_prints_a_key_value_view() -> None:
    task_id = seeded().cakewalk_ids[0]
    result = run("get", "--sandbox", "cakewalk", task_id)
    assert result.returncode == 0, result.stderr
    view = {line[:17].strip(): line[17:] for line in result.stdout.splitlines()}
    assert view["id"] == task_id
    assert view["provider"] == "cakewalk"
    assert view["provider status"] == seeded().expected("cakewalk", task_id)["status"]


def test_get_sandbox_json_is_the_unified_task() -> None:
    task_id = seeded().alumio_ids[4]  # "orders/2024/export-7": a "/" in the id
    result = run("get", "--sandbox", "alumio", task_id, "--json")
    assert result.returncode == 0, result.stderr
    task = orjson.loads(result.stdout)
    assert task["provider"] == "alumio"
    assert task["id"] == task_id
    assert task["provider_status"] == seeded().expected("alumio", task_id)["status"]
    assert {"status", "kind", "created_at", "updated_at", "is_terminal", "detail"} <= set(task)


def test_get_json_detail_is_the_wire_format_and_rebuilds_the_task() -> None:
    from taskbridge import UnifiedTask

    task_id = seeded().cakewalk_ids[0]
    result = run("get", "--sandbox", "cakewalk", task_id, "--json")
    assert result.returncode == 0, result.stderr
    data = orjson.loads(result.stdout)
    sent = seeded().expected("cakewalk", task_id)
    assert "lastUpdatedAt" in data["detail"] and "last_updated_at" not in data["detail"]
    assert data["detail"]["status"] == sent["status"]
    rebuilt = UnifiedTask.from_dict(data)
    assert rebuilt.id == task_id and rebuilt.detail.last_updated_at is not None


def test_get_unknown_id_exits_1_with_one_line() -> None:
    result = run("get", "--sandbox", "cakewalk", UNKNOWN_UUID)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("taskbridge: ")
    assert result.stderr.count("\n") == 1 and "404" in result.stderr


def test_get_invalid_cakewalk_id_exits_2() -> None:
    result = run("get", "--sandbox", "cakewalk", "not-a-uuid")
    assert result.returncode == 2
    assert result.stderr.startswith("taskbridge: ") and "not-a-uuid" in result.stderr
    assert "Traceback" not in result.stderr


def test_get_unknown_provider_exits_2() -> None:
    result = run("get", "--sandbox", "jira", "42")
    assert result.returncode == 2
    assert "jira" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "from_stdin", [pytest.param(False, id="file"), pytest.param(True, id="stdin")]
)
@pytest.mark.parametrize("fmt", ["table", "json", "ndjson"])
def test_get_many_fetches_every_ref(tmp_path: Path, fmt: str, from_stdin: bool) -> None:
    text = refs_text(3, 3)
    if from_stdin:
        result = run("get-many", "--sandbox", "--format", fmt, stdin=text)
    else:
        (tmp_path / "refs.txt").write_text(text, encoding="utf-8")
        result = run("get-many", "--sandbox", "--format", fmt, str(tmp_path / "refs.txt"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar when piped
    sb = seeded()
    if fmt == "table":
        for task_id in (*sb.cakewalk_ids[:3], *sb.alumio_ids[:3]):
            assert task_id in result.stdout
        assert "6 refs: 6 fetched, 0 failed" in result.stdout
        return
    if fmt == "json":
        items = orjson.loads(result.stdout)
    else:
        lines = result.stdout.splitlines()
        assert len(lines) == 6
        items = [orjson.loads(line) for line in lines]
    assert all(item["ok"] for item in items)
    assert {(i["provider"], i["task_id"]) for i in items} == {
        *(("cakewalk", i) for i in sb.cakewalk_ids[:3]),
        *(("alumio", i) for i in sb.alumio_ids[:3]),
    }
    assert all(item["task"]["id"] == item["task_id"] for item in items)


@pytest.mark.parametrize("fmt", ["table", "json", "ndjson"])
def test_get_many_exits_1_when_some_fail(fmt: str) -> None:
    text = refs_text(2, 2, f"cakewalk {UNKNOWN_UUID}", "alumio no-such-task", "cakewalk nope")
    result = run("get-many", "--sandbox", "--format", fmt, stdin=text)
    assert result.returncode == 1, result.stderr
    if fmt == "table":
        assert "7 refs: 4 fetched, 3 failed" in result.stdout
        assert "TaskNotFoundError" in result.stdout and "InvalidTaskIdError" in result.stdout
        return
    assert result.stderr.startswith("taskbridge: 3 of 7 refs failed")
    if fmt == "json":
        items = orjson.loads(result.stdout)
        assert sorted(item["ok"] for item in items) == [False] * 3 + [True] * 4
    else:
        items = [orjson.loads(line) for line in result.stdout.splitlines()]
    errors = {item["task_id"]: item["error"] for item in items if not item["ok"]}
    assert errors[UNKNOWN_UUID]["type"] == "TaskNotFoundError"
    assert errors[UNKNOWN_UUID]["status"] == 404
    assert errors["no-such-task"]["status"] == 404
    assert errors["nope"]["type"] == "InvalidTaskIdError" and "status" not in errors["nope"]


def test_get_many_alumio_id_is_the_rest_of_the_line() -> None:
    result = run("get-many", "--sandbox", "--format", "json", stdin="alumio nightly export 17\n")
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)[0]["task"]["id"] == "nightly export 17"


@pytest.mark.parametrize("bad", ["cakewalk", "hello", f"cakewalk {UNKNOWN_UUID} extra"])
@pytest.mark.parametrize("fmt", ["table", "ndjson"])
def test_get_many_bad_line_exits_2_with_its_number(fmt: str, bad: str) -> None:
    text = refs_text(1, 1, bad)  # the bad line is line 5
    result = run("get-many", "--sandbox", "--format", fmt, stdin=text)
    assert result.returncode == 2
    first, hint = result.stderr.splitlines()
    assert first == 'taskbridge: line 5: expected "PROVIDER TASK_ID"'
    assert "--skip-invalid" in hint
    # The good lines were still fetched and shown.
    if fmt == "ndjson":
        assert [orjson.loads(line)["ok"] for line in result.stdout.splitlines()] == [True] * 2
    else:
        assert "2 refs: 2 fetched, 0 failed" in result.stdout


def test_get_many_unknown_provider_line_exits_2() -> None:
    result = run("get-many", "--sandbox", stdin="jira 42\n")
    assert result.returncode == 2
    assert result.stderr.startswith("taskbridge: line 1: unknown provider 'jira'")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("get", "cakewalk", UNKNOWN_UUID), id="get"),
        pytest.param(("get-many",), id="get-many"),
    ],
)
def test_missing_credentials_exit_2_naming_the_variables(args: tuple[str, ...]) -> None:
    result = run(*args, stdin=f"cakewalk {UNKNOWN_UUID}\n")
    assert result.returncode == 2
    assert "TASKBRIDGE_CAKEWALK_API_KEY" in result.stderr
    assert result.stderr.count("\n") == 1


def test_half_set_credentials_name_the_missing_variable() -> None:
    result = run("get", "cakewalk", UNKNOWN_UUID, env=clean_env(TASKBRIDGE_CAKEWALK_API_KEY="k"))
    assert result.returncode == 2
    assert result.stderr == (
        "taskbridge: TASKBRIDGE_CAKEWALK_API_SECRET is not set (or pass --cakewalk-secret)\n"
    )


def test_unconfigured_provider_in_a_file_exits_2() -> None:
    env = clean_env(TASKBRIDGE_CAKEWALK_API_KEY="k", TASKBRIDGE_CAKEWALK_API_SECRET="s")
    result = run("get-many", stdin="alumio some-task\n", env=env)
    assert result.returncode == 2
    assert "TASKBRIDGE_ALUMIO_BASE_URL" in result.stderr


def test_environment_credentials_reach_a_running_sandbox(sandbox_url: str) -> None:
    result = run("get-many", "--format", "json", stdin=refs_text(3, 3), env=env_for(sandbox_url))
    assert result.returncode == 0, result.stderr
    assert [item["ok"] for item in orjson.loads(result.stdout)] == [True] * 6


def test_options_override_the_environment(sandbox_url: str) -> None:
    env = env_for(sandbox_url, TASKBRIDGE_CAKEWALK_API_SECRET="wrong")
    task_id = seeded().cakewalk_ids[1]
    assert run("get", "cakewalk", task_id, env=env).returncode == 1
    result = run("get", "cakewalk", task_id, "--cakewalk-secret", "sandbox-secret", env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("get", "cakewalk"), id="get"),
        pytest.param(("get", "alumio"), id="get-alumio"),
        pytest.param(("get-many",), id="get-many-table"),
        pytest.param(("get-many", "--format", "json"), id="get-many-json"),
        pytest.param(("get-many", "--format", "ndjson"), id="get-many-ndjson"),
        pytest.param(("get", "--help"), id="help"),
    ],
)
def test_secrets_are_never_printed(sandbox_url: str, args: tuple[str, ...]) -> None:
    env = env_for(
        sandbox_url, TASKBRIDGE_CAKEWALK_API_SECRET=SECRET, TASKBRIDGE_ALUMIO_TOKEN=SECRET
    )
    sb = seeded()
    if args[0] == "get" and args[1] != "--help":
        args = (*args, sb.ids(args[1])[0])
    result = run(*args, stdin=refs_text(2, 2), env=env)
    assert result.returncode == (0 if "--help" in args else 1), result.stderr
    if "--help" not in args:
        assert "AuthenticationError" in result.stdout + result.stderr or "401" in result.stderr
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr


def test_sandbox_command_serves_until_terminated(tmp_path: Path) -> None:
    refs = tmp_path / "refs.txt"
    proc = subprocess.Popen(
        [*CLI, "sandbox", "--port", "0", "--write-refs", str(refs)],
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=clean_env(),
    )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()
        assert first.startswith("taskbridge sandbox listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1].strip()
        exports: dict[str, str] = {}
        while not (line := proc.stdout.readline()).startswith("# Press Ctrl-C"):
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                exports[name] = value
        assert exports["TASKBRIDGE_CAKEWALK_BASE_URL"] == url
        task_id = seeded().cakewalk_ids[0]
        request = urllib.request.Request(
            f"{url}/api/v1/Tasks/{task_id}",
            headers={
                "X-API-KEY": exports["TASKBRIDGE_CAKEWALK_API_KEY"],
                "X-API-SECRET": exports["TASKBRIDGE_CAKEWALK_API_SECRET"],
            },
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert orjson.loads(answer.read())["data"]["id"] == task_id

        # The written refs feed get-many against the running sandbox, exports as printed.
        lines = refs.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 100
        few = tmp_path / "few.txt"  # within Cakewalk's default rate-limit burst
        few.write_text("\n".join(lines[:10] + lines[50:]) + "\n", encoding="utf-8")
        result = run("get-many", "--format", "ndjson", str(few), env=clean_env(**exports))
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) == 60
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()


def test_sandbox_command_port_in_use_exits_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run("sandbox", "--port", str(busy.getsockname()[1]))
    assert result.returncode == 2
    assert result.stderr.startswith("taskbridge: cannot listen on 127.0.0.1:")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_bar_shows_when_stderr_is_a_terminal(tmp_path: Path) -> None:
    import pty

    (tmp_path / "refs.txt").write_text(refs_text(2, 2), encoding="utf-8")
    master, slave = pty.openpty()
    with (tmp_path / "out.json").open("wb") as stdout:
        proc = subprocess.Popen(
            [*CLI, "get-many", "--sandbox", "--format", "json", str(tmp_path / "refs.txt")],
            stdout=stdout,
            stderr=slave,
            env=clean_env(),
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
        assert proc.wait(timeout=30) == 0
    assert b"fetching" in shown
    assert b"/4" in shown  # a file's refs are counted first: the bar has a total
    assert len(orjson.loads((tmp_path / "out.json").read_bytes())) == 4


# wait and watch, against a sandbox whose tasks finish within a fraction of a second.

FAST = {"TASKBRIDGE_SANDBOX_STEP": "0.05"}


def lifecycle_ids(provider: str) -> tuple[str, str]:
    """A seeded id that ends in success and one that ends otherwise."""
    from taskbridge.sandbox import LIFECYCLE_STAGES, Lifecycle

    sb = Sandbox(seed=1, lifecycle=Lifecycle())
    success = LIFECYCLE_STAGES[provider][2][0]
    ids = sb.ids(provider)
    good = next(i for i in ids if sb.schedule(provider, i)[-1][1] == success)
    bad = next(i for i in ids if sb.schedule(provider, i)[-1][1] != success)
    return good, bad


@pytest.mark.parametrize("provider", ["cakewalk", "alumio"])
def test_wait_exits_0_when_the_task_succeeds_and_1_otherwise(provider: str) -> None:
    good, bad = lifecycle_ids(provider)
    ok = run("wait", provider, good, "--sandbox", "--json", env=clean_env(**FAST))
    assert ok.returncode == 0, ok.stderr
    task = orjson.loads(ok.stdout)
    assert task["id"] == good
    assert task["status"] == "succeeded"
    failed = run("wait", provider, bad, "--sandbox", env=clean_env(**FAST))
    assert failed.returncode == 1, failed.stderr
    assert "terminal" in failed.stdout


def test_wait_exits_124_on_timeout() -> None:
    good, _ = lifecycle_ids("alumio")
    result = run("wait", "alumio", good, "--sandbox", "--timeout", "0")
    assert result.returncode == 124
    assert "did not finish within 0 s" in result.stderr
    assert result.stdout == ""


def test_wait_unknown_task_exits_1() -> None:
    result = run("wait", "cakewalk", UNKNOWN_UUID, "--sandbox", env=clean_env(**FAST))
    assert result.returncode == 1
    assert "404" in result.stderr


def test_wait_bad_timeout_is_a_usage_error() -> None:
    result = run("wait", "alumio", "x", "--sandbox", "--timeout", "-1")
    assert result.returncode == 2


def test_watch_streams_ndjson_updates_until_every_task_is_done() -> None:
    good, bad = lifecycle_ids("cakewalk")
    text = f"cakewalk {good}\ncakewalk {bad}\nalumio no-such-task\n"
    result = run("watch", "--sandbox", stdin=text, env=clean_env(**FAST))
    assert result.returncode == 1  # one declined, one not found
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    by_id: dict[str, list[dict[str, object]]] = {}
    for line in lines:
        by_id.setdefault(str(line["task_id"]), []).append(line)
    statuses = [u["provider_status"] for u in by_id[good]]
    # Real time here: on a loaded machine a short stage (even the first) can pass before
    # a poll sees it, so any in-order part of the lifecycle that ends terminal is right.
    stages = ["Pending", "InProgress", "Approved"]
    assert statuses[-1] == "Approved"
    assert statuses == sorted(set(statuses), key=stages.index)
    assert [u["previous_status"] for u in by_id[good]] == [None, *statuses[:-1]]
    assert [u["provider_status"] for u in by_id[bad]][-1] == "Declined"
    (missing,) = by_id["no-such-task"]
    assert missing["error"]["type"] == "TaskNotFoundError"  # type: ignore[index]
    assert "did not succeed" in result.stderr


def test_demo_ends_by_watching_tasks_finish() -> None:
    result = run("demo", "--count", "20")
    assert result.returncode == 0, result.stderr
    assert "Watching 6 tasks finish" in result.stdout
    assert "Pending -> " in result.stdout
    assert "new -> " in result.stdout


def test_watch_follows_tasks_of_a_served_sandbox_with_a_lifecycle() -> None:
    proc = subprocess.Popen(
        [*CLI, "sandbox", "--port", "0", "--lifecycle", "0.05"],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        assert "listening on " in line, line
        url = line.rsplit(" ", 1)[1].strip()
        good, _ = lifecycle_ids("alumio")
        result = run("watch", stdin=f"alumio {good}\n", env=env_for(url))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
    assert result.returncode == 0, result.stderr
    updates = [orjson.loads(line) for line in result.stdout.splitlines()]
    # The lifecycle runs from the sandbox's start, so the first look may come late.
    assert updates[-1]["provider_status"] == "finished"
    assert updates[-1]["terminal"] is True


def test_sandbox_refuses_a_bad_lifecycle_step() -> None:
    result = run("sandbox", "--port", "0", "--lifecycle", "0")
    assert result.returncode == 2
    module = subprocess.run(
        [sys.executable, "-m", "taskbridge.sandbox", "--lifecycle", "-1"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
        check=False,
    )
    assert module.returncode == 2
    assert module.stderr.startswith("taskbridge: Invalid value for '--lifecycle'")
    assert len(module.stderr.splitlines()) == 1


def test_ctrl_c_ends_a_watch_quietly_with_130() -> None:
    import signal

    good, _ = lifecycle_ids("cakewalk")
    proc = subprocess.Popen(
        [*CLI, "watch", "--sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(TASKBRIDGE_SANDBOX_STEP="3600"),
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(f"cakewalk {good}\n")
    proc.stdin.close()
    try:
        first = orjson.loads(proc.stdout.readline())  # the first look: Pending, for an hour
        assert first["provider_status"] == "Pending"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        assert proc.stderr is not None
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 130
    assert "Traceback" not in err


def test_python_dash_m_taskbridge_runs_the_cli() -> None:
    import taskbridge

    result = subprocess.run(
        [sys.executable, "-m", "taskbridge", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"taskbridge {taskbridge.__version__}"


def test_sandbox_command_is_the_sandbox_module_with_help_on_every_option() -> None:
    def options(text: str) -> set[str]:
        return set(re.findall(r"^  (--[a-z][a-z-]+)", text, re.MULTILINE))

    module = subprocess.run(
        [sys.executable, "-m", "taskbridge.sandbox", "--help"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
        check=False,
    )
    result = run("sandbox", "--help")
    assert result.returncode == module.returncode == 0, result.stderr + module.stderr
    assert result.stdout.startswith("Usage: taskbridge sandbox [OPTIONS]")  # click's
    assert module.stdout.startswith("Usage: python -m taskbridge.sandbox [OPTIONS]")
    wanted = {"--seed", "--latency", "--error-rate", "--fault-seed", "--rate-limit-per-minute"}
    assert wanted <= options(result.stdout) == options(module.stdout)
    # Every option has its help: no option line stands alone before the next one.
    from taskbridge.cli.sandbox import sandbox

    undocumented = [p.name for p in sandbox.params if not getattr(p, "help", None)]
    assert undocumented == []


def test_sandbox_command_refuses_bad_fault_values_with_exit_2() -> None:
    result = run("sandbox", "--error-rate", "3")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "taskbridge: Faults.error_rate must be between 0 and 1, got 3.0"
    )
    assert run("sandbox", "--no-such-option").returncode == 2


def test_sandbox_command_serves_the_faults_it_is_given() -> None:
    proc = subprocess.Popen(
        [*CLI, "sandbox", "--port", "0", "--faults-for", "alumio", "--error-rate", "1"],
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=clean_env(),
    )
    assert proc.stdout is not None
    try:
        url = proc.stdout.readline().rsplit(" ", 1)[1].strip()
        env = env_for(url)
        alumio = run("get", "alumio", seeded().alumio_ids[0], "--timeout", "5", env=env)
        assert alumio.returncode == 1 and "ServerError" in alumio.stderr + alumio.stdout
        cakewalk = run("get", "cakewalk", seeded().cakewalk_ids[0], env=env)
        assert cakewalk.returncode == 0, cakewalk.stderr
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()


def test_nothing_in_the_package_imports_the_cli() -> None:
    import ast

    import taskbridge

    root = Path(taskbridge.__file__).parent
    for path in root.rglob("*.py"):
        if path.is_relative_to(root / "cli") or path.name == "__main__.py":
            continue  # the CLI itself, and entry scripts, which may run it
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                relative = node.level and (node.module or "").split(".")[0] == "cli"
                absolute = (node.module or "").startswith("taskbridge.cli")
                assert not (relative or absolute), path
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("taskbridge.cli") for a in node.names), path
