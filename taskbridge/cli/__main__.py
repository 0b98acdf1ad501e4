"""``python -m taskbridge.cli``: the ``taskbridge`` command line."""

from . import main

if __name__ == "__main__":
    main()
