"""``shopml report``: HTML reports for people to look at."""

import typer

app = typer.Typer(help="Write HTML reports with plots.", no_args_is_help=True)
