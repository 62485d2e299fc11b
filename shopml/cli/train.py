"""``shopml train``: train models, track them in MLflow and promote champions."""

import typer

app = typer.Typer(help="Train models; every run is tracked in MLflow and promoted only if it wins.", no_args_is_help=True)

from shopml.cli.customers import train_churn, train_customers, train_value  # noqa: E402

app.command("churn")(train_churn)
app.command("value")(train_value)
app.command("customers")(train_customers)

from shopml.cli.recommend import train_recommender  # noqa: E402

app.command("recommender")(train_recommender)

from shopml.cli.forecast import train_forecast  # noqa: E402

app.command("forecast")(train_forecast)
