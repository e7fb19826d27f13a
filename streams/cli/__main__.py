"""``python -m streams.cli``: the ``nezlam`` command."""

from streams.cli.main import main

main()
