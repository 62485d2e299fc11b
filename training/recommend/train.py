"""Train the recommender: the protocol evaluation at a cutoff, a refit on all data, then the shared lifecycle.

The protocol scores every baseline and model side by side at k = 5, 10, 20 with coverage (logged as
``protocol.<model>.<metric>``, with a plot of NDCG@10 by model); the recommender refitted on all the data is
what gets registered as ``recommender``, promoted to ``champion`` only if its NDCG@10 beats the champion's on
the same evaluation (same data fingerprint and split). Logging, registration and promotion are
:func:`training.lifecycle.run_training`'s.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shopml.errors import DataValidationError
from shopml.settings import Settings
from training.lifecycle import ONLINE_RETAIL, Candidate, Lineage, TrainOutcome, run_training
from training.names import RECOMMENDER
from training.recommend.fit import FittedRecommender, RecommenderConfig, fit_recommender
from training.recommend.predict import Recommender
from training.recommend.protocol import PRIMARY, ProtocolReport, evaluate_protocol

log = logging.getLogger(__name__)

EXPERIMENT = "recommender"
PRIMARY_METRIC = "ndcg_at_10"
ONLINE_RETAIL_CUTOFF = "2011-11-01"
DEFAULT_EVALUATION_DAYS = 30


@dataclass
class RecommenderResult:
    """The recommender refitted on all data, the protocol report at the evaluation cutoff, stage timings."""

    recommender: Recommender
    report: ProtocolReport
    fitted: FittedRecommender
    seconds: dict[str, float] = field(default_factory=dict)


def default_cutoff(orders: pd.DataFrame, data: str | Path | None = None) -> pd.Timestamp:
    """The protocol cutoff for Online Retail, else the last ``DEFAULT_EVALUATION_DAYS`` days held out."""
    if data is not None and str(data) == ONLINE_RETAIL:
        return pd.Timestamp(ONLINE_RETAIL_CUTOFF)
    if orders.empty:
        raise DataValidationError("the orders table is empty: load or generate data first.")
    return orders["ordered_at"].max().normalize() + pd.Timedelta(days=1 - DEFAULT_EVALUATION_DAYS)


def train_recommender(
    settings: Settings,
    tables: dict[str, pd.DataFrame],
    *,
    params: RecommenderConfig | None = None,
    cutoff: str | pd.Timestamp | None = None,
    force: bool = False,
) -> TrainOutcome[RecommenderResult]:
    """Evaluate at ``cutoff``, refit on all data, then log, register and promote it if it wins (or ``force``)."""
    from features.store import fingerprint
    from training.recommend.candidates import FEATURES

    started = time.perf_counter()
    params = params or RecommenderConfig(seed=settings.seed)
    orders, products = tables["orders"], tables.get("products")
    cutoff = pd.Timestamp(cutoff) if cutoff is not None else default_cutoff(orders)
    report = evaluate_protocol(orders, products, cutoff, config=params)
    seconds = {"evaluate": time.perf_counter() - started}
    final = fit_recommender(orders, products, None, params)
    seconds["refit"] = time.perf_counter() - started - seconds["evaluate"]
    recommender = final.recommender
    result = RecommenderResult(recommender, report, final, seconds)
    data_print = fingerprint(orders)
    table = report.table()
    primary = table[PRIMARY]
    candidate = Candidate(
        model_name=RECOMMENDER, experiment=EXPERIMENT, run_name=RECOMMENDER,
        model=recommender, example=_example(recommender), metric=PRIMARY_METRIC, value=primary["ndcg@10"],
        lineage=Lineage(data_print, f"{data_print}:{report.split.key()}",
                        {"evaluation": f"{cutoff:%Y-%m-%d}", "evaluation_end": f"{report.split.end:%Y-%m-%d}"},
                        tuple(FEATURES) if final.ranker is not None else ()),
        params={**{f"config.{k}": v for k, v in params.to_params().items()},
                "test_customers": report.split.n_test, "ranker_windows_used": len(final.windows),
                "items": recommender.n_items, "customers": recommender.n_customers},
        metrics=table, metrics_prefix="protocol",
        diagnostics={"recall_at_10": primary["recall@10"], "coverage_at_10": primary["coverage@10"]},
        artifacts={"protocol_metrics.json": table},
        figures={"ndcg_at_10_by_model": lambda: ndcg_plot(table)},
    )
    return run_training(settings, candidate, result, force=force, started=started)


def _example(recommender: Recommender) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [recommender.customer_ids[0] if recommender.n_customers else "0"], "k": [3]})


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
