"""The ``taskbridge`` command line: one module per command, added to the group of `_app`.

click and rich come with the ``cli`` extra and are imported only when `main` runs,
so the core install stays lean. Exit status: 0 when everything was fetched, 1 when
something failed, 2 for a usage or configuration error (one ``taskbridge: ...`` line
on stderr that says what to fix, never a traceback), 130 when interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main", "sandbox_main"]

_MISSING_EXTRA = (
    'taskbridge: the command line needs the cli extra: pip install "aiotaskbridge[cli]"'
)


def _check_extra() -> None:
    try:
        import click  # noqa: F401
        import rich  # noqa: F401
    except ImportError:
        sys.stderr.write(_MISSING_EXTRA + "\n")
        raise SystemExit(2) from None


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``taskbridge`` command line (the console script)."""
    _check_extra()
    from ._app import cli, invoke

    invoke(cli, argv, "taskbridge")


def sandbox_main(argv: Sequence[str] | None = None) -> None:
    """Run ``python -m taskbridge.sandbox``: the ``taskbridge sandbox`` command."""
    _check_extra()
    from ._app import invoke
    from .sandbox import sandbox

    invoke(sandbox, argv, "python -m taskbridge.sandbox")
