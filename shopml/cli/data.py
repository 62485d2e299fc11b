"""``shopml data``: generate the demo shop or load real data into canonical tables."""

import typer

app = typer.Typer(help="Generate the synthetic demo shop or load real data.", no_args_is_help=True)
