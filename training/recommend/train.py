"""Train, evaluate, log and register the recommender (``shopml train recommender``).

One MLflow run: the protocol evaluation at an evaluation cutoff (every baseline and model side by side at
k = 5, 10, 20, coverage, a plot of NDCG@10 by model), then the recommender refitted on all the data,
logged as a pyfunc, registered as ``recommender`` and promoted to ``champion`` only if its NDCG@10 beats the
champion's on the same evaluation (same data fingerprint and split).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shopml.errors import DataValidationError
from shopml.settings import Settings
from training.names import CHAMPION_ALIAS, RECOMMENDER
from training.recommend.fit import RecommenderConfig, fit_recommender
from training.recommend.predict import Recommender
from training.recommend.protocol import PRIMARY, ProtocolReport, evaluate_protocol

log = logging.getLogger(__name__)

EXPERIMENT = "recommender"
PRIMARY_METRIC = "ndcg_at_10"
ONLINE_RETAIL = "online-retail"
ONLINE_RETAIL_CUTOFF = "2011-11-01"
DEFAULT_EVALUATION_DAYS = 30


@dataclass
class TrainOutcome:
    """What a training run produced and decided."""

    recommender: Recommender
    report: ProtocolReport
    run_id: str
    version: str
    promoted: bool
    reason: str
    seconds: dict[str, float] = field(default_factory=dict)


def online_retail_path() -> Path:
    """Online Retail I in the workplace's shared data (``../shared/data`` beside the project)."""
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "online_retail" / "online_retail_I.csv.gz"


def load_training_tables(settings: Settings, data: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Canonical orders and products: the data home by default, ``"online-retail"``, or a path to load."""
    if data is None:
        from features.store import load_tables

        return load_tables(settings.raw_dir, ("orders", "products"))
    from features.loaders import load

    path = online_retail_path() if str(data) == ONLINE_RETAIL else Path(data)
    return load(path).tables


def default_cutoff(orders: pd.DataFrame, data: str | Path | None = None) -> pd.Timestamp:
    """The protocol cutoff for Online Retail, else the last ``DEFAULT_EVALUATION_DAYS`` days held out."""
    if data is not None and str(data) == ONLINE_RETAIL:
        return pd.Timestamp(ONLINE_RETAIL_CUTOFF)
    if orders.empty:
        raise DataValidationError("the orders table is empty: load or generate data first.")
    return orders["ordered_at"].max().normalize() + pd.Timedelta(days=1 - DEFAULT_EVALUATION_DAYS)


def champion_exists(settings: Settings) -> bool:
    from mlflow.exceptions import MlflowException

    from training.tracking import configure_mlflow

    try:
        configure_mlflow(settings).get_model_version_by_alias(RECOMMENDER, CHAMPION_ALIAS)
    except MlflowException:
        return False
    return True


def train_recommender(
    settings: Settings,
    tables: dict[str, pd.DataFrame],
    *,
    cutoff: str | pd.Timestamp | None = None,
    config: RecommenderConfig | None = None,
    force: bool = False,
    run_name: str = "recommender",
) -> TrainOutcome:
    """Evaluate at ``cutoff``, refit on all data, log to MLflow, register and maybe promote."""
    import time

    import mlflow

    from features.store import fingerprint
    from training.recommend.pyfunc import log_recommender
    from training.registry import register_and_promote
    from training.tracking import (
        configure_mlflow,
        log_data_lineage,
        log_figure,
        log_metrics_flat,
        training_run,
    )

    config = config or RecommenderConfig(seed=settings.seed)
    orders, products = tables["orders"], tables.get("products")
    cutoff = pd.Timestamp(cutoff) if cutoff is not None else default_cutoff(orders)
    data_print = fingerprint(orders)
    client = configure_mlflow(settings)
    seconds: dict[str, float] = {}
    with training_run(settings, EXPERIMENT, run_name) as run:
        started = time.perf_counter()
        report = evaluate_protocol(orders, products, cutoff, config=config)
        seconds["evaluate"] = time.perf_counter() - started
        started = time.perf_counter()
        final = fit_recommender(orders, products, None, config)
        seconds["refit"] = time.perf_counter() - started
        recommender = final.recommender
        mlflow.log_params({f"config.{k}": v for k, v in config.to_params().items()})
        mlflow.log_params({"test_customers": report.split.n_test, "ranker_windows_used": len(final.windows),
                           "items": recommender.n_items, "customers": recommender.n_customers})
        log_data_lineage(data_print, {"evaluation": f"{cutoff:%Y-%m-%d}",
                                      "evaluation_end": f"{report.split.end:%Y-%m-%d}"}, [])
        table = report.table()
        log_metrics_flat(table, prefix="protocol")
        primary = table[PRIMARY]
        mlflow.log_metrics({PRIMARY_METRIC: primary["ndcg@10"], "recall_at_10": primary["recall@10"],
                            "coverage_at_10": primary["coverage@10"]})
        mlflow.log_dict(table, "protocol_metrics.json")
        log_figure(ndcg_plot(table), "ndcg_at_10_by_model")
        with tempfile.TemporaryDirectory() as tmp:
            info = log_recommender(recommender, Path(tmp) / "recommender")
        decision = register_and_promote(
            client, model_name=RECOMMENDER, model_uri=info.model_uri, run_id=run.info.run_id,
            metric=PRIMARY_METRIC, value=primary["ndcg@10"],
            evaluation_key=f"{data_print}:{report.split.key()}", force=force,
        )
    return TrainOutcome(recommender, report, run.info.run_id, decision.version, decision.promoted,
                        decision.reason, seconds)


def ndcg_plot(table: dict[str, dict[str, float]]):
    """Bar chart of NDCG@10 per model (the recommender highlighted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(table)
    values = [table[n]["ndcg@10"] for n in names]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.barh(names, values, color=["tab:orange" if n == PRIMARY else "tab:blue" for n in names])
    ax.set_xlabel("NDCG@10 on the evaluation window")
    ax.invert_yaxis()
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.3f}", va="center")
    fig.tight_layout()
    return fig
