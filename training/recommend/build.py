"""Assemble a :class:`~training.recommend.predict.Recommender` from fitted models and training data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from training.recommend.data import TrainingData
from training.recommend.popularity import buyer_counts
from training.recommend.predict import Ragged, Recommender


def ragged_from_dense(items: np.ndarray, scores: np.ndarray) -> Ragged:
    """Rows of ``items`` (``-1`` = padding) with their scores as a :class:`Ragged`."""
    rows = []
    for it, sc in zip(items, scores, strict=True):
        keep = it >= 0
        rows.append((it[keep], sc[keep]))
    return Ragged.from_rows(rows)


def ragged_from_sparse(matrix: sp.csr_matrix, keep: int) -> Ragged:
    """Each row's ``keep`` largest entries, best first (ties by column)."""
    matrix = matrix.tocsr()
    rows = []
    for i in range(matrix.shape[0]):
        lo, hi = matrix.indptr[i], matrix.indptr[i + 1]
        cols, vals = matrix.indices[lo:hi], matrix.data[lo:hi]
        order = np.lexsort((cols, -vals))[:keep]
        order = order[vals[order] > 0]
        rows.append((cols[order], vals[order]))
    return Ragged.from_rows(rows)


def popularity_lists(data: TrainingData, days: int, list_length: int) -> tuple[Ragged, np.ndarray, tuple]:
    """Best-sellers per country and overall: buyers in the last ``days``, all-time buyers break ties.

    The global list holds every item (so the fallback never runs dry); country lists hold items bought
    in that country, at most ``list_length``.
    """
    orders = data.orders
    recent = orders.loc[orders["ordered_at"] >= data.cutoff - pd.Timedelta(days=days)]
    total = buyer_counts(orders, data.skus)
    score = buyer_counts(recent, data.skus) + total / (total.max() + 1.0)
    order = np.lexsort((np.arange(data.n_items), -score))
    global_list = (order.astype("int32"), score[order].astype("float32"))
    countries = np.unique(data.customer_country.astype(str))
    rows = []
    for country in countries:
        part = orders.loc[orders["country"].astype(str) == country]
        local_recent = buyer_counts(part.loc[part["ordered_at"] >= data.cutoff - pd.Timedelta(days=days)], data.skus)
        local_total = buyer_counts(part, data.skus)
        local = local_recent + local_total / (local_total.max() + 1.0) + score / (score.max() + 1.0) * 1e-3
        local_order = np.lexsort((np.arange(data.n_items), -local))
        local_order = local_order[local_total[local_order] > 0][:list_length]
        rows.append((local_order, local[local_order]))
    return Ragged.from_rows(rows), countries, global_list


def purchase_history(data: TrainingData) -> Ragged:
    """Each customer's items ordered by buy-again score (recency-weighted order lines, then count)."""
    recency = data.interactions.recency.tocsr()
    counts = data.interactions.counts.tocsr()
    rows = []
    for i in range(data.n_customers):
        lo, hi = recency.indptr[i], recency.indptr[i + 1]
        cols, rec, cnt = recency.indices[lo:hi], recency.data[lo:hi], counts.data[lo:hi]
        order = np.lexsort((cols, -cnt, -rec))
        rows.append((cols[order], rec[order]))
    return Ragged.from_rows(rows)


def build_recommender(
    data: TrainingData,
    ranked_items: np.ndarray,
    ranked_scores: np.ndarray,
    similarity: sp.csr_matrix,
    *,
    model_source: str,
    popular_days: int = 28,
    neighbours: int = 50,
    list_length: int = 100,
    info: dict | None = None,
) -> Recommender:
    """Package per-customer ranked lists (rows aligned with ``data.customer_ids``) and item neighbours."""
    popular, countries, global_list = popularity_lists(data, popular_days, list_length)
    country_index = pd.Index(countries).get_indexer(data.customer_country.astype(str))
    return Recommender(
        skus=data.skus, customer_ids=data.customer_ids,
        ranked=ragged_from_dense(ranked_items, ranked_scores), history=purchase_history(data),
        neighbours=ragged_from_sparse(similarity, neighbours), popular=popular, popular_global=global_list,
        countries=countries, customer_country=country_index, model_source=model_source,
        info={"cutoff": f"{data.cutoff:%Y-%m-%d %H:%M:%S}", **(info or {})},
    )
