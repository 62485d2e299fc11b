"""The training-run lifecycle, once for every family: what a run logs, and when a version becomes champion.

A toy model stands in for the families (each family's own train test checks its metrics and plots); the
registry is a real SQLite MLflow store in the test's data home.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import mlflow
import pandas as pd
import pytest

from training import lifecycle
from training.lifecycle import Candidate, Lineage, run_training
from training.tracking import configure_mlflow

EVAL_A = Lineage("fp-A", "fp-A:2024-01-01:90d", {"evaluation": "2024-01-01", "train_0": "2023-10-01"},
                 ("orders_90d", "days_since_last_order"))


class Constant(mlflow.pyfunc.PythonModel):
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, context, model_input, params=None):
        return [self.value] * len(model_input)


@pytest.fixture(autouse=True)
def toy_model_logging(monkeypatch):
    """Log the toy's float as a Constant pyfunc (the families' inference objects have their own packaging)."""
    logged = []

    def log_model(model, *, example):
        logged.append(example)
        return mlflow.pyfunc.log_model(name="model", python_model=Constant(model), input_example=example,
                                       pip_requirements=["mlflow"]).model_uri

    monkeypatch.setattr(lifecycle, "log_model", log_model)
    return logged


def candidate(value: float, *, model: float = 1.0, lineage: Lineage = EVAL_A, name: str = "toy", **kwargs) -> Candidate:
    def figure():
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, value])
        return fig

    fields = {
        "model_name": name, "experiment": "lifecycle-test", "run_name": f"toy {value}", "model": model,
        "example": pd.DataFrame({"x": [1.0, 2.0]}), "metric": "auc", "value": value, "lineage": lineage,
        "params": {"trees": 60, "calibration": "same_season"},
        "metrics": {"auc": value, "by_segment": {"new": 0.6, "label": "not a number"}},
        "baselines": {"recency": {"auc": 0.55}}, "diagnostics": {"fold": {"rate": 0.3}},
        "figures": {"curve": figure}, "artifacts": {"importance.json": {"orders_90d": 12}},
        "tags": {"calibration": "same_season"},
    }
    return Candidate(**{**fields, **kwargs})


@pytest.mark.slow
def test_a_run_logs_lineage_params_metrics_plots_and_artifacts(settings, toy_model_logging):
    result = object()
    outcome = run_training(settings, candidate(0.7), result)
    assert outcome.promoted and outcome.version == "1" and "first version" in outcome.reason
    assert outcome.result is result and outcome.metric == "auc" and outcome.value == 0.7 and outcome.seconds > 0
    assert outcome.summary().startswith("toy v1 (auc 0.7000): promoted")

    run = mlflow.get_run(outcome.run_id)
    assert run.info.experiment_id == mlflow.get_experiment_by_name("lifecycle-test").experiment_id
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["data_fingerprint"] == "fp-A" and params["cutoff_evaluation"] == "2024-01-01"
    assert params["trees"] == "60" and params["n_features"] == "2"
    assert tags["evaluation_key"] == EVAL_A.evaluation_key and tags["calibration"] == "same_season"
    assert metrics["auc"] == 0.7 and metrics["evaluation.auc"] == 0.7 and metrics["evaluation.by_segment.new"] == 0.6
    assert metrics["baselines.recency.auc"] == 0.55 and metrics["fold.rate"] == 0.3
    assert tags["promotion.promoted"] == "true" and tags["promotion.version"] == "1"

    client = mlflow.MlflowClient()
    artifacts = {a.path for a in client.list_artifacts(outcome.run_id)}
    assert {"lineage.json", "importance.json", "plots"} <= artifacts
    assert {a.path for a in client.list_artifacts(outcome.run_id, "plots")} == {"plots/curve.png"}
    lineage = mlflow.artifacts.load_dict(f"runs:/{outcome.run_id}/lineage.json")
    assert lineage["features"] == ["orders_90d", "days_since_last_order"] and lineage["fingerprint"] == "fp-A"
    assert toy_model_logging[0].equals(pd.DataFrame({"x": [1.0, 2.0]}))  # the family's example reaches the logger
    champion = client.get_model_version_by_alias("toy", "champion")
    assert str(champion.version) == "1" and champion.tags["evaluation_key"] == EVAL_A.evaluation_key


@pytest.mark.slow
def test_promotion_only_on_the_same_evaluation_and_force_overrides(settings):
    client = configure_mlflow(settings)  # a bare MlflowClient would use the registry URI another test set
    first = run_training(settings, candidate(0.70, model=1.0), None)
    assert first.promoted

    worse = run_training(settings, candidate(0.65, model=2.0), None)
    assert not worse.promoted and worse.version == "2"
    assert "does not beat champion v1 (0.7000)" in worse.reason
    assert mlflow.get_run(worse.run_id).data.tags["promotion.reason"] == worse.reason
    assert str(client.get_model_version_by_alias("toy", "champion").version) == "1"

    equal = run_training(settings, candidate(0.70, model=3.0), None)
    assert not equal.promoted  # a tie keeps the champion

    elsewhere = Lineage("fp-B", "fp-B:2024-02-01:90d", {"evaluation": "2024-02-01"})
    other = run_training(settings, candidate(0.99, model=4.0, lineage=elsewhere), None)
    assert not other.promoted and "different evaluation" in other.reason  # 0.99 is not compared with 0.70

    asked = []
    rescored = run_training(settings, candidate(0.80, model=5.0, lineage=elsewhere,
                                                rescore=lambda uri: asked.append(uri) or 0.85), None)
    assert asked == ["models:/toy/1"] and not rescored.promoted and "(0.8500)" in rescored.reason

    forced = run_training(settings, candidate(0.10, model=6.0), None, force=True)
    assert forced.promoted and forced.reason.startswith("forced")
    assert mlflow.pyfunc.load_model("models:/toy@champion").predict(pd.DataFrame({"x": [0.0]})) == [6.0]


@pytest.mark.slow
def test_a_tiebreak_promotes_an_as_good_version_with_a_better_second_metric(settings):
    """Churn's rule: ROC-AUC decides; within the tolerance of the champion's, the Brier score does. The
    champion's second metric comes from its tags on the same evaluation, from ``rescore`` on another."""
    from training.registry import Tiebreak

    def tied(auc: float, brier: float, **kwargs) -> Candidate:
        return candidate(auc, name="toy_tie", tiebreak=Tiebreak("brier", brier, tolerance=0.005), **kwargs)

    assert run_training(settings, tied(0.80, 0.16), None).promoted
    calibrated = run_training(settings, tied(0.798, 0.15, model=2.0), None)
    assert calibrated.promoted and "brier 0.1500 beats its 0.1600" in calibrated.reason, calibrated.reason
    assert not run_training(settings, tied(0.79, 0.10, model=3.0), None).promoted  # ranks worse: kept
    elsewhere = Lineage("fp-C", "fp-C:2024-03-01:90d", {"evaluation": "2024-03-01"})
    rescored = run_training(settings, tied(0.80, 0.14, model=4.0, lineage=elsewhere,
                                           rescore=lambda uri: {"auc": 0.801, "brier": 0.13}), None)
    assert not rescored.promoted and "brier 0.1400 does not beat its 0.1300" in rescored.reason


@pytest.mark.slow
def test_lower_is_better_metrics_promote_the_smaller_value(settings):
    lower = {"name": "toy_wape", "metric": "wape", "higher_is_better": False}
    assert run_training(settings, candidate(0.40, **lower), None).promoted
    assert not run_training(settings, candidate(0.45, **lower), None).promoted
    better = run_training(settings, candidate(0.35, **lower), None)
    assert better.promoted and "beats champion v1" in better.reason


def test_training_tables_come_from_the_data_home_or_a_path(settings, tmp_path):
    from features.store import save_tables
    from features.synthetic import ShopConfig, generate_shop
    from shopml.errors import NotTrainedError

    with pytest.raises(NotTrainedError):
        lifecycle.load_training_tables(settings)
    shop = generate_shop(ShopConfig(customers=50, products=20, days=60, seed=1))
    save_tables(shop.tables(), settings.raw_dir, source="synthetic:test")
    raw = lifecycle.load_training_tables(settings)
    assert len(raw["orders"]) == len(shop.tables()["orders"]) and "products" in raw
    assert lifecycle.load_training_tables(settings, "raw")["orders"].equals(raw["orders"])
    assert lifecycle.data_source(settings) == "synthetic:test"
    assert lifecycle.data_source(settings, tmp_path / "x.csv") == str(tmp_path / "x.csv")


def test_artifacts_stay_in_the_data_home(settings, tmp_path):
    """With the default SQLite store, MLflow would write artifacts to ./mlruns wherever the command runs."""
    outcome = run_training(settings, candidate(0.7), None)
    artifact_uri = mlflow.get_run(outcome.run_id).info.artifact_uri
    assert artifact_uri.startswith((settings.data_home.resolve() / "mlartifacts").as_uri()), artifact_uri
    assert not (tmp_path / "mlruns").exists()  # the fixture's working directory
