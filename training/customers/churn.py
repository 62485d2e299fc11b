"""Churn: a LightGBM classifier on stacked cutoffs with a prior-shift correction of its base rate.

The booster learns on all training cutoffs with a fixed, small number of trees. Its probabilities follow the
average churn rate of the training windows, which drifts with the season (Online Retail: 0.40 in January to
0.52 in June, 0.44 in the autumn evaluation window). The default calibration moves every probability by one
logit offset (a prior shift, which keeps the ranking):

- ``"same_season"``: when the data reaches 52 weeks back, the offset that makes the booster's mean prediction
  match the observed churn rate at the cutoff a year earlier: the model's base-rate error in the same season.
  The shipped model carries the offset measured a year before the end of the data, where it will score.
- otherwise (and with ``"bgnbd_prior"``), the offset that makes the mean over the population at the cutoff
  equal a blend of BG/NBD's predicted P(no purchase in the horizon) and the booster's own rate
  (``prior_weight``, 0.6 on BG/NBD): information available at the cutoff, no label.

The latest training fold is still held out once to report its AUC. Settings were chosen on validation
cutoffs 2011-05-04 .. 2011-06-03 (label windows ending by 2011-09-01), never on the evaluation cutoff, and
the season anchor on synthetic shops with three years of planted seasonality: see ``bench/customers.py``
and ``docs/customers.md``. Recency and the BG/NBD activity columns carry monotone constraints, so a more
recent order never raises the churn risk.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shopml.errors import DataValidationError
from training.contract import Params, ServedModel
from training.customers.data import CustomerData
from training.customers.encoding import FeatureEncoder
from training.customers.lifetime import LEGACY_DERIVED, LIFETIME_FEATURES
from training.customers.metrics import churn_metrics
from training.customers.population import RELATIVE_FEATURES
from training.names import CHURN

log = logging.getLogger(__name__)

# +1: a larger value may only raise the churn risk; -1: may only lower it.
CHURN_MONOTONE = {"days_since_last_order": 1, "p_alive": -1, "expected_orders_horizon": -1, "orders_30d": -1,
                  "orders_90d": -1, "p_no_order_horizon": 1, "days_since_last_order_pct": 1}
# BG/NBD's P(no order) and the population percentiles (validation AUC 0.7532 vs 0.7487 without; see bench).
CHURN_DERIVED = (*LIFETIME_FEATURES, *RELATIVE_FEATURES)

MIN_ANCHOR_CUSTOMERS = 100  # fewer, and the churn rate a year earlier is too noisy to set the base rate
CALIBRATIONS = ("same_season", "bgnbd_prior", "none", "isotonic_latest")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def prior_shift_offset(raw: np.ndarray, target_rate: float) -> float:
    """The logit offset that makes the mean of ``sigmoid(logit(raw) + offset)`` equal ``target_rate``.

    Bisection on a monotone function: a prior-shift (label-shift) correction that keeps the ranking.
    """
    z = _logit(np.asarray(raw, dtype="float64"))
    lo, hi = -10.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(z + mid)))) < target_rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class ChurnParams:
    """LightGBM settings (kept small: a few thousand customers per cutoff)."""

    num_leaves: int = 7
    learning_rate: float = 0.05
    trees: int = 60  # validation AUC fell with more trees (0.749 at 60, 0.746 at 100, 0.740 at 200)
    min_child_samples: int = 100
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    use_lifetime: bool = True
    population_features: bool = True  # BG/NBD P(no order) and percentiles among the customers at the cutoff
    monotone: bool = True
    calibration: str = "same_season"  # or "bgnbd_prior", "none", "isotonic_latest" (isotonic map, latest fold)
    # Without a season anchor, the base rate aimed at is prior_weight x BG/NBD's P(no purchase) + (1 -
    # prior_weight) x the booster's own rate (the training windows' average). BG/NBD sees who is at the cutoff
    # but not the season's buying mood; the booster sees the past year's average. 0.6 had the lowest mean ECE
    # on the validation cutoffs 2011-05-04 .. 06-03 (grid 0 .. 1; bench/churn_rolling.py, prior_weight_selection).
    prior_weight: float = 0.6
    seed: int = 42
    num_threads: int = 1  # small data; more threads only lose time on a shared, busy machine

    def __post_init__(self) -> None:
        from shopml.errors import ShopmlError

        if self.calibration not in CALIBRATIONS:
            raise ShopmlError(f"calibration={self.calibration!r}: use one of {', '.join(CALIBRATIONS)}.")
        if not 0 <= self.prior_weight <= 1:
            raise ShopmlError(f"prior_weight={self.prior_weight!r}: a weight in [0, 1] (1: BG/NBD's rate alone).")
        if not 0 < self.learning_rate <= 1 or self.trees < 1 or self.num_leaves < 2:
            raise ShopmlError("ChurnParams: need 0 < learning_rate <= 1, trees >= 1 and num_leaves >= 2.")

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


class ChurnModel(ServedModel):
    """Inference object: calibrated churn probabilities from a customer feature table (numpy inside).

    Registered as ``churn``; ``predict`` returns one named column, ``churn_probability``.
    """

    registry_names = (CHURN,)

    def __init__(self, booster, encoder: FeatureEncoder, calibration_x: np.ndarray | None,
                 calibration_y: np.ndarray | None, info: dict[str, object] | None = None,
                 logit_offset: float = 0.0) -> None:
        self.booster = booster
        self.encoder = encoder
        self.calibration_x = calibration_x
        self.calibration_y = calibration_y
        self.info = info or {}
        self.logit_offset = float(logit_offset)

    @property
    def feature_names(self) -> list[str]:
        return self.encoder.names

    def raw_matrix(self, X: np.ndarray) -> np.ndarray:
        return self.booster.predict(X, num_threads=1)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        if self.calibration_x is not None:
            raw = np.interp(raw, self.calibration_x, self.calibration_y)
        if self.logit_offset != 0.0:
            raw = 1 / (1 + np.exp(-(_logit(raw) + self.logit_offset)))
        return raw

    def predict_proba_matrix(self, X: np.ndarray) -> np.ndarray:
        """P(no order in the horizon) for rows encoded by :attr:`encoder`."""
        return self.calibrate(self.raw_matrix(X))

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return self.predict_proba_matrix(self.encoder.matrix(features))

    def predict(self, frame: pd.DataFrame, params: Params | None = None) -> pd.DataFrame:
        """``churn_probability`` per row of a customer feature table (the rows' index is kept)."""
        return pd.DataFrame({"churn_probability": self.predict_proba(frame)}, index=frame.index)

    @property
    def metadata(self) -> dict[str, object]:
        return {"features": list(self.feature_names), "logit_offset": self.logit_offset, **self.info}

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / "booster.txt"))
        meta = {
            "kind": "churn", "encoder": self.encoder.to_dict(), "info": self.info,
            "calibration_x": None if self.calibration_x is None else self.calibration_x.tolist(),
            "calibration_y": None if self.calibration_y is None else self.calibration_y.tolist(),
            "logit_offset": self.logit_offset,
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
                   None if cy is None else np.asarray(cy), meta["info"], meta.get("logit_offset", 0.0))


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


def bgnbd_no_purchase_rate(data: CustomerData, frame: pd.DataFrame) -> float:
    """BG/NBD's P(no purchase in the horizon) averaged over ``frame``'s customers, from the model fitted at the
    evaluation cutoff (history only)."""
    from training.customers.bgnbd import probability_no_purchase
    from training.customers.rfm import DAYS_PER_UNIT, rfm_from_features

    rfm = rfm_from_features(frame)
    t = data.plan.horizon_days / DAYS_PER_UNIT
    bgnbd = data.lifetime[data.plan.evaluation].bgnbd
    return float(np.mean(probability_no_purchase(bgnbd, t, rfm.x, rfm.t_x, rfm.T)))


def season_offset(booster, encoder: FeatureEncoder, anchor: pd.DataFrame) -> tuple[float, float]:
    """The prior-shift offset that makes the booster's mean prediction at a season anchor equal the churn
    rate observed there, and that rate."""
    rate = float(anchor["churned"].mean())
    return prior_shift_offset(booster.predict(encoder.matrix(anchor, anchor)), rate), rate


def fit_churn(data: CustomerData, params: ChurnParams | None = None) -> ChurnResult:
    """Train on all training cutoffs, correct the base rate, and evaluate on the evaluation cutoff."""
    import lightgbm as lgb
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score

    params = params or ChurnParams()
    plan = data.plan
    derived = CHURN_DERIVED if params.population_features else LEGACY_DERIVED
    encoder = FeatureEncoder.fit(data.train, data.lifetime[plan.evaluation], use_lifetime=params.use_lifetime,
                                 derived=derived)
    names = encoder.names
    lgb_params = params.lgb_params(names)
    held, before = data.time_held_out_fold()
    X_all, y_all = encoder.matrix(data.train, data.train), data.train["churned"].to_numpy()

    def train(X, y):
        dataset = lgb.Dataset(X, y, feature_name=names, categorical_feature=["country_code"])
        return lgb.train(lgb_params, dataset, num_boost_round=params.trees)

    # The latest fold, predicted by a booster that never saw a label of its window: its AUC is reported.
    fold = {"trees": params.trees, "customers": int(held.sum()), "cutoff": f"{plan.calibration:%Y-%m-%d}",
            "trained_on_cutoffs": int(data.train.loc[before, "cutoff"].nunique())}
    raw_cal = None
    if before.any():
        raw_cal = train(X_all[before], y_all[before]).predict(X_all[held])
        fold["roc_auc"] = float(roc_auc_score(y_all[held], raw_cal))
    elif params.calibration == "isotonic_latest":
        raise DataValidationError(
            f"calibration='isotonic_latest' needs a training cutoff whose label window ends by "
            f"{plan.calibration:%Y-%m-%d}; the data has none. Use more history or another calibration.")
    booster = train(X_all, y_all)
    evaluation = data.evaluation
    X_ev = encoder.matrix(evaluation, evaluation)
    cx = cy = None
    offset = 0.0
    if params.calibration == "isotonic_latest":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw_cal, y_all[held])
        cx, cy = np.asarray(iso.X_thresholds_, dtype="float64"), np.asarray(iso.y_thresholds_, dtype="float64")
    shipped_offset = None
    anchors = {name: frame for name, frame in data.anchors.items() if len(frame) >= MIN_ANCHOR_CUSTOMERS}
    if params.calibration == "same_season" and "evaluation" in anchors:
        offsets = {name: season_offset(booster, encoder, frame) for name, frame in anchors.items()}
        offset = offsets["evaluation"][0]
        shipped_offset = offsets.get("scoring", offsets["evaluation"])[0]
        fold |= {"method": "same_season", "logit_offset": offset, "shipped_logit_offset": shipped_offset,
                 **{f"{name}_anchor": {"cutoff": f"{plan.anchors[name]:%Y-%m-%d}", "churn_rate": rate, "offset": value}
                    for name, (value, rate) in offsets.items()}}
    elif params.calibration in ("same_season", "bgnbd_prior"):
        raw_ev = booster.predict(X_ev)
        bgnbd_rate = bgnbd_no_purchase_rate(data, evaluation)
        target = params.prior_weight * bgnbd_rate + (1 - params.prior_weight) * float(raw_ev.mean())
        offset = prior_shift_offset(raw_ev, target)
        fold |= {"method": "bgnbd_prior", "target_rate": target, "bgnbd_rate": bgnbd_rate,
                 "booster_rate": float(raw_ev.mean()), "prior_weight": params.prior_weight, "logit_offset": offset}
        if params.calibration == "same_season":
            fold["fallback"] = ("no season anchor: the data does not reach 52 weeks before the evaluation cutoff"
                                if "evaluation" not in data.anchors else
                                f"the season anchor has fewer than {MIN_ANCHOR_CUSTOMERS} customers")
    info = {"params": asdict(params), "cutoffs": plan.to_dict(), "trees": params.trees,
            "calibration": fold.get("method", params.calibration), "evaluation_logit_offset": offset}
    model = ChurnModel(booster, encoder, cx, cy, info=info, logit_offset=offset)
    p = model.predict_proba_matrix(X_ev)
    if shipped_offset is not None:  # the evaluation used the evaluation season; scoring uses the latest one
        model.logit_offset = float(shipped_offset)
    model.encoder = data.scoring_encoder(encoder)
    y = evaluation["churned"].to_numpy()
    importance = dict(zip(names, booster.feature_importance("gain").tolist(), strict=True))
    predictions = pd.DataFrame({"customer_id": evaluation["customer_id"], "churned": y, "churn_probability": p})
    return ChurnResult(model, churn_metrics(y, p), churn_baselines(data), fold, params, predictions, importance)


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
