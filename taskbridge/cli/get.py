"""``taskbridge get``: fetch one task and show it (or print it as JSON)."""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import UnifiedTask
from . import _common as common
from . import _output as out
from ._options import connection_options, settings_of

__all__ = ["get", "print_task", "provider_argument"]

provider_argument = click.argument(
    "provider", type=click.Choice(common.providers(), case_sensitive=False), metavar="PROVIDER"
)


def print_task(task: UnifiedTask[Any], as_json: bool) -> None:
    """Print a task: its JSON (``--json``), else a small ``key  value`` view."""
    if as_json:
        sys.stdout.buffer.write(out.json_bytes(out.task_json(task)))
        sys.stdout.flush()
    else:
        out.stdout_console().print(out.task_view(task))


async def _get(settings: common.Settings, provider: str, task_id: str, as_json: bool) -> int:
    configs = common.configs_of(settings, needed=provider)
    common.check_configured(configs, [provider])
    async with common.open_bridge(settings, configs) as bridge:
        task = await bridge.get(provider, task_id)
    print_task(task, as_json)
    return 0


@click.command()
@provider_argument
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole task as JSON.")
@connection_options()
def get(provider: str, task_id: str, as_json: bool, **options: Any) -> None:
    """Fetch one task: taskbridge get cakewalk 00abd83b-3f9b-4e37-8840-2b87b3c1c069

    Add --sandbox to try it on the bundled sandbox, with no credentials.
    """
    common.run(_get(settings_of(options), provider.lower(), task_id, as_json))
