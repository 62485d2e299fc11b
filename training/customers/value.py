"""Customer value: predicted net spend over the horizon.

Two boosters learn on the stacked cutoffs: a LightGBM regressor with a tweedie objective (zero-inflated,
right-skewed spend in one model) and a two-part model ``P(buy) x E[spend | buy]`` (a classifier and a gamma
regressor on buyers). Each may be blended with the BG/NBD x Gamma-Gamma value (geometric mean of
``1 + spend`` with weight ``blend_weight`` on the booster; weight 0 is the probabilistic model alone).
Every (kind, weight) pair is scored by normalized Gini on the time-held-out fold: the latest training cutoff,
predicted by boosters trained only on cutoffs whose label windows end by it. The winner is refitted on all
training cutoffs. The evaluation cutoff is never used to choose.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shopml.errors import ShopmlError
from training.contract import Params, ServedModel
from training.customers.data import CustomerData
from training.customers.encoding import FeatureEncoder
from training.customers.metrics import normalized_gini, value_metrics
from training.names import CUSTOMER_VALUE

log = logging.getLogger(__name__)

KINDS = ("tweedie", "two_part")
BLEND_WEIGHTS = (1.0, 0.75, 0.5, 0.25, 0.0)  # weight on the booster; the rest on BG/NBD x Gamma-Gamma
BLEND_COLUMN = "lifetime_value_horizon"
DEFAULT_CHOICE = ("two_part", 1.0)  # kept when the data has no time-held-out fold


@dataclass(frozen=True)
class ValueParams:
    num_leaves: int = 7
    learning_rate: float = 0.1  # few trees: 1M customers must score in seconds
    trees: int = 120
    min_child_samples: int = 100
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    tweedie_variance_power: float = 1.5
    kinds: tuple[str, ...] = KINDS
    blend_weights: tuple[float, ...] = BLEND_WEIGHTS
    use_lifetime: bool = True
    seed: int = 42
    num_threads: int = 1

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            raise ShopmlError(f"ValueParams.kinds={self.kinds!r}: choose one or more of {', '.join(KINDS)}.")
        if not self.blend_weights or any(not 0 <= w <= 1 for w in self.blend_weights):
            raise ShopmlError(f"ValueParams.blend_weights={self.blend_weights!r}: use weights in [0, 1].")
        if not 1 < self.tweedie_variance_power < 2:
            raise ShopmlError(f"tweedie_variance_power={self.tweedie_variance_power}: use a number in (1, 2).")

    def lgb_params(self, objective: str) -> dict[str, object]:
        params = {
            "objective": objective, "num_leaves": self.num_leaves, "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_samples, "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction, "bagging_freq": 1, "lambda_l2": self.lambda_l2,
            "seed": self.seed, "deterministic": True, "force_row_wise": True, "num_threads": self.num_threads,
            "verbosity": -1,
        }
        if objective == "tweedie":
            params["tweedie_variance_power"] = self.tweedie_variance_power
        return params


class ValueModel(ServedModel):
    """Inference object: expected net spend over the horizon from a customer feature table.

    Registered as ``customer_value``; ``predict`` returns one named column, ``predicted_value``.
    """

    registry_names = (CUSTOMER_VALUE,)

    def __init__(self, kind: str, boosters: dict[str, object], encoder: FeatureEncoder,
                 info: dict[str, object] | None = None, blend_weight: float = 1.0) -> None:
        if kind not in KINDS:
            raise ShopmlError(f"unknown value model kind {kind!r}; expected one of {', '.join(KINDS)}.")
        if blend_weight < 1 and BLEND_COLUMN not in encoder.names:
            raise ShopmlError("a blend with BG/NBD x Gamma-Gamma needs the lifetime features (use_lifetime=True).")
        self.kind = kind
        self.boosters = boosters
        self.encoder = encoder
        self.info = info or {}
        self.blend_weight = float(blend_weight)

    @property
    def feature_names(self) -> list[str]:
        return self.encoder.names

    def booster_matrix(self, X: np.ndarray) -> np.ndarray:
        if self.kind == "tweedie":
            return self.boosters["spend"].predict(X, num_threads=1)
        return self.boosters["buy"].predict(X, num_threads=1) * self.boosters["spend_if_buy"].predict(X, num_threads=1)

    def predict_matrix(self, X: np.ndarray) -> np.ndarray:
        weight = self.blend_weight
        boosted = self.booster_matrix(X) if weight > 0 else None  # weight 0: the boosters are kept, not run
        probabilistic = X[:, self.encoder.names.index(BLEND_COLUMN)] if weight < 1 else None
        return combine(boosted, probabilistic, weight)

    def predict_value(self, features: pd.DataFrame) -> np.ndarray:
        """Expected spend per row of a customer feature table (numpy; :meth:`predict` names the column)."""
        return self.predict_matrix(self.encoder.matrix(features))

    def predict(self, frame: pd.DataFrame, params: Params | None = None) -> pd.DataFrame:
        """``predicted_value`` per row of a customer feature table (the rows' index is kept)."""
        return pd.DataFrame({"predicted_value": self.predict_value(frame)}, index=frame.index)

    @property
    def metadata(self) -> dict[str, object]:
        return {"features": list(self.feature_names), "kind": self.kind, "blend_weight": self.blend_weight,
                **self.info}

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, booster in self.boosters.items():
            booster.save_model(str(directory / f"{name}.txt"))
        meta = {"kind": self.kind, "boosters": list(self.boosters), "encoder": self.encoder.to_dict(), "info": self.info,
                "blend_weight": self.blend_weight}
        (directory / "model.json").write_text(json.dumps(meta, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ValueModel:
        import lightgbm as lgb

        directory = Path(directory)
        meta = json.loads((directory / "model.json").read_text())
        boosters = {name: lgb.Booster(model_file=str(directory / f"{name}.txt")) for name in meta["boosters"]}
        return cls(meta["kind"], boosters, FeatureEncoder.from_dict(meta["encoder"]), meta["info"],
                   meta.get("blend_weight", 1.0))


@dataclass
class ValueResult:
    model: ValueModel
    metrics: dict[str, object]
    baselines: dict[str, dict[str, object]]
    selection: dict[str, float]
    candidates: dict[str, dict[str, object]]
    params: ValueParams
    predictions: pd.DataFrame = field(repr=False, default=None)
    importance: dict[str, float] = field(default_factory=dict)

    @property
    def primary(self) -> float:
        return float(self.metrics["normalized_gini"])


def combine(boosted: np.ndarray | None, probabilistic: np.ndarray | None, weight: float) -> np.ndarray:
    """Geometric blend of ``1 + spend``: ``exp(w log(1 + a) + (1 - w) log(1 + b)) - 1`` (both clipped at 0);
    weight 1 is the booster as it is, weight 0 the probabilistic value alone (the other side may be None)."""
    if weight >= 1:
        return boosted
    if weight <= 0:
        return np.maximum(probabilistic, 0.0)
    a, b = np.log1p(np.maximum(boosted, 0.0)), np.log1p(np.maximum(probabilistic, 0.0))
    return np.expm1(weight * a + (1.0 - weight) * b)


def candidate_name(kind: str, weight: float) -> str:
    if weight >= 1:
        return kind
    return "bgnbd_gamma_gamma" if weight <= 0 else f"{kind}_blend_{weight:g}"  # MLflow-safe metric names


def _fit_kind(kind: str, X: np.ndarray, spend: np.ndarray, names: list[str], params: ValueParams) -> dict[str, object]:
    import lightgbm as lgb

    spend = np.maximum(spend, 0.0)
    cat = ["country_code"]
    if kind == "tweedie":
        data = lgb.Dataset(X, spend, feature_name=names, categorical_feature=cat)
        return {"spend": lgb.train(params.lgb_params("tweedie"), data, params.trees)}
    bought = spend > 0
    buy = lgb.train(params.lgb_params("binary"), lgb.Dataset(X, bought.astype(int), feature_name=names,
                                                              categorical_feature=cat), params.trees)
    spend_if_buy = lgb.train(params.lgb_params("gamma"), lgb.Dataset(X[bought], spend[bought], feature_name=names,
                                                                      categorical_feature=cat), params.trees)
    return {"buy": buy, "spend_if_buy": spend_if_buy}


def fit_value(data: CustomerData, params: ValueParams | None = None) -> ValueResult:
    """Choose the booster and its blend weight on the time-held-out fold, refit on all training cutoffs, evaluate."""
    params = params or ValueParams()
    plan = data.plan
    encoder = FeatureEncoder.fit(data.train, data.lifetime[plan.evaluation], use_lifetime=params.use_lifetime)
    names = encoder.names
    weights = params.blend_weights if encoder.use_lifetime else (1.0,)
    X_all = encoder.matrix(data.train, data.train)
    spend_all = data.train["spend_next"].to_numpy("float64")
    fold, before = data.time_held_out_fold()
    X_ev = encoder.matrix(data.evaluation, data.evaluation)
    actual = data.evaluation["spend_next"].to_numpy("float64")
    # Every (booster, weight) pair by name; weight 0 is the same model whichever booster it comes with.
    choices = {candidate_name(kind, weight): (kind, weight) for kind in params.kinds for weight in weights}
    probabilistic_fold = X_all[fold][:, names.index(BLEND_COLUMN)] if encoder.use_lifetime else None
    selection: dict[str, float] = {}
    if before.any():
        fold_boosted = {kind: ValueModel(kind, _fit_kind(kind, X_all[before], spend_all[before], names, params),
                                         encoder).booster_matrix(X_all[fold]) for kind in params.kinds}
        for name, (kind, weight) in choices.items():
            selection[name] = normalized_gini(spend_all[fold], combine(fold_boosted[kind], probabilistic_fold, weight))
        winner_kind, winner_weight = choices[max(selection, key=selection.get)]
    else:
        log.warning("value model: no training cutoff ends its label window by %s; keeping %s",
                    f"{plan.calibration:%Y-%m-%d}", DEFAULT_CHOICE)
        winner_kind, winner_weight = DEFAULT_CHOICE if DEFAULT_CHOICE[0] in params.kinds else (params.kinds[0], 1.0)
    info = {"params": asdict(params), "cutoffs": plan.to_dict(), "selection": selection}
    boosters = {kind: _fit_kind(kind, X_all, spend_all, names, params) for kind in params.kinds}
    evaluation_boosted = {kind: ValueModel(kind, boosters[kind], encoder).booster_matrix(X_ev) for kind in params.kinds}
    probabilistic_ev = X_ev[:, names.index(BLEND_COLUMN)] if encoder.use_lifetime else None
    candidates = {name: value_metrics(actual, combine(evaluation_boosted[kind], probabilistic_ev, weight))
                  for name, (kind, weight) in choices.items()}
    best = ValueModel(winner_kind, boosters[winner_kind], encoder, info=dict(info), blend_weight=winner_weight)
    winner = candidate_name(winner_kind, winner_weight)
    predicted = best.predict_matrix(X_ev)
    best.info["high_value_threshold"] = float(np.quantile(predicted, 0.9))
    best.encoder = data.scoring_encoder(encoder)
    first = next(iter(best.boosters.values()))
    importance = dict(zip(names, first.feature_importance("gain").tolist(), strict=True))
    predictions = pd.DataFrame({"customer_id": data.evaluation["customer_id"], "spend_next": actual,
                                "predicted_value": predicted})
    log.info("value model: %s wins on the held-out fold (%s)", winner, selection)
    return ValueResult(
        model=best, metrics=candidates[winner] | {"kind": winner_kind, "blend_weight": winner_weight,
                                                  "candidate": winner},
        baselines=value_baselines(data), selection=selection, candidates=candidates, params=params,
        predictions=predictions, importance=importance,
    )


def value_baselines(data: CustomerData) -> dict[str, dict[str, object]]:
    """Last-90-days spend as the prediction (the protocol's reference) and the BG/NBD x Gamma-Gamma value."""
    ev = data.evaluation
    actual = ev["spend_next"].to_numpy("float64")
    out = {}
    for name, column in (("last_90d_spend", "spend_90d"), ("bgnbd_gamma_gamma", "lifetime_value_horizon")):
        metrics = value_metrics(actual, ev[column].to_numpy("float64"))
        out[name] = {k: v for k, v in metrics.items() if k != "by_decile"}
    return out
