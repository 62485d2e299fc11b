"""The Online Retail recommendation protocol, run for every model side by side.

:func:`evaluate_protocol` splits at ``cutoff``, fits the baselines, item-kNN, EASE and the full recommender
on purchases before it only, and scores each on the protocol's truth at k = 5, 10, 20. The full recommender
is evaluated through its inference object (:meth:`Recommender.recommend_batch`), so the figures are those of
what is served.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.recommend.data import ProtocolSplit, protocol_split
from training.recommend.ease import EASE
from training.recommend.evaluate import KS, TopKMetrics, evaluate_topk, metrics_dict, top_k
from training.recommend.fit import FittedRecommender, RecommenderConfig, fit_recommender
from training.recommend.itemknn import ItemKNN
from training.recommend.popularity import Popularity

log = logging.getLogger(__name__)

PRIMARY = "recommender"


@dataclass
class ProtocolReport:
    """Metrics per model on one split, the fitted recommender, and timings."""

    split: ProtocolSplit
    by_model: dict[str, dict[int, TopKMetrics]]
    fitted: FittedRecommender
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def primary(self) -> dict[int, TopKMetrics]:
        return self.by_model[PRIMARY]

    def table(self) -> dict[str, dict[str, float]]:
        """``{model: {"ndcg@10": ..., ...}}`` for JSON, MLflow and printing."""
        return {name: metrics_dict(m) for name, m in self.by_model.items()}


def baseline_models(config: RecommenderConfig) -> dict[str, object]:
    """The models compared with the recommender, by the names used in results files."""
    return {
        "popularity": Popularity("global"),
        "popularity_country": Popularity("country"),
        "popularity_decayed": Popularity("decayed"),
        "popularity_recent": Popularity("window", window_days=config.popular_days),
        "item_knn": ItemKNN(config.knn_neighbours),
        "ease": EASE(config.ease_lambda),
    }


def evaluate_protocol(
    orders: pd.DataFrame,
    products: pd.DataFrame | None,
    cutoff: str | pd.Timestamp,
    end: str | pd.Timestamp | None = None,
    config: RecommenderConfig | None = None,
    *,
    baselines: bool = True,
) -> ProtocolReport:
    """Fit every model on purchases before ``cutoff`` and score it on ``[cutoff, end)``."""
    config = config or RecommenderConfig()
    split = protocol_split(orders, cutoff, end, products)
    data, rows = split.train, split.test_rows
    bought = data.interactions.counts[rows].toarray() > 0
    by_model: dict[str, dict[int, TopKMetrics]] = {}
    seconds: dict[str, float] = {}
    if baselines:
        for name, model in baseline_models(config).items():
            started = time.perf_counter()
            scores = model.fit(data).score(data, rows)
            by_model[name] = evaluate_topk(top_k(scores, max(KS), bought), split.truth, data.n_items)
            seconds[name] = time.perf_counter() - started
            log.info("%s: ndcg@10 %.4f", name, by_model[name][10].ndcg)
    started = time.perf_counter()
    fitted = fit_recommender(orders, products, split.cutoff, config)
    seconds[PRIMARY] = time.perf_counter() - started
    by_model[PRIMARY] = evaluate_recommender(fitted.recommender, split)
    log.info("recommender: ndcg@10 %.4f", by_model[PRIMARY][10].ndcg)
    return ProtocolReport(split=split, by_model=by_model, fitted=fitted, seconds=seconds)


def evaluate_recommender(recommender, split: ProtocolSplit) -> dict[int, TopKMetrics]:
    """Protocol metrics of an inference object's lists for the split's test customers."""
    customers = split.train.customer_ids[split.test_rows].astype(str)
    lists = recommender.recommend_batch(customers, k=max(KS))
    column = {s: j for j, s in enumerate(split.train.skus.astype(str))}
    topk = np.full((len(customers), max(KS)), -1, dtype="int64")
    for i, c in enumerate(customers):
        cols = [column.get(r.sku, -1) for r in lists[c]]
        topk[i, : len(cols)] = cols
    return evaluate_topk(topk, split.truth, split.train.n_items)
