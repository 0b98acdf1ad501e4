"""``python -m taskbridge.sandbox``: the ``taskbridge sandbox`` command (same options)."""

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``taskbridge sandbox``; the entry script imports the CLI, the sandbox never does."""
    from ..cli import sandbox_main

    sandbox_main(argv)


if __name__ == "__main__":
    main()
