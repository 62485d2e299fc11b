"""``python -m shopml`` runs the CLI."""

from shopml.cli import main

main()
