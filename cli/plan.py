"""``shopml plan``: delivery routes, stock allocation and replenishment."""

import typer

app = typer.Typer(help="Plan delivery routes, stock allocation and replenishment.", no_args_is_help=True)
from cli.routing import routes  # noqa: E402

app.command("routes")(routes)
from cli.allocation import allocate, replenish  # noqa: E402

app.command("allocate")(allocate)
app.command("replenish")(replenish)
app.command("allocation", hidden=True)(allocate)  # the spelling
app.command("replenishment", hidden=True)(replenish)
