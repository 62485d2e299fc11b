"""Train the churn and customer value models: fit and evaluate on stacked cutoffs, then the shared lifecycle.

Churn: LightGBM, calibrated, primary metric ROC-AUC, the Brier score as tiebreak (:data:`CHURN_AUC_TOLERANCE`); value: tweedie vs. two-part (the winner on the held-out
fold), primary metric normalized Gini. Both are compared with the champion on the evaluation key
``fingerprint:evaluation cutoff:horizon``. Logging, registration and promotion are
:func:`training.lifecycle.run_training`'s.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import pandas as pd

from shopml.settings import Settings
from training.customers.churn import ChurnParams, ChurnResult, fit_churn
from training.customers.data import CustomerData, build_customer_data, plan_cutoffs
from training.customers.value import ValueParams, ValueResult, fit_value
from training.lifecycle import Candidate, Lineage, TrainOutcome, run_training
from training.names import CHURN, CUSTOMER_VALUE
from training.registry import Tiebreak

log = logging.getLogger(__name__)

EXPERIMENT = "customers"
CHURN_AUC_TOLERANCE = 0.005
"""A churn challenger whose ROC-AUC is at most this far below the champion's (under the sampling error of an
evaluation window of a few thousand customers, about 0.007) is promoted when its Brier score is better: it
ranks as well and its probabilities are closer to what happened (after a shift, a corrected base rate)."""


@dataclass(frozen=True)
class TrainConfig:
    """Which cutoffs to use (see :func:`training.customers.data.plan_cutoffs`)."""

    evaluation_cutoff: str | None = None
    horizon_days: int = 90
    n_train: int = 16
    spacing_days: int = 10
    min_history_days: int = 40

    def plan(self, orders: pd.DataFrame):
        return plan_cutoffs(orders, evaluation_cutoff=self.evaluation_cutoff, horizon_days=self.horizon_days,
                            n_train=self.n_train, spacing_days=self.spacing_days,
                            min_history_days=self.min_history_days)


def prepare(tables: dict[str, pd.DataFrame], config: TrainConfig | None = None, cache: dict | None = None) -> CustomerData:
    """The training and evaluation sets both customer models learn from (one build serves both)."""
    config = config or TrainConfig()
    return build_customer_data(tables, config.plan(tables["orders"]), cache)


def train_churn(settings: Settings, data: CustomerData, *, params: ChurnParams | None = None,
                force: bool = False) -> TrainOutcome[ChurnResult]:
    """Fit the churn model on ``data``, then log, register and promote it if it wins (or ``force``)."""
    from training.customers import plots

    started = time.perf_counter()
    params = params or ChurnParams(seed=settings.seed)
    result = fit_churn(data, params)
    y, p = result.predictions["churned"], result.predictions["churn_probability"]
    candidate = Candidate(
        model_name=CHURN, experiment=EXPERIMENT, run_name=f"churn {data.plan.evaluation:%Y-%m-%d}",
        model=result.model, example=_example(data), metric="roc_auc", value=result.metrics["roc_auc"],
        lineage=_lineage(data, result.model.feature_names), params=_params(data, asdict(params)),
        metrics=result.metrics, baselines=result.baselines,
        diagnostics={"calibration_fold": result.calibration_fold},
        tags={"calibration": str(result.calibration_fold.get("method", params.calibration))},
        artifacts={"calibration_fold.json": result.calibration_fold,  # with the anchors' dates and rates
                   "feature_importance.json": result.importance},
        rescore=_rescore(settings, data, "churn"),
        tiebreak=Tiebreak("brier", result.metrics["brier"], tolerance=CHURN_AUC_TOLERANCE),
        figures={"calibration_curve": lambda: plots.calibration_curve(y, p),
                 "cumulative_gain": lambda: plots.gain_chart(y, p),
                 "feature_importance": lambda: plots.feature_importance(result.importance)},
    )
    return run_training(settings, candidate, result, force=force, started=started)


def train_value(settings: Settings, data: CustomerData, *, params: ValueParams | None = None,
                force: bool = False) -> TrainOutcome[ValueResult]:
    """Fit tweedie and two-part, keep the winner on the held-out fold, then log, register and maybe promote."""
    from training.customers import plots

    started = time.perf_counter()
    params = params or ValueParams(seed=settings.seed)
    result = fit_value(data, params)
    by_decile = result.metrics["by_decile"]
    candidate = Candidate(
        model_name=CUSTOMER_VALUE, experiment=EXPERIMENT, run_name=f"value {data.plan.evaluation:%Y-%m-%d}",
        model=result.model, example=_example(data), metric="normalized_gini", value=result.primary,
        lineage=_lineage(data, result.model.feature_names),
        params=_params(data, {**asdict(params), "value_kind": result.model.kind,
                              "value_candidate": result.metrics["candidate"],
                              "value_blend_weight": result.model.blend_weight}),
        metrics=result.metrics, baselines=result.baselines,  # by_decile (a list) and the labels are not logged
        diagnostics={"selection_fold": result.selection,
                     "candidates": {k: {m: v for m, v in c.items() if m != "by_decile"}
                                    for k, c in result.candidates.items()}},
        artifacts={"value_by_decile.json": by_decile},
        rescore=_rescore(settings, data, "value"),
        figures={"value_by_decile": lambda: plots.value_deciles(by_decile),
                 "cumulative_gain": lambda: plots.gain_chart(result.predictions["spend_next"],
                                                             result.predictions["predicted_value"]),
                 "feature_importance": lambda: plots.feature_importance(result.importance)},
    )
    return run_training(settings, candidate, result, force=force, started=started)


def _rescore(settings: Settings, data: CustomerData, which: str):
    """The champion's metrics on *this* evaluation set, for a champion trained on other data (a retrain on
    newer data compares both models on the newest labelled window, :mod:`training.registry`): churn's by name
    (ROC-AUC and the Brier tiebreak), value's normalized Gini."""

    def rescore(uri: str) -> float | dict[str, float]:
        from training.customers.churn import ChurnModel
        from training.customers.metrics import churn_metrics, normalized_gini
        from training.customers.value import ValueModel
        from training.registry import load_version

        name, version = uri.removeprefix("models:/").rsplit("/", 1)
        evaluation = data.evaluation
        if which == "churn":
            model = load_version(ChurnModel, settings, {name: version})
            return churn_metrics(evaluation["churned"], model.predict_proba(evaluation))
        value = load_version(ValueModel, settings, {name: version})
        return normalized_gini(evaluation["spend_next"], value.predict_value(evaluation))

    return rescore


def _lineage(data: CustomerData, features: list[str]) -> Lineage:
    return Lineage(data.fingerprint, data.evaluation_key, data.plan.to_dict(), tuple(features))


def _params(data: CustomerData, params: dict[str, object]) -> dict[str, object]:
    return {**params, "train_rows": len(data.train), "evaluation_rows": len(data.evaluation)}


def _example(data: CustomerData) -> pd.DataFrame:
    from features.customers import CUSTOMER_FEATURES

    return data.evaluation[list(CUSTOMER_FEATURES)].head(5)  # the models' inputs: no customer_id

