"""Run every benchmark with its defaults, one after another, each in its own interpreter.

Each benchmark starts (and stops) its own sandbox in a separate process. Expect about
19 minutes on an idle 2-core machine; ``--quick`` shrinks every run to a smoke test.

Run from the repo root::

    .venv/bin/python bench/run_all.py
    .venv/bin/python bench/run_all.py --quick
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent

BENCHES: list[tuple[str, list[str], list[str]]] = [
    # (script, default args, --quick args)
    ("bench_decode.py", [], ["--repeat", "3", "--profile", "none"]),
    ("bench_throughput.py", ["--profile", "20"], ["--n", "1000", "--rounds", "2"]),
    ("bench_memory.py", [], ["--sizes", "2000,10000"]),
    ("bench_stream_engine.py", [], ["--sizes", "2000,10000"]),
    ("bench_fairness.py", [], ["--alumio", "300", "--cakewalk", "30"]),
    ("bench_ratelimit.py", [], ["--duration", "5"]),
    ("bench_watch.py", [], ["--only", "below,memory", "--step", "2", "--memory-n", "5000"]),
    # Needs redis-server and the [redis] extra.
    (
        "bench_multiprocess.py",
        [],
        ["--duration", "5", "--processes", "1,3", "--admissions", "500"],
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--only", default="", help="comma list of script names to run")
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    status = 0
    for script, default, quick in BENCHES:
        if only and script not in only and script.removesuffix(".py") not in only:
            continue
        cmd = [sys.executable, str(HERE / script), *(quick if args.quick else default)]
        print(f"\n# {' '.join(cmd[1:])}", flush=True)
        started = time.monotonic()
        rc = subprocess.run(cmd, check=False).returncode
        print(f"# {script}: exit {rc} after {time.monotonic() - started:.0f} s", flush=True)
        status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main())
