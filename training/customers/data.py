"""Training and evaluation sets on stacked cutoffs, with no label window overlapping the evaluation window.

Training cutoffs are spaced ``spacing_days`` apart, the latest one ``horizon_days`` before the evaluation
cutoff, so every training label window ends on or before the evaluation cutoff (PROTOCOLS: "no label from the
evaluation window may reach training"). Each cutoff contributes one row per customer with history before it;
BG/NBD and Gamma-Gamma are fitted per cutoff on that cutoff's history only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from features.cleaning import customer_model_orders
from features.customers import CUSTOMER_SET, build_customer_features, label_data_end
from features.store import fingerprint
from shopml.errors import DataValidationError
from training.customers.lifetime import LifetimeModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CutoffPlan:
    """Training cutoffs (oldest first), the evaluation cutoff and the label horizon."""

    train: tuple[pd.Timestamp, ...]
    evaluation: pd.Timestamp
    horizon_days: int
    evaluation_anchor: pd.Timestamp | None = None  # same season, a year before the evaluation cutoff
    scoring_anchor: pd.Timestamp | None = None  # same season, a year before the end of the data
    scoring: pd.Timestamp | None = None  # the day after the data ends: where the shipped models score

    @property
    def anchors(self) -> dict[str, pd.Timestamp]:
        named = {"evaluation": self.evaluation_anchor, "scoring": self.scoring_anchor}
        return {name: cutoff for name, cutoff in named.items() if cutoff is not None}

    @property
    def calibration(self) -> pd.Timestamp:
        """The latest training cutoff: the time-held-out fold for calibration and model choice."""
        return self.train[-1]

    def to_dict(self) -> dict[str, str]:
        out = {f"train_{i}": f"{c:%Y-%m-%d}" for i, c in enumerate(self.train)}
        out |= {f"{name}_anchor": f"{c:%Y-%m-%d}" for name, c in self.anchors.items()}
        return out | {"evaluation": f"{self.evaluation:%Y-%m-%d}", "horizon_days": str(self.horizon_days)}


SEASON_DAYS = 364  # 52 weeks: the same season a year earlier, on the same weekday


def season_anchor(date: pd.Timestamp, first: pd.Timestamp, min_history_days: int) -> pd.Timestamp | None:
    """The cutoff 52 weeks before ``date`` when the data has ``min_history_days`` of history before it."""
    anchor = date - pd.Timedelta(days=SEASON_DAYS)
    return anchor if anchor - first >= pd.Timedelta(days=min_history_days) else None


def plan_cutoffs(
    orders: pd.DataFrame,
    *,
    evaluation_cutoff: str | pd.Timestamp | None = None,
    horizon_days: int = 90,
    n_train: int = 16,
    spacing_days: int = 10,
    min_history_days: int = 40,
) -> CutoffPlan:
    """Choose the cutoffs; the evaluation cutoff defaults to the last one whose horizon the data covers."""
    if orders.empty:
        raise DataValidationError("the orders table is empty: run `shopml data generate` or `shopml data load` first.")
    if n_train < 2:
        raise DataValidationError(f"n_train must be at least 2 (one fold is held out for calibration), got {n_train}.")
    first = orders["ordered_at"].min().floor("D")
    last_day = orders["ordered_at"].max().floor("D")
    latest = last_day + pd.Timedelta(days=1) - pd.Timedelta(days=horizon_days)
    if evaluation_cutoff is None:
        evaluation = latest
    else:
        try:
            evaluation = pd.Timestamp(evaluation_cutoff)
        except ValueError as exc:
            raise DataValidationError(f"evaluation cutoff {evaluation_cutoff!r} is not a date; use YYYY-MM-DD.") from exc
        if evaluation > latest or evaluation <= first:
            raise DataValidationError(
                f"evaluation cutoff {evaluation:%Y-%m-%d} is outside the data ({first:%Y-%m-%d} .. {last_day:%Y-%m-%d}): "
                f"its {horizon_days}-day label window must fit; pick a date between {first:%Y-%m-%d} and {latest:%Y-%m-%d}."
            )
    train = []
    for k in range(n_train):
        cutoff = evaluation - pd.Timedelta(days=horizon_days + k * spacing_days)
        if cutoff - first >= pd.Timedelta(days=min_history_days):
            train.append(cutoff)
    if len(train) < 2:
        need = horizon_days * 2 + spacing_days + min_history_days
        raise DataValidationError(
            f"too little history for cutoff {evaluation:%Y-%m-%d}: need at least two training cutoffs with "
            f"{min_history_days} days of history and a {horizon_days}-day label window before it "
            f"(about {need} days of data; the data spans {(last_day - first).days + 1} days). Use more data or a later "
            "evaluation cutoff."
        )
    scoring = last_day + pd.Timedelta(days=1)
    return CutoffPlan(tuple(sorted(train)), evaluation, horizon_days,
                      season_anchor(evaluation, first, min_history_days), season_anchor(scoring, first, min_history_days),
                      scoring)


@dataclass
class CustomerData:
    """Stacked training rows, evaluation rows, season-anchor rows, the lifetime models per cutoff and the data
    fingerprint."""

    plan: CutoffPlan
    train: pd.DataFrame
    evaluation: pd.DataFrame
    lifetime: dict[pd.Timestamp, LifetimeModel]
    fingerprint: str
    set_aside: dict[str, int] = field(default_factory=dict)
    anchors: dict[str, pd.DataFrame] = field(default_factory=dict)  # plan.anchors' names -> their rows
    scoring_lifetime: LifetimeModel | None = None  # fitted on every customer at plan.scoring: what ships

    def time_held_out_fold(self) -> tuple[np.ndarray, np.ndarray]:
        """Row masks of the held-out fold (the latest training cutoff) and of the training cutoffs whose label
        windows end on or before it. Neighbouring cutoffs share most of the fold's label window (10 days apart,
        90-day windows), so a model trained on them would score the fold with labels it has seen; the second
        mask is empty when the data has no cutoff that far back."""
        cutoffs = self.train["cutoff"]
        fold = (cutoffs == self.plan.calibration).to_numpy()
        before = (cutoffs + pd.Timedelta(days=self.plan.horizon_days) <= self.plan.calibration).to_numpy()
        return fold, before

    def scoring_encoder(self, encoder):
        """``encoder`` (a ``FeatureEncoder``) with the population models refitted at the end of the data,
        where the shipped model scores; unchanged when the plan has no scoring date."""
        if self.scoring_lifetime is None:
            return encoder
        return replace(encoder, lifetime=self.scoring_lifetime)

    @property
    def evaluation_key(self) -> str:
        """Identifies the evaluation: same data, same cutoff, same horizon -> comparable metrics."""
        return f"{self.fingerprint}:{self.plan.evaluation:%Y-%m-%d}:{self.plan.horizon_days}d"


def cutoff_frame(orders: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, products: pd.DataFrame | None,
                 data_end: pd.Timestamp) -> tuple[pd.DataFrame, LifetimeModel]:
    """The customer set's rows at ``cutoff`` (features and labels) with the lifetime columns fitted on them:
    ``customer_id, cutoff``, features, lifetime columns, labels. ``data_end``: :func:`label_data_end` of the data."""
    rows = build_customer_features(orders, cutoff, products=products, horizon_days=horizon_days, data_end=data_end)
    features = rows[[*CUSTOMER_SET.key_names, *CUSTOMER_SET.feature_names]]
    lifetime = LifetimeModel.fit(features, horizon_days)
    frame = pd.concat([features, lifetime.derive(features), rows[CUSTOMER_SET.label_names]], axis=1)
    frame.insert(1, "cutoff", cutoff)
    return frame, lifetime


def build_customer_data(tables: dict[str, pd.DataFrame], plan: CutoffPlan,
                        cache: dict[pd.Timestamp, tuple[pd.DataFrame, LifetimeModel]] | None = None) -> CustomerData:
    """Compute the frames of every cutoff in ``plan`` from the canonical tables.

    Besides the labelled cutoffs, BG/NBD, Gamma-Gamma and the population percentiles are refitted on every
    customer at ``plan.scoring`` (the end of the data): the evaluation measures the recipe with the models of
    the evaluation cutoff, and the shipped models score today's customers with today's population models,
    as every training row was encoded with its own cutoff's.

    Rows come from :func:`features.customers.build_customer_features` (features from every line of known
    customers, labels from the protocol cleaning), the rows ``features.pipeline.build_features`` writes.
    ``cache`` (cutoff -> frame and lifetime model, filled as a side effect) lets several plans on one data set
    share the work of a cutoff; the horizon must be the same for every plan that shares it.
    """
    orders = tables["orders"]
    _, set_aside = customer_model_orders(orders)
    data_end = label_data_end(orders)
    products = tables.get("products")
    frames, lifetime = [], {}
    cache = {} if cache is None else cache
    anchors = plan.anchors
    for cutoff in (*plan.train, plan.evaluation, *anchors.values()):
        if cutoff not in cache:
            cache[cutoff] = cutoff_frame(orders, cutoff, plan.horizon_days, products, data_end)
        frame, model = cache[cutoff]
        frames.append(frame)
        lifetime[cutoff] = model
        log.info("cutoff %s: %d customers, churn rate %.3f", f"{cutoff:%Y-%m-%d}", len(frame), frame["churned"].mean())
    n = len(plan.train)
    scoring_lifetime = None
    if plan.scoring is not None:
        key = ("population", plan.scoring, plan.horizon_days)
        if key not in cache:
            cache[key] = LifetimeModel.fit(build_customer_features(orders, plan.scoring, products=products),
                                            plan.horizon_days)
        scoring_lifetime = cache[key]
    return CustomerData(
        plan=plan,
        train=pd.concat(frames[:n], ignore_index=True),
        evaluation=frames[n],
        lifetime=lifetime,
        fingerprint=fingerprint(orders),
        set_aside=set_aside,
        anchors=dict(zip(anchors, frames[n + 1:], strict=True)),
        scoring_lifetime=scoring_lifetime,
    )
