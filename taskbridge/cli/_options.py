"""The options every fetching command takes: credentials, limits, timeout, ``--sandbox``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..providers import registered
from ._common import SANDBOX_SEED, Settings, credentials

__all__ = ["connection_options", "format_option", "settings_of"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _rate_defaults() -> str:
    shown = ((s.title, s.requests_per_minute) for s in registered().values())
    return ", ".join(f"{title} {'none' if rpm is None else f'{rpm:g}'}" for title, rpm in shown)


def connection_options(timeout_flag: str = "--timeout") -> Callable[[_F], _F]:
    """Add the credential, limit, timeout and ``--sandbox`` options to a command."""

    def decorate(f: _F) -> _F:
        for credential in reversed(credentials()):
            option, var, text = credential.option, credential.env, credential.help
            # Never show_default: a secret taken from the environment must not be printed.
            f = click.option(option, envvar=var, show_envvar=True, help=text)(f)
        f = click.option(
            "--max-concurrency",
            "--concurrency",
            "concurrency",
            type=click.IntRange(min=1),
            envvar="TASKBRIDGE_MAX_CONCURRENCY",
            show_envvar=True,
            help="Requests in flight per provider.",
        )(f)
        f = click.option(
            "--requests-per-minute",
            type=click.FloatRange(min=0, min_open=True),
            envvar="TASKBRIDGE_REQUESTS_PER_MINUTE",
            show_envvar=True,
            help=f"Client-side rate limit per provider (default: {_rate_defaults()}).",
        )(f)
        f = click.option(
            timeout_flag,
            "timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=30.0,
            show_default=True,
            help="Seconds allowed for each attempt.",
        )(f)
        return click.option(
            "--sandbox",
            is_flag=True,
            help=f"Start a bundled sandbox (seed {SANDBOX_SEED}) in-process and fetch from it.",
        )(f)

    return decorate


def format_option(
    choices: list[str], default: str | None, text: str, *, shown: str | None = None
) -> Callable[[_F], _F]:
    """The ``--format`` option of a command that prints many results (``shown``: what
    the help says the default is, when it is chosen later: ``default=None``)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=shown if shown is not None else True,
        help=text,
    )


def settings_of(options: dict[str, Any]) -> Settings:
    """The `Settings` of a command's connection options (credentials become variables)."""
    environ = {}
    for credential in credentials():
        value = options.pop(credential.option.lstrip("-").replace("-", "_"))
        if value:
            environ[credential.env] = value
    return Settings(
        environ,
        options["sandbox"],
        options["timeout"],
        options["concurrency"],
        options.get("requests_per_minute"),
    )
