"""``shopml models``: what the registry holds."""

import typer

app = typer.Typer(help="Registered models, champion versions and their key metrics.", no_args_is_help=True)
