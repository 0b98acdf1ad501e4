"""Start-up: what importing taskbridge (and running its CLI's --help) costs, against aiohttp.

    python bench/bench_startup.py --rounds 40

Each contender runs in a fresh interpreter, the contenders alternating round by round
(rotated and reversed, so none always runs first or on a warm page cache). Two
measures, side by side in one run:

- wall clock of the whole process (``python -c ...``), min and median over the rounds;
  "net" subtracts the median of a bare interpreter (``python -c pass``), and the ratio
  is net against ``import aiohttp``'s net;
- ``python -X importtime``: the cumulative microseconds of every top-level import the
  bare interpreter does not do, min and median over the rounds.

``import taskbridge`` imports nothing but the version: each public name loads on first
use. ``from taskbridge import TaskBridge`` is what a program that fetches tasks pays;
``from taskbridge import *`` every public name, which is what ``import taskbridge``
cost before the names loaded lazily. ``TaskBridge(cakewalk=...) built`` adds building a
bridge of one provider (its models, converter and decoders load then): a cold start's
cost up to its first request.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import alternate, median, print_machine, print_table

_CLI = "import sys; from taskbridge.cli import main; main(sys.argv[1:])"

# A serverless cold start's path up to its first request: import and build a bridge.
_BUILT = (
    "from taskbridge import TaskBridge, CakewalkConfig; "
    "TaskBridge(cakewalk=CakewalkConfig('k' * 40, 's' * 40))"
)

# (label, arguments after the interpreter)
IMPORTS: list[tuple[str, list[str]]] = [
    ("python -c pass", ["-c", "pass"]),
    ("import aiohttp", ["-c", "import aiohttp"]),
    ("import taskbridge", ["-c", "import taskbridge"]),
    ("from taskbridge import TaskBridge", ["-c", "from taskbridge import TaskBridge"]),
    ("from taskbridge import *", ["-c", "from taskbridge import *"]),
    ("TaskBridge(cakewalk=...) built", ["-c", _BUILT]),
]
CLI: list[tuple[str, list[str]]] = [
    ("taskbridge --version", ["-c", _CLI, "--version"]),
    ("taskbridge --help", ["-c", _CLI, "--help"]),
    ("taskbridge sandbox --help", ["-c", _CLI, "sandbox", "--help"]),
    ("taskbridge get --help", ["-c", _CLI, "get", "--help"]),
]
BARE = IMPORTS[0][0]
# Run from here, not the checkout: ``python -c`` puts the working directory first on
# sys.path, which would make a baseline interpreter import this checkout's taskbridge.
_NEUTRAL = tempfile.gettempdir()
AIOHTTP = IMPORTS[1][0]


def wall(command: list[str]) -> float:
    """Seconds for one fresh interpreter to run ``command`` and exit."""
    # No ``timeout=``: Popen.wait(timeout) polls with sleeps of up to 50 ms (Python 3.11
    # on Linux), which would round every time up to its grid; a timer kills it instead.
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=_NEUTRAL)
    killer = threading.Timer(60, proc.kill)
    killer.start()
    try:
        code = proc.wait()
    finally:
        killer.cancel()
    elapsed = time.perf_counter() - started
    if code != 0:
        raise subprocess.CalledProcessError(code, command)
    return elapsed


def import_time(command: list[str], bare: set[str]) -> tuple[float, set[str]]:
    """Microseconds of the top-level imports of ``command`` that are not in ``bare``,
    and the names of every module imported."""
    run = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
        timeout=60,
        cwd=_NEUTRAL,
    )
    total, names = 0.0, set()
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        names.add(name.strip())
        if name.startswith(" ") and not name.startswith("  ") and name.strip() not in bare:
            total += int(cumulative)
    return total, names


def measure(contenders: dict[str, list[str]], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {label: [] for label in contenders}
    table = contenders
    for _, order in alternate(list(table), rounds):
        for label in order:
            times[label].append(wall(table[label]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="fresh interpreters each")
    parser.add_argument(
        "--baseline",
        metavar="PYTHON",
        help="also run the taskbridge contenders with this interpreter (another checkout's "
        "venv, e.g. /work/main/.venv/bin/python), labelled (baseline)",
    )
    args = parser.parse_args()
    print_machine("Start-up: importing taskbridge, and its CLI's --help, against aiohttp")
    print(f"{args.rounds} alternating rounds, each contender a fresh `{sys.executable}`")
    print()

    _, bare_names = import_time([sys.executable, "-c", "pass"], set())
    contenders = {label: [sys.executable, *argv] for label, argv in IMPORTS + CLI}
    if args.baseline:
        for label, argv in IMPORTS[2:] + CLI:
            contenders[f"{label} (baseline)"] = [args.baseline, *argv]
        print(f"baseline: {args.baseline}")
    times = measure(contenders, args.rounds)
    bare = median(times[BARE])
    aiohttp_net = median(times[AIOHTTP]) - bare

    importtime: dict[str, list[float]] = {label: [] for label in contenders}
    loads_aiohttp: dict[str, bool] = {}
    table = contenders
    for _, order in alternate(list(table), max(5, args.rounds // 4)):
        for label in order:
            micros, names = import_time(table[label], bare_names)
            importtime[label].append(micros)
            loads_aiohttp[label] = "aiohttp" in names
    aiohttp_it = median(importtime[AIOHTTP])

    rows = []
    for label in contenders:
        net = median(times[label]) - bare
        it = median(importtime[label])
        rows.append(
            [
                label,
                f"{min(times[label]) * 1e3:.1f}",
                f"{median(times[label]) * 1e3:.1f}",
                "" if label == BARE else f"{net * 1e3:.1f}",
                "" if label == BARE else f"{net / aiohttp_net:.2f}x",
                "" if label == BARE else f"{min(importtime[label]) / 1e3:.1f}",
                "" if label == BARE else f"{it / 1e3:.1f}",
                "" if label == BARE else f"{it / aiohttp_it:.2f}x",
                "yes" if loads_aiohttp[label] else "no",
            ]
        )
    print_table(
        [
            "command",
            "wall min ms",
            "wall median ms",
            "net ms",
            "net vs aiohttp",
            "importtime min ms",
            "importtime median ms",
            "importtime vs aiohttp",
            "imports aiohttp",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
