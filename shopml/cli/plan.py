"""``shopml plan``: delivery routes, stock allocation and replenishment."""

import typer

app = typer.Typer(help="Plan delivery routes, stock allocation and replenishment.", no_args_is_help=True)
from shopml.cli.routing import routes  # noqa: E402
app.command("routes")(routes)
