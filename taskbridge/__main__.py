"""``python -m taskbridge``: the ``taskbridge`` command line."""

from .cli import main

if __name__ == "__main__":
    main()
