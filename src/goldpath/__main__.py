"""``python -m goldpath``."""

from goldpath.cli import main

main()
