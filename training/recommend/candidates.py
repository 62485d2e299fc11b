"""Candidates for the ranker and their features, computed as of the training data's cutoff.

Candidates for a customer are the union of the top ``per_source`` items of EASE, item-kNN and recent
popularity, never an item the customer already bought. Each (customer, item) pair gets the features in
:data:`FEATURES`: the base models' scores and ranks, item popularity over all time, the last 28 days and
its trend against the 28 days before, item price and age, the customer's affinity to the item's category and
how long ago they last bought in it, and a few customer totals. Everything but the model scores is read
from the feature layer's rows in :class:`TrainingData` (``features.items``, ``features.interactions``), which
hold only data before the cutoff, so a ranker fitted on one cutoff's features and the next window's
purchases never sees its evaluation window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from training.recommend.data import TrainingData
from training.recommend.ease import EASE
from training.recommend.evaluate import top_k
from training.recommend.itemknn import ItemKNN

FEATURES = (
    "ease_score", "ease_rank", "knn_score", "knn_rank",
    "item_buyers", "item_buyers_28d", "item_trend_28d", "item_buyers_country",
    "item_log_price", "item_age_days", "item_days_since_sale",
    "cat_affinity", "cat_days_since", "cust_items", "cust_orders", "cust_days_since",
)
NEVER_DAYS = 10_000.0


@dataclass
class CandidateSet:
    """Pairs (customer row, item column) grouped by customer, with features and optional labels."""

    rows: np.ndarray
    items: np.ndarray
    features: np.ndarray
    groups: np.ndarray
    labels: np.ndarray | None = None


@dataclass
class FeatureSpace:
    """Item and customer arrays the features are gathered from (one fit per cutoff)."""

    item_buyers: np.ndarray
    item_buyers_28d: np.ndarray
    item_trend_28d: np.ndarray
    item_log_price: np.ndarray
    item_age_days: np.ndarray
    item_days_since_sale: np.ndarray
    item_category: np.ndarray
    cat_affinity: np.ndarray
    cat_days_since: np.ndarray
    cust_items: np.ndarray
    cust_orders: np.ndarray
    cust_days_since: np.ndarray
    customer_country_code: np.ndarray
    country_buyers: np.ndarray
    countries: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))

    @classmethod
    def build(cls, data: TrainingData) -> FeatureSpace:
        """Gather the feature layer's item, buyer and interaction rows (nothing here reads raw orders)."""
        items, buyers, table = data.item_table, data.buyer_table, data.interaction_table
        buyers_28 = items["buyers_28d"].to_numpy(dtype="float32")
        buyers_prev = items["buyers_28d_before"].to_numpy(dtype="float32")
        rows, cols = data.item_codes(table)
        n_cat = len(data.categories)
        cat = data.item_category[cols]
        affinity = np.zeros((data.n_customers, n_cat), dtype="float32")
        np.add.at(affinity, (rows, cat), table["order_lines"].to_numpy(dtype="float32"))
        affinity /= np.maximum(affinity.sum(axis=1, keepdims=True), 1.0)
        since = np.full((data.n_customers, n_cat), NEVER_DAYS, dtype="float32")
        np.minimum.at(since, (rows, cat), table["days_since_last_purchase"].to_numpy(dtype="float32"))
        countries, country_code = np.unique(data.customer_country.astype(str), return_inverse=True)
        country_buyers = np.zeros((len(countries), data.n_items), dtype="float32")
        np.add.at(country_buyers, (country_code[rows], cols), 1.0)  # one interaction row per (buyer, item)
        country_buyers /= np.maximum(country_buyers.sum(axis=1, keepdims=True), 1.0) / 1000.0
        return cls(
            item_buyers=items["buyers"].to_numpy(dtype="float32"),
            item_buyers_28d=buyers_28,
            item_trend_28d=((buyers_28 + 1.0) / (buyers_prev + 1.0)).astype("float32"),
            item_log_price=np.log1p(np.nan_to_num(data.item_price)).astype("float32"),
            item_age_days=items["days_since_first_sale"].to_numpy(dtype="float32"),
            item_days_since_sale=items["days_since_last_sale"].to_numpy(dtype="float32"),
            item_category=data.item_category,
            cat_affinity=affinity,
            cat_days_since=since,
            cust_items=np.diff(data.interactions.counts.indptr).astype("float32"),
            cust_orders=buyers["orders_total"].to_numpy(dtype="float32"),
            cust_days_since=buyers["days_since_last_purchase"].to_numpy(dtype="float32"),
            customer_country_code=country_code.astype("int32"),
            country_buyers=country_buyers,
            countries=np.asarray(countries, dtype=object),
        )

    def gather(self, rows: np.ndarray, items: np.ndarray, model_features: np.ndarray) -> np.ndarray:
        """Feature matrix for pairs; ``model_features`` holds the four model columns (scores, ranks)."""
        cat = self.item_category[items]
        return np.column_stack([
            model_features,
            self.item_buyers[items], self.item_buyers_28d[items], self.item_trend_28d[items],
            self.country_buyers[self.customer_country_code[rows], items],
            self.item_log_price[items], self.item_age_days[items], self.item_days_since_sale[items],
            self.cat_affinity[rows, cat], self.cat_days_since[rows, cat],
            self.cust_items[rows], self.cust_orders[rows], self.cust_days_since[rows],
        ]).astype("float32")


@dataclass
class CandidateGenerator:
    """Fits EASE and item-kNN on one cutoff's data and turns customers into candidate sets.

    Parameters
    ----------
    per_source
        Items taken from each source (EASE, item-kNN, last-28-day popularity) before the union, at most
        ``n_items // 20`` (at least 10) so that small catalogues are not half candidates.
    """

    ease: EASE = field(default_factory=EASE)
    knn: ItemKNN = field(default_factory=ItemKNN)
    per_source: int = 50
    space_: FeatureSpace = field(init=False, repr=False)

    def fit(self, data: TrainingData) -> CandidateGenerator:
        self.ease.fit(data)
        self.knn.fit(data)
        self.space_ = FeatureSpace.build(data)
        return self

    def candidates(self, data: TrainingData, rows: np.ndarray, batch: int = 512) -> CandidateSet:
        """Candidates and features for customer ``rows`` (purchased items excluded)."""
        parts = []
        recent = self.space_.item_buyers_28d + 1e-3 * self.space_.item_buyers
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            bought = data.interactions.counts[chunk].toarray() > 0
            ease = self.ease.score(data, chunk)
            knn = self.knn.score(data, chunk)
            parts.append(self._chunk(chunk, bought, ease, knn, recent))
        return CandidateSet(*(np.concatenate([p[i] for p in parts]) for i in range(4)))

    def source_size(self, n_items: int) -> int:
        return min(self.per_source, max(10, n_items // 20))

    def _chunk(self, chunk, bought, ease, knn, recent):
        n = self.source_size(ease.shape[1])
        ease_rank = _ranks(ease, bought)
        knn_rank = _ranks(knn, bought)
        pop = np.broadcast_to(recent, ease.shape)
        chosen = np.zeros(ease.shape, dtype=bool)
        for scores in (ease, knn, pop):
            picked = top_k(scores, n, bought)
            np.put_along_axis(chosen, np.maximum(picked, 0), True, axis=1)
        chosen &= ~bought
        r, items = np.nonzero(chosen)
        rows = chunk[r]
        model = np.column_stack([ease[r, items], ease_rank[r, items], knn[r, items], knn_rank[r, items]])
        feats = self.space_.gather(rows, items, model)
        groups = np.bincount(r, minlength=len(chunk))
        return rows, items, feats, groups


def _ranks(scores: np.ndarray, bought: np.ndarray) -> np.ndarray:
    """Rank (1 = best) of every item per row among the items not bought."""
    masked = np.where(bought, -np.inf, scores)
    order = np.argsort(-masked, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
    return ranks.astype("float32")


def label_candidates(candidates: CandidateSet, truth_rows: np.ndarray, truth: list[np.ndarray]) -> np.ndarray:
    """1 where the pair's item is in that customer's truth, else 0."""
    positives = {(int(r), int(i)) for r, items in zip(truth_rows, truth, strict=True) for i in items}
    return np.fromiter(((int(r), int(i)) in positives for r, i in zip(candidates.rows, candidates.items, strict=True)),
                       dtype="float32", count=len(candidates.rows))
