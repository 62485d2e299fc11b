"""Churn: a LightGBM classifier on stacked cutoffs, calibrated on a time-held-out fold.

The booster learns on every training cutoff but the latest; the latest (whose label window ends exactly at
the evaluation cutoff) is held out, for early stopping and for an isotonic calibration map. The booster is
then refitted on all training cutoffs with the chosen number of trees and the map is kept. Recency and the
BG/NBD activity columns carry monotone constraints, so a more recent order never raises the churn risk.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training.customers.datasets import CustomerData
from training.customers.encoding import FeatureEncoder
from training.customers.metrics import churn_metrics

log = logging.getLogger(__name__)

# +1: a larger value may only raise the churn risk; -1: may only lower it.
CHURN_MONOTONE = {"days_since_last_order": 1, "p_alive": -1, "expected_orders_horizon": -1, "orders_30d": -1,
                  "orders_90d": -1}


@dataclass(frozen=True)
class ChurnParams:
    """LightGBM settings (kept small: a few thousand customers per cutoff)."""

    num_leaves: int = 7
    learning_rate: float = 0.1  # few trees: 1M customers must score in seconds
    max_trees: int = 150
    min_child_samples: int = 100
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    early_stopping_rounds: int = 60
    use_lifetime: bool = True
    monotone: bool = True
    refit_on_all: bool = True
    calibration: str = "isotonic"  # or "none"
    seed: int = 42
    num_threads: int = 1  # small data; more threads only lose time on a shared, busy machine

    def __post_init__(self) -> None:
        from shopml.errors import ShopmlError

        if self.calibration not in ("isotonic", "none"):
            raise ShopmlError(f"calibration={self.calibration!r}: use 'isotonic' or 'none'.")
        if not 0 < self.learning_rate <= 1 or self.max_trees < 1 or self.num_leaves < 2:
            raise ShopmlError("ChurnParams: need 0 < learning_rate <= 1, max_trees >= 1 and num_leaves >= 2.")

    def lgb_params(self, names: list[str], objective: str = "binary") -> dict[str, object]:
        params = {
            "objective": objective, "num_leaves": self.num_leaves, "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_samples, "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction, "bagging_freq": 1, "lambda_l2": self.lambda_l2,
            "seed": self.seed, "deterministic": True, "force_row_wise": True, "num_threads": self.num_threads,
            "verbosity": -1,
        }
        if self.monotone:
            params["monotone_constraints"] = [CHURN_MONOTONE.get(n, 0) for n in names]
            params["monotone_constraints_method"] = "advanced"
        return params


class ChurnModel:
    """Inference object: calibrated churn probabilities from a customer feature table (numpy inside)."""

    def __init__(self, booster, encoder: FeatureEncoder, calibration_x: np.ndarray | None,
                 calibration_y: np.ndarray | None, info: dict[str, object] | None = None) -> None:
        self.booster = booster
        self.encoder = encoder
        self.calibration_x = calibration_x
        self.calibration_y = calibration_y
        self.info = info or {}

    @property
    def feature_names(self) -> list[str]:
        return self.encoder.names

    def raw_matrix(self, X: np.ndarray) -> np.ndarray:
        return self.booster.predict(X, num_threads=1)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        if self.calibration_x is None:
            return raw
        return np.interp(raw, self.calibration_x, self.calibration_y)

    def predict_proba_matrix(self, X: np.ndarray) -> np.ndarray:
        """P(no order in the horizon) for rows encoded by :attr:`encoder`."""
        return self.calibrate(self.raw_matrix(X))

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return self.predict_proba_matrix(self.encoder.matrix(features))

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / "booster.txt"))
        meta = {
            "kind": "churn", "encoder": self.encoder.to_dict(), "info": self.info,
            "calibration_x": None if self.calibration_x is None else self.calibration_x.tolist(),
            "calibration_y": None if self.calibration_y is None else self.calibration_y.tolist(),
        }
        (directory / "model.json").write_text(json.dumps(meta, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ChurnModel:
        import lightgbm as lgb

        directory = Path(directory)
        meta = json.loads((directory / "model.json").read_text())
        booster = lgb.Booster(model_file=str(directory / "booster.txt"))
        cx, cy = meta["calibration_x"], meta["calibration_y"]
        return cls(booster, FeatureEncoder.from_dict(meta["encoder"]), None if cx is None else np.asarray(cx),
                   None if cy is None else np.asarray(cy), meta["info"])


@dataclass
class ChurnResult:
    """The fitted model, its protocol metrics on the evaluation cutoff, and the baselines beside it."""

    model: ChurnModel
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    calibration_fold: dict[str, float]
    params: ChurnParams
    predictions: pd.DataFrame = field(repr=False, default=None)
    importance: dict[str, float] = field(default_factory=dict)

    @property
    def primary(self) -> float:
        return self.metrics["roc_auc"]


def _design(data: CustomerData, encoder: FeatureEncoder, frame: pd.DataFrame) -> np.ndarray:
    return encoder.matrix(frame, frame if encoder.use_lifetime else None)


def fit_churn(data: CustomerData, params: ChurnParams | None = None) -> ChurnResult:
    """Train, calibrate on the time-held-out fold, and evaluate on the evaluation cutoff."""
    import lightgbm as lgb
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score

    params = params or ChurnParams()
    plan = data.plan
    encoder = FeatureEncoder.fit(data.train, data.lifetime[plan.evaluation], use_lifetime=params.use_lifetime)
    names = encoder.names
    lgb_params = params.lgb_params(names)
    held = data.train["cutoff"] == plan.calibration
    X_all, y_all = _design(data, encoder, data.train), data.train["churned"].to_numpy()
    X_fit, y_fit, X_cal, y_cal = X_all[~held], y_all[~held], X_all[held], y_all[held]

    fit_set = lgb.Dataset(X_fit, y_fit, feature_name=names, categorical_feature=["country_code"], free_raw_data=False)
    cal_set = lgb.Dataset(X_cal, y_cal, reference=fit_set)
    booster = lgb.train(lgb_params | {"metric": "auc"}, fit_set, num_boost_round=params.max_trees,
                        valid_sets=[cal_set], callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)])
    trees = max(booster.best_iteration, 1)
    raw_cal = booster.predict(X_cal, num_iteration=trees)
    fold = {"roc_auc": float(roc_auc_score(y_cal, raw_cal)), "trees": trees, "customers": int(held.sum())}
    if params.refit_on_all:
        all_set = lgb.Dataset(X_all, y_all, feature_name=names, categorical_feature=["country_code"])
        booster = lgb.train(lgb_params, all_set, num_boost_round=trees)
    else:
        booster = _truncate(booster, trees)
    cx = cy = None
    if params.calibration == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw_cal, y_cal)
        cx, cy = np.asarray(iso.X_thresholds_, dtype="float64"), np.asarray(iso.y_thresholds_, dtype="float64")
    model = ChurnModel(booster, encoder, cx, cy, info={"params": asdict(params), "cutoffs": plan.to_dict(),
                                                       "trees": trees})
    evaluation = data.evaluation
    p = model.predict_proba_matrix(_design(data, encoder, evaluation))
    y = evaluation["churned"].to_numpy()
    importance = dict(zip(names, booster.feature_importance("gain").tolist(), strict=True))
    predictions = pd.DataFrame({"customer_id": evaluation["customer_id"], "churned": y, "churn_probability": p})
    return ChurnResult(model, churn_metrics(y, p), churn_baselines(data), fold, params, predictions, importance)


def _truncate(booster, trees: int):
    import lightgbm as lgb

    return lgb.Booster(model_str=booster.model_to_string(num_iteration=trees))


def churn_baselines(data: CustomerData) -> dict[str, dict[str, float]]:
    """Days since the last order as the score (the protocol's reference) and BG/NBD's P(no order)."""
    from sklearn.metrics import roc_auc_score

    ev = data.evaluation
    y = ev["churned"].to_numpy()
    recency = ev["days_since_last_order"].to_numpy("float64")
    lifetime = data.lifetime[data.plan.evaluation]
    # BG/NBD: P(no purchase in the horizon) ~ exp(-expected purchases) is a ranking, not calibrated; AUC only.
    bgnbd_score = -ev["expected_orders_horizon"].to_numpy("float64")
    return {
        "recency": {"roc_auc": float(roc_auc_score(y, recency))},
        "bgnbd": {"roc_auc": float(roc_auc_score(y, bgnbd_score)), **{k: float(v) for k, v in lifetime.bgnbd.to_dict().items()}},
    }
