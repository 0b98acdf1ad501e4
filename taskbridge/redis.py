"""Share each credential's rate budget and 429 pauses between processes, through Redis.

```python
from taskbridge import TaskBridge
from taskbridge.redis import RedisLimiter

bridge = TaskBridge(cakewalk=config, limiter=RedisLimiter("redis://localhost:6379/0"))
```

Needs the async ``redis`` client: ``pip install "aiotaskbridge[redis]"``. Every process
whose bridge uses the same Redis, ``prefix`` and credential shares one budget: the
smooth rate (a burst of at most one second's worth) and the 60-second ceiling hold for
the sum of them. Each admission is one atomic script call on Redis' clock; see
`taskbridge._redis_scripts`.

When Redis does not answer within ``timeout`` the process logs one WARNING and admits
through a local limiter at its share of the rate (``fallback_share``, by default one
over the number of processes Redis saw using the budget in the last minute), starting
after the last reservation it knows of and owing its share of one burst, so that the
sum stays within the limit. It asks Redis again every second; when Redis answers it
logs that at INFO, tells Redis the starts it granted alone, and shares again.

When Redis loses the budget (``FLUSHALL``, a restart without persistence, a failover)
the smooth bound still holds across the loss: no start is reserved more than `LEAD`
ahead, every process re-registers its starts of the last window when it next calls, and
a budget recreated by a process that knew the old one restarts empty after `LEAD` and
one interval (see `taskbridge._redis_scripts`).

With ``lease=S`` (off by default) one script call reserves the next S seconds of the
smooth schedule for this process to hand out alone (`taskbridge._redis_lease`).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import math
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._base.checks import check_seconds
from ._base.errors import ConfigurationError
from ._engine.limiter import credential_fingerprint
from ._engine.ratelimit import WINDOW, RateLimiter
from ._redis_lease import LATE, MAX_LEASE, MIN_LEASE, Lease, check_lease
from ._redis_scripts import ADMIT, PAUSE, STALE, WAIT

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["LATE", "MAX_LEASE", "MIN_LEASE", "RedisLimiter"]

logger = logging.getLogger("taskbridge")

# Arrivals lag their grant by a network hop and a scheduler turn on each host: keep each
# start in the shared 60-s log this much longer than the local limiter does.
WINDOW_MARGIN = 0.25
# How often a process that fell back asks Redis again.
PROBE_INTERVAL = 1.0
# The share of the rate a process takes alone before Redis ever told it how many
# processes share the budget.
UNKNOWN_SHARE = 0.1
# The furthest ahead Redis ever reserves a start: a later one is asked for again when it
# comes this close. When Redis loses the budget, the starts reserved before are all
# within this of the loss; the budget recreated by a process that knew the old one
# restarts empty after it (see `taskbridge._redis_scripts`).
LEAD = 1.0
# Bound on back-to-back "Redis lost its data" answers before treating Redis as down.
_MAX_STALE = 3
_INSTALL_HINT = 'RedisLimiter needs the redis client: pip install "aiotaskbridge[redis]"'


def _failures() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    return (RedisError, OSError, asyncio.TimeoutError)


class RedisLimiter:
    """Keeps the rate budgets of a bridge's providers in Redis, shared by processes.

    Args:
        url_or_client: a ``redis://`` / ``rediss://`` / ``unix://`` URL (the limiter
            opens and closes its own client), or a `redis.asyncio.Redis` you own.
        prefix: the start of every key; budgets under different prefixes are separate.
        timeout: seconds allowed for one Redis call before falling back.
        fallback_share: the share of a provider's rate this process takes while Redis
            is unreachable; ``None``: one over the processes seen in the last minute.
        probe_interval: while Redis is unreachable, seconds between two tries to reach
            it again (tests may set it to 0).
        lease: seconds of the smooth schedule one Redis call reserves for this process
            (at least `MIN_LEASE` starts; at most `LEAD`), handed out locally in order;
            ``None`` (the default): one call per admission. Only for a provider with a
            rate; without one, every admission still asks Redis (the shared pause).

    Keys are ``{prefix}:{<provider>:<fingerprint>}:<name>``; the fingerprint is an HMAC
    of the credential keyed by its own secrets, never the credential itself.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        prefix: str = "taskbridge",
        timeout: float = 0.5,
        fallback_share: float | None = None,
        probe_interval: float = PROBE_INTERVAL,
        lease: float | None = None,
    ) -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:
            raise ConfigurationError(_INSTALL_HINT) from exc
        if not isinstance(prefix, str) or not prefix or not prefix.isprintable():
            raise ConfigurationError("RedisLimiter prefix must be a non-empty printable string")
        timeout = check_seconds("RedisLimiter timeout", timeout)
        if probe_interval != 0:
            probe_interval = check_seconds("RedisLimiter probe_interval", probe_interval)
        if fallback_share is not None and (
            isinstance(fallback_share, bool)
            or not isinstance(fallback_share, (int, float))
            or not 0 < fallback_share <= 1
        ):
            raise ConfigurationError("RedisLimiter fallback_share must be in (0, 1], or None")
        lease = check_lease(lease, LEAD)
        self._owns_client = isinstance(url_or_client, str)
        if isinstance(url_or_client, str):
            try:
                client = aioredis.Redis.from_url(
                    url_or_client.strip(),
                    socket_timeout=timeout,
                    socket_connect_timeout=timeout,
                )
            except ValueError:
                # The message may quote the URL, password included: leave it out.
                raise ConfigurationError(
                    "RedisLimiter URL must be redis://, rediss:// or unix://"
                ) from None
        elif isinstance(url_or_client, aioredis.Redis):
            client = url_or_client
        else:
            raise ConfigurationError(
                "RedisLimiter takes a redis:// URL or a redis.asyncio.Redis client, "
                f"got {type(url_or_client).__name__}"
            )
        self.prefix = prefix
        self.probe_interval = float(probe_interval)
        self.timeout = float(timeout)
        self.fallback_share = fallback_share
        self.lease = lease
        self._client = client
        self._admit = client.register_script(ADMIT)
        self._pause = client.register_script(PAUSE)
        self._process = secrets.token_hex(8)
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        kwargs: Mapping[str, Any] = self._client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        return f"<RedisLimiter {where} db={kwargs.get('db', 0)} prefix={self.prefix!r}>"

    def limiter(self, provider: str, *, per_minute: float | None, config: object) -> _SharedBudget:
        """Build the shared limiter of one provider credential (called by `TaskBridge`)."""
        return _SharedBudget(self, provider, per_minute, credential_fingerprint(provider, config))

    async def aclose(self) -> None:
        """Stop pending pause notices; close the client if the limiter opened it."""
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> RedisLimiter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _SharedBudget:
    """One provider credential's budget in Redis, as seen from this process."""

    def __init__(
        self, owner: RedisLimiter, provider: str, per_minute: float | None, fingerprint: str
    ) -> None:
        self._owner = owner
        self._provider = provider
        self.per_minute = per_minute
        base = f"{owner.prefix}:{{{provider}:{fingerprint}}}"
        self.keys = [f"{base}:state", f"{base}:log", f"{base}:pause", f"{base}:procs"]
        self._window = WINDOW + WINDOW_MARGIN
        if per_minute:
            rate = per_minute / WINDOW
            self._burst = max(1.0, rate)
            interval = 1e6 / rate
            tau, limit = round((self._burst - 1.0) * interval), max(1, math.floor(per_minute))
            self._args: list[int] = [max(1, round(interval)), tau, limit]
        else:
            self._burst = 0.0
            self._args = [0, 0, 1]
        self._args += [round(self._window * 1e6), round(LEAD * 1e6)]
        self._lease = Lease(owner.lease, per_minute, LEAD)
        self._more: list[int] = []  # see _call
        self._ttl_ms = round((self._window + WINDOW) * 1000)
        self._gen = ""
        self._seq = itertools.count()
        # One caller of this process asks Redis at a time (in arrival order): those told
        # to come back later do not all ask again at once.
        self._asking = asyncio.Lock()
        self._callers = 0  # callers in acquire() waiting for a start (a lease's demand)
        self._reserved = False  # whether the last call reserved a start
        # This process' grants of the last window (monotonic time of the start, ahead
        # while reserved); those Redis has not seen (granted alone, or before Redis lost
        # its data) wait in _unreported.
        self._grants: collections.deque[float] = collections.deque()
        self._unreported: list[float] = []
        self._processes = 0
        self._horizon = 0.0
        self._fallback: RateLimiter | None = None
        self._fallen_back = False
        self._next_probe = 0.0
        self._probing = False

    def __repr__(self) -> str:
        rate = f"{self.per_minute:g}/min" if self.per_minute else "no rate"
        return f"<shared budget {self._provider} {rate}>"

    async def acquire(self) -> None:
        """Wait until a request may start: the next start of this process' lease, or a
        Redis call reserves a start at most `LEAD` seconds ahead (a later one is asked
        for again then), then sleep to it.

        Cancelled while waiting, the slot stays spent (the budget errs on the safe side).
        """
        self._callers += 1
        try:
            async with self._asking:
                delay = self._lease.take()
                delay = await self._reserve() if delay is None else delay
        finally:
            self._callers -= 1
        if delay is None:
            if self._fallback is not None:
                await self._fallback.acquire()
            self._granted(time.monotonic(), reported=False)
        elif delay > 0:
            await asyncio.sleep(delay)

    async def _reserve(self) -> float | None:
        """The seconds until the start Redis reserved (recorded as granted), or ``None``:
        take it from the local fallback instead."""
        stale = 0
        probed = False
        while True:
            if self._fallen_back and (
                probed or self._probing or time.monotonic() < self._next_probe
            ):
                return None
            probing = self._fallen_back
            if not probing and (ahead := self._lease.wait_before_asking()) > 0:
                await asyncio.sleep(ahead)
            self._probing = self._probing or probing
            try:
                delay = await self._call()
            except _failures() as exc:
                self._fall_back(exc)
                probed = True
                continue
            finally:
                if probing:
                    self._probing = False
            if delay is None:
                stale += 1
                if stale >= _MAX_STALE:
                    self._fall_back(RuntimeError("Redis keeps losing the budget"))
                    probed = True
                continue
            if not self._reserved:
                ask = self._more[0] / 1e6 if self._more else delay - LEAD
                await asyncio.sleep(max(0.0, ask))
                continue
            now = time.monotonic()
            self._granted(now + delay, reported=True)
            self._lease.last = now + delay
            for later in self._more:
                start = now + delay + later / 1e6
                self._granted(start, reported=True)
                self._lease.add(start)
            return delay

    def pause(self, seconds: float) -> None:
        """Publish a 429's pause to every process (in the background, bounded); the
        rest of this process' lease passes unused."""
        self._lease.clear()
        if not seconds > 0 or self._fallen_back:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._publish_pause(seconds))
        except RuntimeError:  # no running loop: nothing to share from
            return
        self._owner._tasks.add(task)
        task.add_done_callback(self._owner._tasks.discard)

    async def _publish_pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(
                self._owner._pause(keys=[self.keys[2]], args=[math.ceil(seconds * 1e6)]),
                self._owner.timeout,
            )
        except _failures() as exc:
            logger.debug("could not share a %s pause through Redis: %s", self._provider, exc)

    def _granted(self, start: float, *, reported: bool) -> None:
        grants = self._grants
        grants.append(start)
        now = time.monotonic()
        while grants and grants[0] + self._window <= now:
            grants.popleft()
        if not reported:
            self._unreported.append(start)

    async def _call(self) -> float | None:
        """One admission script call: the seconds to the start (reserved if ``_reserved``,
        else to ask again `LEAD` before it), or ``None`` if Redis lost the budget."""
        owner = self._owner
        now = time.monotonic()
        replay, self._unreported = self._unreported, []
        booking = self._lease.saturated(self._callers)
        ages = [round((now - t) * 1e6) for t in replay if now - t < self._window]
        args: list[str | int] = [
            *self._args,
            self._gen,
            secrets.token_hex(8),
            owner._process,
            next(self._seq),
            self._ttl_ms,
            self._lease.count,
            int(booking),
            *ages,
        ]
        try:
            reply = await asyncio.wait_for(owner._admit(keys=self.keys, args=args), owner.timeout)
        except BaseException:
            self._unreported = replay + self._unreported
            raise
        status, delay_us, gen, processes, horizon_us, _, *more = reply
        self._reserved = status != WAIT
        if self._reserved:  # a lease's later starts (us after the first)
            more = self._lease.read_booking(more, booking=booking, now=time.monotonic())
        self._more = [int(d) - (int(delay_us) if self._reserved else 0) for d in more]
        gen = gen.decode() if isinstance(gen, bytes) else str(gen)
        if status == STALE:
            if gen != self._gen:
                # Redis lost this budget (a restart without persistence, a flush): tell
                # it again every start this process made in the last window.
                self._gen = gen
                self._unreported = list(self._grants)
            return None
        self._gen = gen
        self._processes = int(processes)
        self._horizon = time.monotonic() + int(horizon_us) / 1e6
        if self._fallen_back:
            self._fallen_back = False
            self._fallback = None
            logger.info("Redis answers again: the %s rate budget is shared again", self._provider)
        return int(delay_us) / 1e6

    def _fall_back(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._next_probe = now + self._owner.probe_interval
        if self._fallen_back:
            return
        self._fallen_back = True
        share = self._owner.fallback_share
        if share is None:
            share = 1.0 / self._processes if self._processes else UNKNOWN_SHARE
        if self.per_minute:
            fallback = RateLimiter(self.per_minute * share)
            # Owe this process' share of one burst and start after the last reservation
            # known: with the other processes' shares, the sum stays within the limit.
            fallback._seed(
                tokens=-share * self._burst, not_before=max(now, self._horizon), starts=()
            )
            self._fallback = fallback
            what = f"a local limit of {self.per_minute * share:g}/min ({share:.0%} share)"
        else:
            what = "no shared pause"
        logger.warning(
            "Redis unreachable for the %s rate budget (%s); using %s until it answers",
            self._provider,
            type(exc).__name__,
            what,
        )
