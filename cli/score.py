"""``shopml score``: score customers for marketing."""

import typer

app = typer.Typer(help="Score customers: churn risk, predicted value and lifecycle segment.", no_args_is_help=True)

from cli.customers import audiences  # noqa: E402

app.command("audiences")(audiences)
