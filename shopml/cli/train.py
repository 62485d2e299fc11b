"""``shopml train``: train models, track them in MLflow and promote champions."""

import typer

app = typer.Typer(help="Train models; every run is tracked in MLflow and promoted only if it wins.", no_args_is_help=True)
