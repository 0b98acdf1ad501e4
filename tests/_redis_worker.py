"""One process of the multi-process RedisLimiter test: fetch ids, print a JSON summary.

python tests/_redis_worker.py SANDBOX_URL REDIS_URL|- RPM ID [ID ...]
"""

from __future__ import annotations

import asyncio
import sys

import orjson

from taskbridge import CakewalkConfig, TaskBridge
from taskbridge.redis import RedisLimiter


async def main(url: str, redis_url: str, rpm: float, ids: list[str]) -> None:
    config = CakewalkConfig("sandbox-key", "sandbox-secret", base_url=url, requests_per_minute=rpm)
    limiter = RedisLimiter(redis_url) if redis_url != "-" else None
    async with TaskBridge(cakewalk=config, limiter=limiter) as bridge:
        results = await bridge.get_many([("cakewalk", i) for i in ids])
    summary = {
        "ok": sum(r.ok for r in results),
        "errors": [type(r.error).__name__ for r in results if not r.ok],
    }
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")


if __name__ == "__main__":
    sandbox_url, redis_url, rpm, *task_ids = sys.argv[1:]
    asyncio.run(main(sandbox_url, redis_url, float(rpm), task_ids))
