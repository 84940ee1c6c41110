"""``python -m tailgate``: the same as the ``tailgate`` command."""

from tailgate.cli import main

main()
