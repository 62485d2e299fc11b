"""Train, log, register and promote the churn and value models; load their champions.

Each run logs its parameters, the data fingerprint and cutoffs, the feature list, the protocol metrics and
the baselines beside them, the plots (PNG), and the model (pyfunc with signature and input example). The
version becomes ``champion`` only when it beats the champion on the same evaluation (data fingerprint,
evaluation cutoff, horizon); ``force`` overrides. The run's ``promotion.*`` tags say why.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from shopml.settings import Settings
from training.customers.churn import ChurnParams, ChurnResult, fit_churn
from training.customers.data import CustomerData, build_customer_data, plan_cutoffs
from training.customers.value import ValueParams, ValueResult, fit_value
from training.names import CHAMPION_ALIAS, CHURN, CUSTOMER_VALUE

log = logging.getLogger(__name__)

EXPERIMENT = "customers"
PIP_REQUIREMENTS = ["lightgbm==4.7.0", "pandas", "numpy", "scipy", "scikit-learn"]


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


@dataclass(frozen=True)
class TrainOutcome:
    """What a training command did: the metrics, the registered version and whether it became champion."""

    model_name: str
    run_id: str
    version: str
    promoted: bool
    reason: str
    metrics: dict[str, object]
    baselines: dict[str, object]


def load_training_tables(settings: Settings, data: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The canonical tables in ``settings.raw_dir`` by default, or any file/folder ``features.loaders`` reads."""
    if data is None:
        from features.store import load_tables

        return load_tables(settings.raw_dir, ("orders", "products"))
    from features.loaders import load

    return load(Path(data)).tables


def prepare(tables: dict[str, pd.DataFrame], config: TrainConfig | None = None, cache: dict | None = None) -> CustomerData:
    config = config or TrainConfig()
    return build_customer_data(tables, config.plan(tables["orders"]), cache)


def champion_exists(settings: Settings, model_name: str) -> bool:
    from mlflow.exceptions import MlflowException

    from training.tracking import configure_mlflow

    client = configure_mlflow(settings)
    try:
        client.get_model_version_by_alias(model_name, CHAMPION_ALIAS)
    except MlflowException:
        return False
    return True


def _log_common(data: CustomerData, names: list[str], params: dict[str, object]) -> None:
    import mlflow

    from training.tracking import log_data_lineage

    log_data_lineage(data.fingerprint, data.plan.to_dict(), names)
    mlflow.log_params({k: str(v) for k, v in params.items()})
    mlflow.log_param("train_rows", len(data.train))
    mlflow.log_param("evaluation_rows", len(data.evaluation))
    mlflow.set_tag("evaluation_key", data.evaluation_key)


def _log_model(inference_object, data: CustomerData, predict) -> str:
    import mlflow
    from mlflow.models import infer_signature

    from training.customers.pyfunc import CustomerModelPyfunc

    example = data.evaluation[["customer_id", *_feature_columns()]].head(5)
    signature = infer_signature(example, predict(example))
    with tempfile.TemporaryDirectory() as tmp:
        folder = inference_object.save(Path(tmp) / "model")
        info = mlflow.pyfunc.log_model(
            name="model", python_model=CustomerModelPyfunc(), artifacts={"model": str(folder)},
            signature=signature, input_example=example, pip_requirements=PIP_REQUIREMENTS,
        )
    return info.model_uri


def _feature_columns() -> list[str]:
    from features.customers import CUSTOMER_FEATURES

    return list(CUSTOMER_FEATURES)


def train_churn(settings: Settings, data: CustomerData, *, params: ChurnParams | None = None,
                force: bool = False) -> tuple[TrainOutcome, ChurnResult]:
    """Fit the churn model on ``data``, log everything, register it and decide on promotion."""
    import mlflow

    from training.customers import plots
    from training.registry import register_and_promote
    from training.tracking import configure_mlflow, log_figure, log_metrics_flat, training_run

    params = params or ChurnParams(seed=settings.seed)
    result = fit_churn(data, params)
    client = configure_mlflow(settings)
    with training_run(settings, EXPERIMENT, f"churn {data.plan.evaluation:%Y-%m-%d}") as run:
        _log_common(data, result.model.feature_names, asdict(params))
        log_metrics_flat({"evaluation": result.metrics, "baselines": result.baselines,
                          "calibration_fold": result.calibration_fold})
        mlflow.set_tag("calibration", result.calibration_fold.get("method", params.calibration))
        mlflow.log_dict(result.calibration_fold, "calibration_fold.json")  # with the anchors' dates and rates
        y, p = result.predictions["churned"], result.predictions["churn_probability"]
        log_figure(plots.calibration_curve(y, p), "calibration_curve")
        log_figure(plots.gain_chart(y, p), "cumulative_gain")
        log_figure(plots.feature_importance(result.importance), "feature_importance")
        mlflow.log_dict(result.importance, "feature_importance.json")
        uri = _log_model(result.model, data, result.model.predict_proba)
        decision = register_and_promote(client, model_name=CHURN, model_uri=uri, run_id=run.info.run_id,
                                        metric="roc_auc", value=result.metrics["roc_auc"],
                                        evaluation_key=data.evaluation_key, force=force)
    outcome = TrainOutcome(CHURN, run.info.run_id, decision.version, decision.promoted, decision.reason,
                           result.metrics, result.baselines)
    return outcome, result


def train_value(settings: Settings, data: CustomerData, *, params: ValueParams | None = None,
                force: bool = False) -> tuple[TrainOutcome, ValueResult]:
    """Fit tweedie and two-part, keep the winner on the held-out fold, log, register and decide on promotion."""
    import mlflow

    from training.customers import plots
    from training.registry import register_and_promote
    from training.tracking import configure_mlflow, log_figure, log_metrics_flat, training_run

    params = params or ValueParams(seed=settings.seed)
    result = fit_value(data, params)
    client = configure_mlflow(settings)
    with training_run(settings, EXPERIMENT, f"value {data.plan.evaluation:%Y-%m-%d}") as run:
        _log_common(data, result.model.feature_names, asdict(params))
        mlflow.log_params({"value_kind": result.model.kind, "value_candidate": result.metrics["candidate"],
                           "value_blend_weight": result.model.blend_weight})
        metrics = {k: v for k, v in result.metrics.items() if k not in ("by_decile", "kind", "candidate")}
        log_metrics_flat({"evaluation": metrics, "baselines": result.baselines, "selection_fold": result.selection,
                          "candidates": {k: {m: v for m, v in c.items() if m != "by_decile"}
                                         for k, c in result.candidates.items()}})
        mlflow.log_dict(result.metrics["by_decile"], "value_by_decile.json")
        log_figure(plots.value_deciles(result.metrics["by_decile"]), "value_by_decile")
        log_figure(plots.gain_chart(result.predictions["spend_next"], result.predictions["predicted_value"]),
                   "cumulative_gain")
        log_figure(plots.feature_importance(result.importance), "feature_importance")
        uri = _log_model(result.model, data, result.model.predict)
        decision = register_and_promote(client, model_name=CUSTOMER_VALUE, model_uri=uri, run_id=run.info.run_id,
                                        metric="normalized_gini", value=result.primary,
                                        evaluation_key=data.evaluation_key, force=force)
    outcome = TrainOutcome(CUSTOMER_VALUE, run.info.run_id, decision.version, decision.promoted, decision.reason,
                           result.metrics, result.baselines)
    return outcome, result


def load_champion(settings: Settings, alias: str = CHAMPION_ALIAS):
    """``(CustomerScorer, {"churn": version, "customer_value": version})`` from the registry's champions."""
    from training.customers.predict import CustomerScorer
    from training.registry import load_champion_model

    churn, churn_version = load_champion_model(settings, CHURN, alias)
    value, value_version = load_champion_model(settings, CUSTOMER_VALUE, alias)
    return CustomerScorer(churn, value), {CHURN: churn_version, CUSTOMER_VALUE: value_version}
