"""``shopml train``: train models, track them in MLflow and promote champions."""

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


@app.command("all")
def train_all(
    force: bool = typer.Option(False, "--force", help="Promote every new version even if it does not win."),
    if_missing: bool = typer.Option(False, "--if-missing", help="Skip models that already have a champion."),
) -> None:
    """Train churn, customer value, the recommender and the demand forecaster on the tables in the data home."""
    from cli._console import console

    steps = (
        ("churn and customer value", lambda: train_customers(data=None, cutoff=None, horizon=90, force=force,
                                                              if_missing=if_missing)),
        ("recommender", lambda: train_recommender(data=None, cutoff=None, no_ranker=False, force=force,
                                                  if_missing=if_missing)),
        ("demand forecast", lambda: train_forecast(data="raw", freq="W", by_region=True, horizon=None, top=None,
                                                   origins=3, force=force, if_missing=if_missing)),
    )
    for number, (name, run) in enumerate(steps, start=1):
        console.rule(f"[{number}/{len(steps)}] {name}")
        run()
