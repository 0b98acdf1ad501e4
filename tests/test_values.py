"""Errors and tasks behave like Python values: pickle, hash, repr and JSON at any depth."""

from __future__ import annotations

import http.server
import inspect
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import ClassVar
from urllib.parse import unquote

import attrs
import orjson
import pytest

import taskbridge
from taskbridge import (
    AlumioConfig,
    APIError,
    BridgeClosedError,
    CakewalkConfig,
    TaskBridgeError,
    UnifiedTask,
)
from taskbridge._decode.deep import plain
from taskbridge.cli._output import task_json
from taskbridge.providers.cakewalk import CakewalkProblemDetails

from .conftest import CAKEWALK_ID, KEY, SECRET, TOKEN, alumio_body, cakewalk_body, dumps

ERROR_KINDS = sorted(
    (
        cls
        for cls in vars(taskbridge).values()
        if isinstance(cls, type) and issubclass(cls, TaskBridgeError)
    ),
    key=lambda cls: cls.__name__,
)


def sample(cls: type[TaskBridgeError]) -> TaskBridgeError:
    if issubclass(cls, APIError):
        body = CakewalkProblemDetails(title="Nope", status=429, extensions={"a": [1]})
        return cls(
            "msg",
            provider="cakewalk",
            task_id="t-1",
            status=429,
            title="Nope",
            detail="d",
            body=body,
            retry_after=3.0,
        )
    # Every other kind: its required keyword-only attributes, from sample values.
    values = {"provider": "alumio", "task_id": "t-2", "max_queue_wait": 2.0, "last": None}
    if cls.__init__ is BaseException.__init__:  # no attributes of its own
        return cls("msg")
    required = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty
    ]
    return cls("msg", **{name: values[name] for name in required})


def test_every_error_kind_is_covered() -> None:
    assert len(ERROR_KINDS) >= 13
    assert BridgeClosedError in ERROR_KINDS


@pytest.mark.parametrize("cls", ERROR_KINDS, ids=lambda cls: cls.__name__)
def test_every_error_survives_pickle_with_its_attributes(cls: type[TaskBridgeError]) -> None:
    error = sample(cls)
    error.__notes__ = ["a note"]  # add_note() is 3.11+; the attribute travels the same way
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is cls
    assert str(again) == str(error)
    assert again.args == error.args
    assert vars(again) == vars(error)


def test_a_pickled_error_from_a_real_answer_keeps_its_body() -> None:
    adapter = CakewalkConfig(KEY, SECRET).adapter()
    info = adapter.decode_error(dumps({"title": "Too many", "status": 429, "x": {"y": 1}}))
    error = taskbridge.RateLimitedError(
        "m", provider="cakewalk", task_id="t", status=429, body=info.body, retry_after=1.0
    )
    again = pickle.loads(pickle.dumps(error))
    assert again.body == info.body
    assert again.retry_after == 1.0


def decode_alumio(body: bytes) -> UnifiedTask[object]:
    return AlumioConfig("http://127.0.0.1:1", TOKEN).adapter().decode_task(body, "order-export-42")


def test_tasks_are_hashable_and_equal_tasks_hash_equal() -> None:
    one = decode_alumio(dumps(alumio_body()))
    two = decode_alumio(dumps(alumio_body()))
    other = decode_alumio(dumps(alumio_body(entityData={"other": True})))
    assert one is not two and one == two
    assert hash(one) == hash(two)
    assert len({one, two}) == 1
    # Same unified fields, different detail: the same hash, but not equal.
    assert hash(other) == hash(one)
    assert other != one
    assert len({one, other}) == 2


def test_cakewalk_tasks_with_lists_are_hashable() -> None:
    adapter = CakewalkConfig(KEY, SECRET).adapter()
    task = adapter.decode_task(dumps(cakewalk_body()), CAKEWALK_ID)
    assert {task: 1}[task] == 1


def deep_alumio_body(depth: int) -> bytes:
    """An Alumio answer whose entityData nests ``depth`` objects (orjson cannot write it)."""
    deep = '{"x":' * (depth - 1) + '{"leaf": [1, "two"]}' + "}" * (depth - 1)
    return dumps(alumio_body(entityData="@@", context="@@")).replace(b'"@@"', deep.encode())


@pytest.mark.parametrize("depth", [300, 1000])
def test_a_deeply_nested_task_has_a_repr_and_json(depth: int) -> None:
    task = decode_alumio(deep_alumio_body(depth))
    assert "order-export-42" in repr(task)
    assert "AlumioTask(" in repr(task.detail)
    data = orjson.loads(taskbridge.cli._output.json_bytes(task_json(task)))
    node = data["detail"]["entityData"]
    for _ in range(depth - 1):
        node = node["x"]
    assert node == {"leaf": [1, "two"]}
    assert hash(task) == hash(decode_alumio(deep_alumio_body(depth)))


def test_plain_is_attrs_asdict_for_ordinary_tasks() -> None:
    adapter = CakewalkConfig(KEY, SECRET).adapter()
    for task in (
        adapter.decode_task(dumps(cakewalk_body()), CAKEWALK_ID),
        decode_alumio(dumps(alumio_body())),
    ):
        assert plain(task) == attrs.asdict(task, recurse=True)
        assert list(plain(task)) == list(attrs.asdict(task, recurse=True))


def for_path(body: bytes, path: str) -> bytes:
    """``body`` (an Alumio answer) for the task the request path asks for: an answer for
    another task is refused."""
    asked = unquote(path.partition("?")[0].rpartition("/")[2])
    return body.replace(b'"identifier":"order-export-42"', b'"identifier":' + dumps(asked), 1)


class _DeepHandler(http.server.BaseHTTPRequestHandler):
    body = deep_alumio_body(1000)

    def do_GET(self) -> None:
        body = for_path(self.body, self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def deep_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DeepHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("get", "alumio", "order-export-42", "--json"), id="get-json"),
        pytest.param(("get", "alumio", "order-export-42"), id="get"),
        pytest.param(("get-many", "--format", "json"), id="get-many-json"),
        pytest.param(("get-many", "--format", "ndjson"), id="get-many-ndjson"),
        pytest.param(("get-many",), id="get-many-table"),
    ],
)
def test_the_cli_prints_deeply_nested_tasks_without_a_traceback(
    deep_server: str, args: tuple[str, ...]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKBRIDGE_")}
    env.update(TASKBRIDGE_ALUMIO_BASE_URL=deep_server, TASKBRIDGE_ALUMIO_TOKEN="t")
    result = subprocess.run(
        [sys.executable, "-m", "taskbridge.cli", *args],
        input="alumio order-export-42\nalumio b\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "order-export-42" in result.stdout


class _OddRetryAfterHandler(http.server.BaseHTTPRequestHandler):
    """The first request of each path is a 503 with a Retry-After of "²" (which
    parse_retry_after once raised on); later ones get the task."""

    seen: ClassVar[set[str]] = set()
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            first = self.path not in self.seen
            self.seen.add(self.path)
        body = b"" if first else for_path(dumps(alumio_body()), self.path)
        self.send_response(503 if first else 200)
        if first:
            self.send_header("Retry-After", "\u00b2")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_header(self, keyword: str, value: str) -> None:
        if keyword == "Retry-After":  # http.server writes headers as latin-1
            self._headers_buffer.append(f"{keyword}: {value}\r\n".encode())
            return
        super().send_header(keyword, value)

    def log_message(self, *args: object) -> None:
        pass


def test_the_cli_ndjson_run_ends_despite_an_odd_retry_after() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OddRetryAfterHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKBRIDGE_")}
    env.update(
        TASKBRIDGE_ALUMIO_BASE_URL=f"http://127.0.0.1:{server.server_address[1]}",
        TASKBRIDGE_ALUMIO_TOKEN="t",
    )
    try:
        result = subprocess.run(
            [sys.executable, "-m", "taskbridge.cli", "get-many", "--format", "ndjson"],
            input="alumio a\nalumio b\nalumio c\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert [orjson.loads(line)["ok"] for line in result.stdout.splitlines()] == [True] * 3
