"""Protocol metrics for top-k lists: NDCG@k (binary relevance), Recall@k and catalogue coverage.

Conventions (PROTOCOLS.md): ``Recall@k = hits / min(|truth|, k)``; ``NDCG@k = DCG / IDCG`` with
``DCG = sum over hits of 1 / log2(rank + 1)`` (rank from 1) and IDCG the DCG of ``min(|truth|, k)`` hits at the
top; both averaged over test customers. Coverage is the share of the catalogue appearing in at least one list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KS = (5, 10, 20)


@dataclass(frozen=True)
class TopKMetrics:
    """Protocol metrics at one cut-off ``k``."""

    k: int
    ndcg: float
    recall: float
    coverage: float

    def to_dict(self) -> dict[str, float]:
        return {f"ndcg@{self.k}": self.ndcg, f"recall@{self.k}": self.recall, f"coverage@{self.k}": self.coverage}


def hit_matrix(topk: np.ndarray, truth: Sequence[np.ndarray]) -> np.ndarray:
    """Boolean ``(n, k)``: whether the item at each rank is in that customer's truth."""
    hits = np.zeros(topk.shape, dtype=bool)
    for i, items in enumerate(truth):
        hits[i] = np.isin(topk[i], items)
    return hits


def evaluate_topk(
    topk: np.ndarray, truth: Sequence[np.ndarray], n_items: int, ks: Sequence[int] = KS
) -> dict[int, TopKMetrics]:
    """Metrics at each ``k`` in ``ks`` for ranked item columns ``topk`` (one row per test customer).

    ``topk`` needs at least ``max(ks)`` columns; entries < 0 mean "no item" and never hit.
    """
    topk = np.asarray(topk)
    if topk.shape[0] != len(truth):
        raise ValueError(f"{topk.shape[0]} lists for {len(truth)} truth sets")
    if topk.shape[1] < max(ks):
        raise ValueError(f"lists have {topk.shape[1]} items, fewer than k = {max(ks)}")
    hits = hit_matrix(topk, truth) & (topk >= 0)
    sizes = np.array([len(t) for t in truth])
    discount = 1.0 / np.log2(np.arange(2, max(ks) + 2))
    out = {}
    for k in ks:
        ideal_n = np.minimum(sizes, k)
        idcg = np.cumsum(discount[:k])[np.maximum(ideal_n - 1, 0)] * (ideal_n > 0)
        dcg = hits[:, :k] @ discount[:k]
        with np.errstate(invalid="ignore", divide="ignore"):
            ndcg = np.where(idcg > 0, dcg / idcg, 0.0)
            recall = np.where(ideal_n > 0, hits[:, :k].sum(axis=1) / ideal_n, 0.0)
        shown = topk[:, :k]
        coverage = len(np.unique(shown[shown >= 0])) / n_items
        out[k] = TopKMetrics(k=k, ndcg=float(ndcg.mean()), recall=float(recall.mean()), coverage=float(coverage))
    return out


def metrics_dict(metrics: dict[int, TopKMetrics]) -> dict[str, float]:
    """Flatten ``{k: TopKMetrics}`` to ``{"ndcg@10": ..., ...}`` for JSON and MLflow."""
    flat: dict[str, float] = {}
    for m in metrics.values():
        flat.update(m.to_dict())
    return flat


def top_k(scores: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Column indices of the ``k`` best scores per row, best first; equal scores go to the lower column index.

    ``exclude`` is a boolean mask of the same shape; excluded cells never appear (-1 pads rows with fewer
    than ``k`` allowed columns). ``np.argpartition`` alone picks among equal scores at the k-th place by the
    CPU's SIMD path, which made benchmark figures differ between machines; rows with such a tie are settled
    explicitly, so the result equals a stable sort of every row (tested against that oracle).
    """
    scores = np.array(scores, dtype="float64", copy=True)
    if exclude is not None:
        scores[exclude] = -np.inf
    k = min(k, scores.shape[1])
    if k == 0:
        return np.empty((scores.shape[0], 0), dtype=np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    kth = part_scores.min(axis=1)
    tied_everywhere = (scores == kth[:, None]).sum(axis=1)
    tied_inside = (part_scores == kth[:, None]).sum(axis=1)
    for row in np.flatnonzero(tied_everywhere > tied_inside):
        above = np.flatnonzero(scores[row] > kth[row])
        tied = np.flatnonzero(scores[row] == kth[row])
        part[row] = np.concatenate([above, tied[: k - len(above)]])
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    result = np.take_along_axis(part, order, axis=1)
    result[np.take_along_axis(scores, result, axis=1) == -np.inf] = -1
    return result
