"""``shopml train``: train models, track them in MLflow and promote champions."""

import inspect
from collections.abc import Callable

import typer

app = typer.Typer(help="Train models; every run is tracked in MLflow and promoted only if it wins.", no_args_is_help=True)

from cli.customers import train_churn, train_customers, train_value  # noqa: E402

app.command("churn")(train_churn)
app.command("value")(train_value)
app.command("customers")(train_customers)

from cli.recommend import train_recommender  # noqa: E402

app.command("recommender")(train_recommender)

from cli.forecast import train_forecast  # noqa: E402

app.command("forecast")(train_forecast)

ALL_STEPS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("churn and customer value", train_customers), ("recommender", train_recommender),
    ("demand forecast", train_forecast),
)
"""What ``shopml train all`` runs, in order: a label and the sub-command."""


def command_defaults(command: Callable[..., object]) -> dict[str, object]:
    """A sub-command's parameter defaults as typer declares them (``typer.Option(default)`` or ``= default``),
    so that ``train all`` runs each sub-command exactly as ``shopml train <name>`` without options would."""
    defaults = {}
    for name, parameter in inspect.signature(command).parameters.items():
        default = parameter.default
        defaults[name] = default.default if isinstance(default, typer.models.ParameterInfo) else default
    return defaults


@app.command("all")
def train_all(
    force: bool = typer.Option(False, "--force", help="Promote every new version even if it does not win."),
    if_missing: bool = typer.Option(False, "--if-missing", help="Skip models that already have a champion."),
) -> None:
    """Train churn, customer value, the recommender and the demand forecaster with their default options."""
    from cli._console import console

    for number, (label, command) in enumerate(ALL_STEPS, start=1):
        console.rule(f"[{number}/{len(ALL_STEPS)}] {label}")
        command(**{**command_defaults(command), "force": force, "if_missing": if_missing})
