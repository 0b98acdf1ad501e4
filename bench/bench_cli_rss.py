"""Peak RSS of `taskbridge get-many` per output format, over N refs from a file.

    python bench/bench_cli_rss.py --refs 100000

Starts `taskbridge sandbox --any-id` in a subprocess, writes N Alumio refs (no
client-side rate limit, so the run is bounded by the machine, not by a limit), then
runs the CLI once per format under /usr/bin/time and prints the peak RSS and the time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "taskbridge"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--refs", type=int, default=100_000)
    parser.add_argument(
        "--formats",
        default="ndjson,json,summary,table",
        help="comma-separated; summary = --summary",
    )
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKBRIDGE_")}
    server = subprocess.Popen(
        [*CLI, "sandbox", "--port", "0", "--any-id"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert server.stdout is not None
    try:
        for line in server.stdout:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                env[name] = value.strip("'")
            if line.startswith("# Press Ctrl-C"):
                break
        with tempfile.TemporaryDirectory() as tmp:
            refs = Path(tmp) / "refs.txt"
            refs.write_text("".join(f"alumio rss-{i}\n" for i in range(args.refs)))
            for fmt in args.formats.split(","):
                extra = ["--summary"] if fmt == "summary" else ["--format", fmt]
                started = time.perf_counter()
                run = subprocess.run(
                    ["/usr/bin/time", "-f", "%M", *CLI, "get-many", str(refs), *extra],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                    check=False,
                )
                elapsed = time.perf_counter() - started
                peak_kb = int(run.stderr.strip().splitlines()[-1])
                print(
                    f"{fmt:>8}: {args.refs} refs, exit {run.returncode}, "
                    f"peak RSS {peak_kb / 1024:.0f} MB, {elapsed:.1f} s",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
