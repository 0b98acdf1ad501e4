"""What the ``taskbridge`` commands share: settings, credentials from the registry,
opening a bridge (or a bundled sandbox), reading ``PROVIDER TASK_ID`` lines, exit codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Coroutine, Iterable
from typing import IO, TYPE_CHECKING, Any, NoReturn

import attrs

from .. import ConfigurationError, InvalidTaskIdError, TaskBridgeError, TaskRef
from ..providers import CredentialOption, ProviderConfig, get_spec, names, registered

if TYPE_CHECKING:  # the bridge (and aiohttp) load when a command runs, not for --help
    from .. import TaskBridge

# The seed of `taskbridge sandbox` by default, so `--sandbox` serves the same tasks.
SANDBOX_SEED = 1
# Seconds per lifecycle stage of the sandbox that `wait --sandbox` and `watch --sandbox` start.
SANDBOX_STEP = 2.0


def providers() -> tuple[str, ...]:
    return names()


def credentials() -> list[CredentialOption]:
    """Every provider's credential options, from the registry (the option wins)."""
    return [option for spec in registered().values() for option in spec.credentials]


_MAX_LINE = 1 << 20

Config = ProviderConfig


class UsageProblem(Exception):
    """A usage or configuration error: one ``taskbridge: ...`` line, exit status 2."""


@attrs.frozen
class Settings:
    """What `get` and `get-many` connect with."""

    environ: dict[str, str]
    sandbox: bool
    timeout: float
    concurrency: int | None
    requests_per_minute: float | None = None


def say(message: str) -> None:
    sys.stderr.write(f"taskbridge: {message}\n")
    sys.stderr.flush()


async def _interruptible(coro: Coroutine[Any, Any, int]) -> int:
    """Run ``coro`` so that Ctrl-C cancels it at an ``await``, as 3.11's `asyncio.run` does.

    Python 3.10's raises `KeyboardInterrupt` at whatever line is running, even between
    the two writes of one JSON item; a cancellation lets the command close its output.
    """
    if sys.version_info >= (3, 11):
        return await coro
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        interrupted = True
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except (NotImplementedError, RuntimeError, ValueError):  # not POSIX, or not main thread
        return await coro
    try:
        return await coro
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def run(coro: Coroutine[Any, Any, int]) -> NoReturn:
    """Run a command's coroutine and exit with its status, mapping errors to 1 or 2."""
    try:
        code = asyncio.run(_interruptible(coro))
    except (UsageProblem, ConfigurationError, InvalidTaskIdError) as exc:
        say(str(exc))
        code = 2
    except TaskBridgeError as exc:
        say(str(exc))
        code = 1
    except BrokenPipeError:
        # The reader left (`| head`): it has what it wanted. Stop quietly, and let the
        # final flush go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except KeyboardInterrupt:
        # Ctrl-C: asyncio.run has cancelled the command (requests in flight included),
        # which closed cleanly; end quietly.
        code = 130
    raise SystemExit(code)


def _needs(provider: str) -> str:
    required = [c for c in get_spec(provider).credentials if c.required]
    variables = " and ".join(c.env for c in required)
    options = " and ".join(c.option for c in required)
    return f"set {variables} (or pass {options})"


def configs_of(settings: Settings, needed: str | None = None) -> dict[str, Config] | None:
    """Return the configured providers from options and environment; ``None`` for --sandbox.

    ``needed`` names the one provider a command uses, for a more precise message.
    """
    if settings.sandbox:
        return None
    env = settings.environ
    specs = registered()
    for spec in specs.values():
        required = [c for c in spec.credentials if c.required]
        missing = [c for c in required if not env.get(c.env)]
        if 0 < len(missing) < len(required):
            raise UsageProblem(f"{missing[0].env} is not set (or pass {missing[0].option})")
    found = {name: spec.from_env(env) for name, spec in specs.items()}
    configs = {name: config for name, config in found.items() if config is not None}
    if not configs and needed is not None:
        raise UsageProblem(f"{needed} is not configured: {_needs(needed)}; or use --sandbox")
    if not configs:
        raise UsageProblem(
            "no credentials: " + "; or ".join(_needs(p) for p in providers()) + "; or use --sandbox"
        )
    return configs


def check_configured(
    configs: dict[str, Config] | None, providers: Iterable[str], where: str = ""
) -> None:
    for provider in providers:
        if configs is not None and provider not in configs:
            raise UsageProblem(f"{where}{provider} is not configured: {_needs(provider)}")


def _evolve(config: Any, **changes: Any) -> Config:
    """A copy of an (attrs) provider config with ``changes``."""
    new: Config = attrs.evolve(config, **changes)
    return new


@contextlib.asynccontextmanager
async def open_bridge(
    settings: Settings, configs: dict[str, Config] | None, *, lifecycle: bool = False
) -> AsyncIterator[TaskBridge]:
    """Yield a bridge for ``configs``, or for a bundled sandbox started here when ``None``.

    With ``lifecycle``, that sandbox's tasks finish within seconds (for wait and watch).
    """
    from .. import TaskBridge

    async with contextlib.AsyncExitStack() as stack:
        if configs is None:
            from ..sandbox import Lifecycle, Sandbox

            # The variable lets tests and demos speed the lifecycle up.
            step = float(os.environ.get("TASKBRIDGE_SANDBOX_STEP") or SANDBOX_STEP)
            life = Lifecycle(step=step) if lifecycle else None
            sb = await stack.enter_async_context(Sandbox(seed=SANDBOX_SEED, lifecycle=life))
            poll = {"poll_interval": step / 4, "max_poll_interval": step / 2} if lifecycle else {}
            configs = {
                name: sb.config(name, requests_per_minute=None, **poll) for name in sb.providers
            }
        if settings.concurrency is not None:
            limit = settings.concurrency
            configs = {k: _evolve(c, max_concurrency=limit) for k, c in configs.items()}
        if settings.requests_per_minute is not None:
            rpm = settings.requests_per_minute
            configs = {k: _evolve(c, requests_per_minute=rpm) for k, c in configs.items()}
        bridge = TaskBridge(providers=configs.values(), timeout=settings.timeout)
        yield await stack.enter_async_context(bridge)


def parse_ref(lineno: int, raw: bytes) -> TaskRef | None:
    """Read one ``PROVIDER TASK_ID`` line; ``None`` for a blank line or a ``#`` comment.

    The task id is the rest of the line, so Alumio identifiers may hold spaces.
    """
    try:
        line = raw.decode("utf-8").removeprefix("\ufeff").strip()
    except UnicodeDecodeError:
        raise UsageProblem(f"line {lineno}: not UTF-8 text") from None
    if not line or line.startswith("#"):
        return None
    fields = line.split(None, 1)
    provider = fields[0].lower()
    # A Cakewalk id is one UUID: more fields can only be a mistake.
    spec = registered().get(provider)
    # An id without spaces (a Cakewalk UUID) in more fields can only be a mistake.
    one_field = spec is not None and not spec.ids_may_contain_spaces
    if len(fields) != 2 or (one_field and len(fields[1].split()) > 1):
        raise UsageProblem(f'line {lineno}: expected "PROVIDER TASK_ID"')
    if spec is None:
        expected = ", ".join(providers())
        raise UsageProblem(
            f"line {lineno}: unknown provider {fields[0]!r} (expected one of: {expected})"
        )
    return TaskRef(provider, fields[1].strip())


async def read_lines(source: IO[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    """Yield numbered lines as they arrive, reading in a thread so requests keep going."""
    read = getattr(source, "read1", source.read)
    tail = b""
    lineno = 0
    while chunk := await asyncio.to_thread(read, 1 << 16):
        *lines, tail = (tail + chunk).split(b"\n")
        for line in lines:
            lineno += 1
            yield lineno, line
        if len(tail) > _MAX_LINE:
            raise UsageProblem(f"line {lineno + 1}: longer than {_MAX_LINE} bytes")
    if tail:
        yield lineno + 1, tail


def show_progress(fmt: str, *, to_file: bool = False) -> bool:
    """Whether to draw a bar on stderr: when it is a terminal that results do not share."""
    # Streamed lines on a terminal are progress enough; a bar would garble them.
    return sys.stderr.isatty() and (to_file or not (fmt == "ndjson" and sys.stdout.isatty()))
