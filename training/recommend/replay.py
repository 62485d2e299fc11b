"""Session replay: within each invoice, predict the next item from the earlier ones.

The protocol (``bench/recommend.py`` writes its figures to ``bench/results/recommendations.json``,
``session_replay``):

* the recommender is trained on purchases before the cutoff; the replayed invoices are the sales lines of
  known customers (returns and guests removed, as for training) in ``[start, end)``;
* an invoice's items are its distinct SKUs known to the model, in the order of their lines (the order of the
  source file); invoices with fewer than two such items are skipped;
* at each position ``p = 1 .. min(n - 1, max_positions)`` the session is the first ``p`` items (as
  ``add_to_cart`` events, oldest first, at most ``max_events``) and the target is item ``p + 1``;
* both the static list (the precomputed list without the items already in the cart) and the session-aware list
  (:class:`~training.recommend.live.LiveRecommender`) are asked for 10 items for the invoice's customer;
* next-item hit rate@10 = share of positions whose target is in the list; NDCG@10 = mean ``1 / log2(rank + 1)``
  of the target's rank (0 when absent). Also reported for the targets the customer had not bought before
  the cutoff (the static list never shows those; the session list may).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features.cleaning import customer_model_orders
from training.recommend.live import BlendConfig, LiveRecommender, SessionEvent


@dataclass(frozen=True)
class ReplayCase:
    """One prediction: the customer, the session so far (SKUs, oldest first) and the next SKU."""

    customer_id: str
    session: tuple[str, ...]
    target: str
    bought_before: bool


@dataclass(frozen=True)
class ReplayMetrics:
    hit_rate_at_10: float
    ndcg_at_10: float
    predictions: int

    def to_dict(self) -> dict[str, float | int]:
        return {"hit_rate_at_10": self.hit_rate_at_10, "ndcg_at_10": self.ndcg_at_10,
                "predictions": self.predictions}


def replay_cases(orders: pd.DataFrame, live: LiveRecommender, start, end, *, max_positions: int = 20,
                 max_events: int = 50) -> tuple[list[ReplayCase], int]:
    """The replay's predictions for invoices in ``[start, end)`` and the number of invoices (sessions) used."""
    sales, _ = customer_model_orders(orders)
    window = sales.loc[(sales["ordered_at"] >= pd.Timestamp(start)) & (sales["ordered_at"] < pd.Timestamp(end))]
    base = live.base
    cases: list[ReplayCase] = []
    sessions = 0
    for (_order_id, customer), lines in window.groupby(["order_id", "customer_id"], sort=True):
        items = [s for s in dict.fromkeys(lines["sku"].astype(str).tolist()) if base.knows_item(s)]
        if len(items) < 2:
            continue
        sessions += 1
        row = base.customer_row(str(customer))
        bought = set(base.skus[base.history.row(row)[0]].tolist()) if row is not None else set()
        for p in range(1, min(len(items) - 1, max_positions) + 1):
            cases.append(ReplayCase(str(customer), tuple(items[max(0, p - max_events):p]), items[p],
                                    items[p] in bought))
    return cases, sessions


def score_cases(live: LiveRecommender, cases: list[ReplayCase], config: BlendConfig | None = None,
                k: int = 10) -> tuple[ReplayMetrics, ReplayMetrics]:
    """Metrics of ``live`` (with ``config``) over ``cases``: all targets, and targets new to the customer."""
    saved = live.config
    live.config = config or saved
    try:
        hits = np.zeros(len(cases))
        gains = np.zeros(len(cases))
        new = np.zeros(len(cases), dtype=bool)
        for i, case in enumerate(cases):
            events = [SessionEvent(s, "add_to_cart") for s in case.session]
            answer = live.recommend(case.customer_id, k=k, session=events)
            skus = [r.sku for r in answer.items]
            if case.target in skus:
                hits[i] = 1.0
                gains[i] = 1.0 / math.log2(skus.index(case.target) + 2)
            new[i] = not case.bought_before
    finally:
        live.config = saved

    def metrics(mask: np.ndarray) -> ReplayMetrics:
        n = int(mask.sum())
        return ReplayMetrics(float(hits[mask].mean()) if n else 0.0, float(gains[mask].mean()) if n else 0.0, n)

    return metrics(np.ones(len(cases), dtype=bool)), metrics(new)


def static_config(config: BlendConfig) -> BlendConfig:
    """The same settings with the session ignored (weight 0): the precomputed list without the cart's items."""
    return replace(config, weight=0.0)


HALF_LIVES = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 1000.0)
WEIGHTS = (0.5, 0.7, 0.8, 0.9, 0.95, 1.0)


def tune_blend(live: LiveRecommender, cases: list[ReplayCase], half_lives=HALF_LIVES, weights=WEIGHTS,
               base: BlendConfig | None = None, max_cases: int | None = None,
               seed: int = 0) -> tuple[BlendConfig, list]:
    """The half-life and blend weight with the best NDCG@10 on ``cases`` (validation replay), and the grid.

    ``max_cases`` scores the grid on a seeded random subset of the cases (the grid is 48 passes).
    """
    base = base or live.config
    if max_cases is not None and len(cases) > max_cases:
        rng = np.random.default_rng(seed)
        cases = [cases[i] for i in np.sort(rng.choice(len(cases), size=max_cases, replace=False))]
    grid = []
    best: tuple[float, BlendConfig] | None = None
    for half_life in half_lives:
        for weight in weights:
            config = replace(base, half_life_events=half_life, weight=weight)
            overall, _ = score_cases(live, cases, config)
            grid.append({"half_life_events": half_life, "weight": weight, **overall.to_dict()})
            if best is None or overall.ndcg_at_10 > best[0]:
                best = (overall.ndcg_at_10, config)
    assert best is not None
    return best[1], grid
