"""Churn ideas tried on the validation cutoffs and dropped: the figures behind docs/customers.md's list.

Usage: ``.venv/bin/python bench/churn_alternatives.py [--data ../shared/data]``

Writes ``bench/results/churn_alternatives.json``. Every variant is scored like ``bench/customers.py`` scores
its candidates: ROC-AUC at the validation cutoffs 2011-05-04 .. 2011-06-03 (label windows end by 2011-09-01),
averaged. The last entry is the churn blend with BG/NBD's P(no order) on the corrected held-out fold of the
2011-09-01 plan (fold 2011-06-03, boosters trained on cutoffs whose windows end by it). Nothing here touches the
evaluation window.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
VALIDATION_CUTOFFS = ("2011-05-04", "2011-05-14", "2011-05-24", "2011-06-03")
ALL_PERCENTILES = ("days_since_last_order", "days_since_first_order", "orders_total", "spend_total", "spend_per_order",
                   "purchase_days", "gap_mean_days", "overdue_ratio", "orders_30d", "orders_90d", "orders_180d",
                   "spend_30d", "spend_90d", "spend_180d", "distinct_skus")
PERCENTILE_MONOTONE = {"days_since_last_order_rank": 1, "orders_30d_rank": -1, "orders_90d_rank": -1}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


class Variants:
    """The chosen churn recipe's design and booster, with the knobs each dropped idea turns."""

    def __init__(self, tables: dict[str, pd.DataFrame]) -> None:
        from features.customers import label_data_end

        self.tables = tables
        self.cache: dict = {}
        orders = tables["orders"]
        self.data_end = label_data_end(orders)
        self.first = orders["ordered_at"].min().floor("D")
        self.horizon_frames: dict = {}

    def data(self, cutoff: str):
        from training.customers import TrainConfig, prepare

        return prepare(self.tables, TrainConfig(evaluation_cutoff=cutoff), self.cache)

    @staticmethod
    def encoder(data, derived=None):
        from training.customers.churn import CHURN_DERIVED
        from training.customers.encoding import FeatureEncoder

        return FeatureEncoder.fit(data.train, data.lifetime[data.plan.evaluation], derived=derived or CHURN_DERIVED)

    @staticmethod
    def booster(X, y, names, *, objective="binary", seed=42, weight=None, monotone=None):
        import lightgbm as lgb

        from training.customers.churn import CHURN_MONOTONE, ChurnParams

        params = ChurnParams(seed=seed)
        lgb_params = params.lgb_params(names, objective)
        signs = dict(CHURN_MONOTONE, **(monotone or {}))  # ``monotone``: signs for the variant's own columns
        if objective != "binary":  # a count model: more orders means less churn, so every sign flips
            signs = {k: -v for k, v in signs.items()}
        lgb_params["monotone_constraints"] = [signs.get(n, 0) for n in names]
        dataset = lgb.Dataset(X, y, weight=weight, feature_name=names, categorical_feature=["country_code"])
        return lgb.train(lgb_params, dataset, num_boost_round=params.trees)

    def frame(self, cutoff: pd.Timestamp, horizon: int) -> pd.DataFrame:
        from training.customers.data import cutoff_frame

        if (cutoff, horizon) not in self.horizon_frames:
            products = self.tables.get("products")
            self.horizon_frames[cutoff, horizon] = cutoff_frame(self.tables["orders"], cutoff, horizon, products,
                                                                self.data_end)[0]
        return self.horizon_frames[cutoff, horizon]

    def auc(self, cutoff: str, variant: str, **options) -> float:
        from sklearn.metrics import roc_auc_score

        data = self.data(cutoff)
        return float(roc_auc_score(data.evaluation["churned"], getattr(self, variant)(data, **options)))

    def chosen(self, data, seeds=(42,), weights=None):
        encoder = self.encoder(data)
        X, Xe = encoder.matrix(data.train, data.train), encoder.matrix(data.evaluation, data.evaluation)
        weight = None if weights is None else self.shift_weights(X, Xe, weights)
        y = data.train["churned"].to_numpy()
        return np.mean([self.booster(X, y, encoder.names, seed=s, weight=weight).predict(Xe) for s in seeds], axis=0)

    def all_percentiles(self, data, monotone=True):
        """The former recipe's columns plus P(no order) and the rank of 15 features within each cutoff."""
        from training.customers.lifetime import LEGACY_DERIVED

        encoder = self.encoder(data, (*LEGACY_DERIVED, "p_no_order_horizon"))

        def design(frame):
            ranks = [frame.groupby("cutoff")[name].rank(pct=True).to_numpy() for name in ALL_PERCENTILES]
            return np.column_stack([encoder.matrix(frame, frame), *ranks])

        names = [*encoder.names, *(f"{n}_rank" for n in ALL_PERCENTILES)]
        y = data.train["churned"].to_numpy()
        booster = self.booster(design(data.train), y, names, monotone=PERCENTILE_MONOTONE if monotone else None)
        return booster.predict(design(data.evaluation))

    def poisson(self, data):
        """A Poisson booster on the order count of the window; rank by minus the expected count."""
        encoder = self.encoder(data)
        X, Xe = encoder.matrix(data.train, data.train), encoder.matrix(data.evaluation, data.evaluation)
        booster = self.booster(X, data.train["orders_next"].to_numpy("float64"), encoder.names, objective="poisson")
        return -booster.predict(Xe)

    def horizons(self, data, horizons=(90, 60)):
        """Stacked cutoffs of shorter horizons too (their windows also end by the validation cutoff)."""
        encoder = self.encoder(data)
        evaluation = data.plan.evaluation
        blocks, labels = [], []
        for horizon in horizons:
            for k in range(16):
                cutoff = evaluation - pd.Timedelta(days=horizon + 10 * k)
                if cutoff - self.first < pd.Timedelta(days=40):
                    break
                frame = self.frame(cutoff, horizon)
                blocks.append(np.column_stack([encoder.matrix(frame, frame), np.full(len(frame), horizon)]))
                labels.append(frame["churned"].to_numpy())
        names = [*encoder.names, "horizon"]
        booster = self.booster(np.vstack(blocks), np.concatenate(labels), names)
        ev = data.evaluation
        return booster.predict(np.column_stack([encoder.matrix(ev, ev), np.full(len(ev), 90)]))

    @staticmethod
    def shift_weights(X: np.ndarray, Xe: np.ndarray, mode: str, clip: float = 10.0) -> np.ndarray:
        """Importance weights towards the population at the cutoff: out-of-fold P(cutoff row) / P(training row)."""
        import lightgbm as lgb

        Z, target = np.vstack([X, Xe]), np.r_[np.zeros(len(X)), np.ones(len(Xe))]
        params = {"objective": "binary", "num_leaves": 7, "learning_rate": 0.1, "min_child_samples": 100,
                  "verbosity": -1, "seed": 1, "num_threads": 1}
        folds = np.random.default_rng(0).integers(0, 5, len(Z))
        p = np.zeros(len(Z))
        for f in range(5):
            model = lgb.train(params, lgb.Dataset(Z[folds != f], target[folds != f]), 100)
            p[folds == f] = model.predict(Z[folds == f])
        p = np.clip(p[: len(X)], 1e-3, 1 - 1e-3)
        weight = np.clip(p / (1 - p) * len(X) / len(Xe), 1 / clip, clip)
        return np.sqrt(weight) if mode == "sqrt" else weight

    def fold_blend(self, weights=(1.0, 0.75, 0.5, 0.25, 0.0)) -> dict[str, float]:
        """AUC on the corrected held-out fold of the 2011-09-01 plan for logit blends with P(no order)."""
        from sklearn.metrics import roc_auc_score

        data = self.data("2011-09-01")
        encoder = self.encoder(data)
        fold, before = data.time_held_out_fold()
        X, y = encoder.matrix(data.train, data.train), data.train["churned"].to_numpy()
        raw = self.booster(X[before], y[before], encoder.names).predict(X[fold])
        bgnbd = data.train.loc[fold, "p_no_order_horizon"].to_numpy()
        return {f"{w:g}": float(roc_auc_score(y[fold], w * _logit(raw) + (1 - w) * _logit(bgnbd))) for w in weights}


VARIANTS = {
    "chosen": ("chosen", {}),
    "all_15_percentiles_monotone": ("all_percentiles", {"monotone": True}),
    "all_15_percentiles_rank_columns_unconstrained": ("all_percentiles", {"monotone": False}),
    "poisson_order_count": ("poisson", {}),
    "horizons_90_60": ("horizons", {"horizons": (90, 60)}),
    "horizons_90_60_30": ("horizons", {"horizons": (90, 60, 30)}),
    "seeds_5": ("chosen", {"seeds": (42, 1, 2, 3, 4)}),
    "shift_weights": ("chosen", {"weights": "full"}),
    "shift_weights_sqrt": ("chosen", {"weights": "sqrt"}),
}


def main() -> None:
    from features.loaders import load_online_retail

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    path = ROOT / "bench" / "results" / "churn_alternatives.json"
    if not args.data.is_dir():
        path.write_text(json.dumps({"note": f"{args.data} not found: nothing measured"}, indent=2))
        print(f"{args.data} not found: nothing measured")
        return
    began = time.perf_counter()
    variants = Variants(load_online_retail(args.data / "online_retail" / "online_retail_I.csv.gz").tables)
    out: dict[str, object] = {"validation_cutoffs": list(VALIDATION_CUTOFFS), "roc_auc": {}}
    for name, (method, options) in VARIANTS.items():
        per_cutoff = {c: variants.auc(c, method, **options) for c in VALIDATION_CUTOFFS}
        out["roc_auc"][name] = {"mean": float(np.mean(list(per_cutoff.values()))), "per_cutoff": per_cutoff}
        print(f"{name:36s} {out['roc_auc'][name]['mean']:.4f}", flush=True)
    out["fold_blend_with_p_no_order"] = variants.fold_blend()
    print("fold blend", {k: round(v, 4) for k, v in out["fold_blend_with_p_no_order"].items()})
    out["seconds"] = time.perf_counter() - began
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
