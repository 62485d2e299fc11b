"""Customer value: predicted net spend over the horizon.

Two candidates learn on the stacked cutoffs: a LightGBM regressor with a tweedie objective (zero-inflated,
right-skewed spend in one model) and a two-part model ``P(buy) x E[spend | buy]`` (a classifier and a gamma
regressor on buyers). Both are scored on the time-held-out fold (the latest training cutoff) by normalized Gini;
the winner is refitted on all training cutoffs. The evaluation cutoff is never used to choose.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shopml.errors import ShopmlError
from training.customers.datasets import CustomerData
from training.customers.encoding import FeatureEncoder
from training.customers.metrics import normalized_gini, value_metrics

log = logging.getLogger(__name__)

KINDS = ("tweedie", "two_part")


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
    use_lifetime: bool = True
    seed: int = 42
    num_threads: int = 1

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            raise ShopmlError(f"ValueParams.kinds={self.kinds!r}: choose one or more of {', '.join(KINDS)}.")
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


class ValueModel:
    """Inference object: expected net spend over the horizon from a customer feature table."""

    def __init__(self, kind: str, boosters: dict[str, object], encoder: FeatureEncoder,
                 info: dict[str, object] | None = None) -> None:
        if kind not in KINDS:
            raise ShopmlError(f"unknown value model kind {kind!r}; expected one of {', '.join(KINDS)}.")
        self.kind = kind
        self.boosters = boosters
        self.encoder = encoder
        self.info = info or {}

    @property
    def feature_names(self) -> list[str]:
        return self.encoder.names

    def predict_matrix(self, X: np.ndarray) -> np.ndarray:
        if self.kind == "tweedie":
            return self.boosters["spend"].predict(X, num_threads=1)
        return self.boosters["buy"].predict(X, num_threads=1) * self.boosters["spend_if_buy"].predict(X, num_threads=1)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.predict_matrix(self.encoder.matrix(features))

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, booster in self.boosters.items():
            booster.save_model(str(directory / f"{name}.txt"))
        meta = {"kind": self.kind, "boosters": list(self.boosters), "encoder": self.encoder.to_dict(), "info": self.info}
        (directory / "model.json").write_text(json.dumps(meta, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ValueModel:
        import lightgbm as lgb

        directory = Path(directory)
        meta = json.loads((directory / "model.json").read_text())
        boosters = {name: lgb.Booster(model_file=str(directory / f"{name}.txt")) for name in meta["boosters"]}
        return cls(meta["kind"], boosters, FeatureEncoder.from_dict(meta["encoder"]), meta["info"])


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
    """Choose tweedie or two-part on the time-held-out fold, refit on all training cutoffs, evaluate."""
    params = params or ValueParams()
    plan = data.plan
    encoder = FeatureEncoder.fit(data.train, data.lifetime[plan.evaluation], use_lifetime=params.use_lifetime)
    names = encoder.names
    X_all = encoder.matrix(data.train, data.train if encoder.use_lifetime else None)
    spend_all = data.train["spend_next"].to_numpy("float64")
    held = (data.train["cutoff"] == plan.calibration).to_numpy()
    X_ev = encoder.matrix(data.evaluation, data.evaluation if encoder.use_lifetime else None)
    actual = data.evaluation["spend_next"].to_numpy("float64")
    selection, candidates = {}, {}
    for kind in params.kinds:
        fold_model = ValueModel(kind, _fit_kind(kind, X_all[~held], spend_all[~held], names, params), encoder)
        selection[kind] = normalized_gini(spend_all[held], fold_model.predict_matrix(X_all[held]))
    winner = max(selection, key=selection.get)
    for kind in params.kinds:
        model = ValueModel(kind, _fit_kind(kind, X_all, spend_all, names, params), encoder,
                           info={"params": asdict(params), "cutoffs": plan.to_dict(), "selection": selection})
        candidates[kind] = {"model": model, "metrics": value_metrics(actual, model.predict_matrix(X_ev))}
    best = candidates[winner]["model"]
    predicted = best.predict_matrix(X_ev)
    best.info["high_value_threshold"] = float(np.quantile(predicted, 0.9))
    best.encoder = data.scoring_encoder(encoder)
    first = next(iter(best.boosters.values()))
    importance = dict(zip(names, first.feature_importance("gain").tolist(), strict=True))
    predictions = pd.DataFrame({"customer_id": data.evaluation["customer_id"], "spend_next": actual,
                                "predicted_value": predicted})
    log.info("value model: %s wins on the held-out fold (%s)", winner, selection)
    return ValueResult(
        model=best, metrics=candidates[winner]["metrics"] | {"kind": winner}, baselines=value_baselines(data),
        selection=selection, candidates={k: v["metrics"] for k, v in candidates.items()}, params=params,
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
