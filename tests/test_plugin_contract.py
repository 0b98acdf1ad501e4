"""A plug-in runs taskbridge's decoding contract on its own adapter, as its authors would:
pytest on the example plug-in's contract file, with the plug-in installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .test_plugin_provider import PLUGIN_DIR, jiralike_site  # noqa: F401 - a fixture

CONTRACT = PLUGIN_DIR / "plugin_tests" / "contract_jiralike.py"


def test_the_example_plug_in_keeps_the_decoding_contract(jiralike_site: Path) -> None:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKBRIDGE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(jiralike_site), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--rootdir", str(CONTRACT.parent), str(CONTRACT)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "16 passed" in done.stdout, done.stdout[-1000:]
