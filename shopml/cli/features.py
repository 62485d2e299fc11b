"""``shopml features``: build point-in-time feature tables."""

import typer

app = typer.Typer(help="Build customer, interaction and demand features as of a cutoff.", no_args_is_help=True)
