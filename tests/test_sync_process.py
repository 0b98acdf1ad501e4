"""`SyncTaskBridge` across processes: a real ``os.fork()``, a real SIGINT, interpreter exit."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import traceback
import uuid
from collections.abc import Iterator

import pytest

from taskbridge import BridgeClosedError, RetryPolicy, SyncTaskBridge
from taskbridge.sandbox import BackgroundSandbox, Faults

from .test_sync import client_sockets, loop_threads, until

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytest.fixture
def slow_sandbox() -> Iterator[BackgroundSandbox]:
    with BackgroundSandbox(seed=3, any_id=True, faults={"alumio": Faults(latency=60)}) as sb:
        yield sb


def client_inodes(port: int) -> set[str]:
    """The inodes of this process's sockets connected to ``port``."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    with open("/proc/self/net/tcp") as lines:
        for line in list(lines)[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                found.add(fields[9])
    return found


def child_does(bridge: SyncTaskBridge, early: Iterator[object], task_id: str, write: int) -> None:
    """In the forked child: use the parent's bridge; report; never return."""
    try:
        try:
            next(early)  # made by the parent: its loop is not here
        except BridgeClosedError:
            pass
        else:
            raise AssertionError("an iterator of the parent's loop ran in the child")
        task = bridge.get("cakewalk", task_id)
        results = bridge.get_many([("cakewalk", task_id)] * 3)
        threads = len(loop_threads())
        bridge.close()
        report = f"ok {task.id} {all(r.ok for r in results)} {threads} {len(loop_threads())}"
    except BaseException:
        report = "error " + traceback.format_exc()
    try:
        os.write(write, report.encode())
    finally:
        os._exit(0)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_bridge_used_before_fork_works_in_the_child_without_touching_the_parents_sockets(
    taskbridge_thread_sandbox: BackgroundSandbox,
) -> None:
    sandbox = taskbridge_thread_sandbox
    first, second = sandbox.cakewalk_ids[:2]
    with SyncTaskBridge(providers=sandbox.configs(requests_per_minute=None)) as bridge:
        bridge.get("cakewalk", first)  # the loop runs, a pooled connection is open
        before = client_inodes(sandbox.port)
        assert len(before) == 1
        early = bridge.stream([("cakewalk", first)])
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            os.close(read)
            child_does(bridge, early, second, write)
        os.close(write)
        try:
            ready, _, _ = select.select([read], [], [], 60)
            assert ready, "the child did not report within 60 s"
            report = os.read(read, 65536).decode()
        finally:
            os.close(read)
            _, status = os.waitpid(pid, 0)
        assert report == f"ok {second} True 1 0", report
        assert os.waitstatus_to_exitcode(status) == 0
        assert [r.ok for r in early] == [True]  # the parent's own iterator still works
        # The parent's pooled connection is untouched: reused, not replaced.
        assert bridge.get("cakewalk", second).id == second
        assert client_inodes(sandbox.port) == before
    assert client_sockets(sandbox.port) == 0


SIGINT_SCRIPT = """
import sys, time
from taskbridge import SyncTaskBridge

bridge = SyncTaskBridge.from_env()
try:
    bridge.get_many([("alumio", f"sigint-{i}") for i in range(40)])
except KeyboardInterrupt:
    deadline = time.monotonic() + 20
    while bridge.stats().providers["alumio"].in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    print("interrupted", bridge.stats().providers["alumio"].in_flight, flush=True)
    bridge.close()
    sys.exit(3)
print("not interrupted", flush=True)
"""


def test_sigint_mid_get_many_cancels_its_requests_and_propagates_at_once(
    slow_sandbox: BackgroundSandbox,
) -> None:
    env = {**os.environ, **slow_sandbox.env()}
    proc = subprocess.Popen(
        [sys.executable, "-W", "error", "-c", SIGINT_SCRIPT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        until(lambda: slow_sandbox.stats.alumio.in_flight == 16, "the requests", 30)
        proc.send_signal(signal.SIGINT)
        # The sandbox answers after 60 s: only an interrupted call ends within 30.
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, out, err) == (3, "interrupted 0\n", "")


EXIT_SCRIPT = """
import atexit, threading
from taskbridge import SyncTaskBridge

@atexit.register  # registered first, so it runs after the bridge's own clean-up
def report():
    names = [t.name for t in threading.enumerate() if t.name.startswith("taskbridge-sync")]
    print("loop threads at exit:", len(names), flush=True)

bridge = SyncTaskBridge.from_env()
ids = {ids!r}
assert all(r.ok for r in bridge.get_many([("cakewalk", i) for i in ids]))
results = bridge.stream([("cakewalk", i) for i in ids])
next(results)   # an iterator left open, a bridge never closed
view = bridge.with_options(timeout=5.0)
view.get("cakewalk", ids[0])
print("done", flush=True)
"""


def test_a_bridge_never_closed_is_cleaned_up_at_exit_without_warnings(
    taskbridge_thread_sandbox: BackgroundSandbox,
) -> None:
    script = EXIT_SCRIPT.format(ids=list(taskbridge_thread_sandbox.cakewalk_ids[:20]))
    env = {**os.environ, **taskbridge_thread_sandbox.env(), "PYTHONDEVMODE": "1"}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    expected = "done\nloop threads at exit: 0\n"
    assert (done.returncode, done.stdout, done.stderr) == (0, expected, "")


FORK_EXIT_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from taskbridge import SyncTaskBridge

    bridge = SyncTaskBridge.from_env()
    bridge.get("cakewalk", {first!r})
    pid = os.fork()
    if pid == 0:
        bridge.get("cakewalk", {second!r})
        sys.exit(0)  # a normal exit: atexit, module teardown, no os._exit
    _, status = os.waitpid(pid, 0)
    bridge.get("cakewalk", {second!r})
    print("parent", os.waitstatus_to_exitcode(status), flush=True)
    """
)


def test_a_forked_child_that_exits_normally_prints_nothing(
    taskbridge_thread_sandbox: BackgroundSandbox,
) -> None:
    first, second = taskbridge_thread_sandbox.cakewalk_ids[:2]
    script = FORK_EXIT_SCRIPT.format(first=first, second=second)
    env = {**os.environ, **taskbridge_thread_sandbox.env()}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "parent 0\n", "")


def test_retry_policy_reaches_the_loop(taskbridge_thread_sandbox: BackgroundSandbox) -> None:
    sandbox = taskbridge_thread_sandbox
    task_id = str(uuid.uuid4())
    sandbox.add_task("cakewalk", task_id)
    sandbox.answer("cakewalk", task_id, 503, times=2)
    retry = RetryPolicy(initial_backoff=0.0, max_backoff=0.0)
    with SyncTaskBridge(providers=sandbox.configs(requests_per_minute=None), retry=retry) as b:
        assert b.get("cakewalk", task_id).id == task_id
        assert b.stats().providers["cakewalk"].retries == 2
