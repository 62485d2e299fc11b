"""``python -m cli`` runs the ``shopml`` command line."""

from cli import main

main()
