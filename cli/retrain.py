"""``shopml retrain``: challengers on the latest complete windows, promoted only when they win on the newest
labelled window.

:func:`run_retrain` is the job (``bench/monitoring.py``'s replay calls it): the customer models are trained on
the order lines before ``--as-of`` with the usual cutoff plan (the evaluation cutoff is the latest whose 90-day
label window the data covers, training label windows end by it), and each challenger is compared with the
champion *on that same window*: the champion is re-scored there when it was evaluated on older data
(:func:`training.registry.register_and_promote`). The run's ``promotion.*`` tags and the model version's
``promotion`` tag record why. Schedule it (cron, Airflow, any scheduler) after ``shopml monitor``; the service
picks a new champion up by its alias poll, without a restart. Docs: ``docs/monitoring.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import typer


def retrain(
    as_of: str | None = typer.Option(
        None, "--as-of", help="Retrain as of YYYY-MM-DD: only order lines before it are used (default: all)."),
    force: bool = typer.Option(False, "--force", help="Promote the challengers even if they do not win."),
    train_cutoffs: int = typer.Option(16, "--train-cutoffs", min=2, max=64,
                                      help="Training cutoffs stacked, 10 days apart (default 16, as `shopml train`)."),
) -> None:
    """Train churn and customer-value challengers on the latest complete windows; promote those that beat the
    champion on the newest labelled window, and say why."""
    from cli._console import console, table
    from features.store import load_tables
    from shopml.settings import load_settings

    settings = load_settings()
    with console.status(f"reading the tables in {settings.raw_dir}"):
        tables = load_tables(settings.raw_dir, ("orders", "products"))
    with console.status("training challengers and comparing them with the champions"):
        result = run_retrain(settings, tables, as_of, force=force, n_train=train_cutoffs)
    console.print(table(f"Retrain as of {result['as_of']} (evaluated on the window from {result['evaluation_cutoff']})",
                        ["model", "version", "metric", "value", "promoted"],
                        [(m["model"], m["version"], m["metric"], f"{m['value']:.4f}", "yes" if m["promoted"] else "no")
                         for m in result["models"]]))
    for m in result["models"]:
        console.print(f"{m['model']} v{m['version']}: {'promoted' if m['promoted'] else 'not promoted'}: {m['reason']}",
                      soft_wrap=True)


def run_retrain(settings, tables: Mapping[str, pd.DataFrame], as_of: str | pd.Timestamp | None = None, *,
                force: bool = False, churn_params=None, families: tuple[str, ...] = ("churn", "value"),
                n_train: int = 16) -> dict[str, Any]:
    """Train and maybe promote the customer models on the lines before ``as_of``; what happened, JSON-safe."""
    from features.pipeline import check_cutoff, default_cutoff
    from training.customers.train import TrainConfig, prepare, train_churn, train_value

    orders = tables["orders"]
    when = check_cutoff(orders, as_of, "--as-of") if as_of is not None else default_cutoff(orders)
    seen = {"orders": orders.loc[orders["ordered_at"] < when], "products": tables["products"]}
    data = prepare(seen, TrainConfig(n_train=n_train))
    outcomes = []
    if "churn" in families:
        outcomes.append(train_churn(settings, data, params=churn_params, force=force))
    if "value" in families:
        outcomes.append(train_value(settings, data, force=force))
    return {"as_of": f"{when:%Y-%m-%d}", "evaluation_cutoff": f"{data.plan.evaluation:%Y-%m-%d}",
            "models": [{"model": o.model_name, "version": o.version, "metric": o.metric, "value": o.value,
                        "promoted": o.promoted, "reason": o.reason} for o in outcomes]}
