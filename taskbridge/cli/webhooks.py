"""``taskbridge webhooks listen``: receive Cakewalk's webhooks and print the verified events.

For setting things up: it serves ``POST PATH`` (default ``/webhooks``) on ``--port``,
verifies each request (the key from Cakewalk's ``/api/Keys`` with the
``TASKBRIDGE_CAKEWALK_*`` credentials, or ``--public-key FILE``, or ``--secret`` for
the HMAC reading), and prints one line per event on stdout (``--json``: one JSON
object per line). With ``--sandbox URL`` it verifies with that sandbox's key and
registers itself there as the webhook target. Ends with Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from . import _common as common

if TYPE_CHECKING:  # imported when the command runs: --help stays light (no aiohttp)
    from ..webhooks import CakewalkWebhooks, WebhookEvent

__all__ = ["webhooks"]


def event_line(event: WebhookEvent, as_json: bool) -> str:
    """One printed line for ``event``."""
    from ..webhooks import ActionableTaskEvent

    if as_json:
        return orjson.dumps({"type": event.type, "data": event.data}).decode()
    if isinstance(event, ActionableTaskEvent):
        return f"{event.type} cakewalk {event.task_id}"
    return f"{event.type} {orjson.dumps(event.data).decode()}"


def _hooks(options: dict[str, Any]) -> CakewalkWebhooks:
    from .. import CakewalkConfig
    from ..providers._kit.emulation import Credentials
    from ..webhooks import CakewalkWebhooks

    if options["public_key"] is not None:
        return CakewalkWebhooks(public_key=Path(options["public_key"]).read_bytes())
    if options["secret"]:
        return CakewalkWebhooks(secret=options["secret"])
    if options["sandbox"] is not None:
        given = Credentials()
        config = CakewalkConfig(
            given.cakewalk_api_key, given.cakewalk_api_secret, base_url=options["sandbox"]
        )
    else:
        found = CakewalkConfig.from_env(dict(os.environ))
        if found is None:
            raise common.UsageProblem(
                "no key source: set TASKBRIDGE_CAKEWALK_API_KEY and "
                "TASKBRIDGE_CAKEWALK_API_SECRET, or pass --public-key, --secret or --sandbox"
            )
        config = found
    return CakewalkWebhooks.from_config(config)


async def _listen(options: dict[str, Any]) -> int:
    from aiohttp import ClientSession, web

    from ..webhooks import aiohttp_handler

    as_json = options["as_json"]

    def show(events: list[WebhookEvent]) -> None:
        sys.stdout.write("".join(event_line(e, as_json) + "\n" for e in events))
        sys.stdout.flush()

    async with _hooks(options) as hooks:
        app = web.Application()
        app.router.add_post(options["path"], aiohttp_handler(hooks, show))
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, options["host"], options["port"])
            await site.start()
            port = runner.addresses[0][1]
            url = f"http://{options['host']}:{port}{options['path']}"
            sys.stdout.write(f"taskbridge webhooks listening on {url}\n")
            sys.stdout.flush()
            sandbox = options["sandbox"]
            if sandbox is not None:
                async with ClientSession() as session:
                    target = f"{sandbox.rstrip('/')}/_sandbox/webhooks"
                    async with session.post(target, data=orjson.dumps({"url": url})) as answer:
                        if answer.status != 204:
                            raise common.UsageProblem(
                                f"the sandbox at {sandbox} refused the webhook target "
                                f"(HTTP {answer.status})"
                            )
                common.say(f"registered with the sandbox at {sandbox}")
            await asyncio.get_running_loop().create_future()  # until Ctrl-C
        finally:
            await runner.cleanup()
    return 0


@click.group()
def webhooks() -> None:
    """Cakewalk's webhooks: receive and verify them (the webhooks extra)."""


@webhooks.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8081, show_default=True,
              help="Port to listen on (0: any free one, printed).")  # fmt: skip
@click.option("--path", default="/webhooks", show_default=True, help="The path to POST to.")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
              help="Verify with this PEM public key (no key fetch).")  # fmt: skip
@click.option("--secret", envvar="TASKBRIDGE_WEBHOOK_SECRET", show_envvar=True,
              help="Verify HMAC-SHA256 signatures with this shared secret.")  # fmt: skip
@click.option("--sandbox", metavar="URL",
              help="Use this sandbox's key; register as its webhook target.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print each event as a JSON line.")
def listen(**options: Any) -> None:
    """Listen for Cakewalk's webhooks and print each verified event.

    Refused requests are logged on stderr with why (401, 400, 413). Ends with Ctrl-C.
    """
    if not options["path"].startswith("/"):
        raise click.BadParameter("must start with /", param_hint="--path")
    common.run(_listen(options))
