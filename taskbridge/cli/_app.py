"""The ``taskbridge`` click group, and how a command line is run: one line per error."""

from __future__ import annotations

from collections.abc import Sequence

import click

from .. import __version__
from ._common import UsageProblem
from .demo import demo
from .get import get
from .get_many import get_many
from .sandbox import sandbox
from .wait import wait
from .watch import watch
from .webhooks import webhooks

__all__ = ["cli", "invoke"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="taskbridge", message="%(prog)s %(version)s")
def cli() -> None:
    """Fetch Cakewalk and Alumio tasks. Start with: taskbridge demo

    Credentials come from the TASKBRIDGE_* variables or the options of each
    command. Exit status: 0 all fetched, 1 some failed, 2 usage or configuration error.
    """


for _command in (demo, get, get_many, wait, watch, sandbox, webhooks):
    cli.add_command(_command)


def _one_line(error: click.ClickException) -> str:
    """``taskbridge: ...`` in one line: the problem, then where to read more."""
    message = " ".join(error.format_message().split()).rstrip(".")
    ctx = getattr(error, "ctx", None)
    if isinstance(error, click.UsageError) and ctx is not None:
        message += f"; see {ctx.command_path} --help"
    return f"taskbridge: {message}"


def invoke(command: click.Command, argv: Sequence[str] | None, prog_name: str) -> None:
    """Run ``command`` as a program: exit with its status; a usage error is one line, exit 2."""
    args = None if argv is None else list(argv)
    try:
        command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.ClickException as exc:
        click.echo(_one_line(exc), err=True)
        raise SystemExit(exc.exit_code) from None
    except UsageProblem as exc:  # found while reading the options, before the command ran
        click.echo(f"taskbridge: {exc}", err=True)
        raise SystemExit(2) from None
    except click.Abort:  # Ctrl-C or end of input at a prompt
        raise SystemExit(130) from None
    raise SystemExit(0)
