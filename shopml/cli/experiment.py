"""``shopml experiment``: evaluate and size A/B tests."""

import typer

app = typer.Typer(help="Evaluate A/B tests and size new ones.", no_args_is_help=True)
