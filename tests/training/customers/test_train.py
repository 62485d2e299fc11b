"""MLflow: logged runs, registry promotion on the same evaluation, pyfunc probabilities, champions, CLI errors."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from shopml.errors import NotTrainedError, ShopmlError
from training.customers import ChurnParams, CustomerScorer, ValueParams, train_churn, train_value
from training.customers.audiences import score_audience, write_audience
from training.names import CHURN, CUSTOMER_VALUE
from training.registry import load_champion

FAST_CHURN = ChurnParams(trees=60, seed=1)
FAST_VALUE = ValueParams(trees=60, seed=1)


def test_no_champion_says_which_command_to_run(settings):
    with pytest.raises(NotTrainedError, match="shopml train churn"):
        load_champion(CustomerScorer, settings)


@pytest.mark.slow
def test_train_register_promote_and_load_champions(settings, small_data, tmp_path):
    first = train_churn(settings, small_data, params=FAST_CHURN)
    assert first.promoted and first.version == "1"
    run = mlflow.get_run(first.run_id)
    assert run.data.params["cutoff_evaluation"] == f"{small_data.plan.evaluation:%Y-%m-%d}"
    assert "evaluation.roc_auc" in run.data.metrics and "baselines.recency.roc_auc" in run.data.metrics
    assert run.data.tags["calibration"] == "same_season"  # the small shop spans 540 days: a year back exists
    assert "calibration_fold.evaluation_anchor.churn_rate" in run.data.metrics
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(first.run_id, "plots")}
    assert {"plots/calibration_curve.png", "plots/cumulative_gain.png", "plots/feature_importance.png"} <= artifacts

    again = train_churn(settings, small_data, params=FAST_CHURN)  # same model, same evaluation: not better
    assert not again.promoted and "does not beat" in again.reason
    assert mlflow.get_run(again.run_id).data.tags["promotion.promoted"] == "false"
    forced = train_churn(settings, small_data, params=FAST_CHURN, force=True)
    assert forced.promoted and forced.version == "3"

    with pytest.raises(NotTrainedError, match="shopml train value"):
        load_champion(CustomerScorer, settings)
    value = train_value(settings, small_data, params=FAST_VALUE)
    assert value.promoted

    scorer, versions = load_champion(CustomerScorer, settings)
    assert versions == {CHURN: "3", CUSTOMER_VALUE: "1"}
    pyfunc = mlflow.pyfunc.load_model(f"models:/{CHURN}@champion")
    assert pyfunc.unwrap_python_model().model is not None
    table = small_data.evaluation.head(50)
    from features.customers import CUSTOMER_FEATURES

    inputs = table[list(CUSTOMER_FEATURES)]  # the signature's inputs: no customer_id
    predicted = pyfunc.predict(inputs)
    assert list(predicted.columns) == ["churn_probability"]  # a named column, not an unnamed array
    p = predicted["churn_probability"].to_numpy()
    assert ((p > 0) & (p < 1)).any() and ((p >= 0) & (p <= 1)).all()  # probabilities, not labels
    np.testing.assert_allclose(p, scorer.score(table)["churn_probability"].to_numpy())
    spend = mlflow.pyfunc.load_model(f"models:/{CUSTOMER_VALUE}@champion").predict(inputs)
    assert list(spend.columns) == ["predicted_value"]
    np.testing.assert_allclose(spend["predicted_value"], value.result.model.predict_value(table))

    # Audiences from the champions: filters, and an empty audience writes nothing.
    result = score_audience(settings, features_path=_parquet(table, tmp_path), top=10, scorer=scorer, versions=versions)
    assert len(result.audience) == 10 and result.audience["predicted_value"].is_monotonic_decreasing
    out = write_audience(result.audience, tmp_path / "aud.csv")
    assert len(pd.read_csv(out)) == 10
    with pytest.raises(ShopmlError, match="Nothing was written"):
        score_audience(settings, features_path=_parquet(table, tmp_path), min_value=1e12, scorer=scorer)
    with pytest.raises(ShopmlError, match="unknown segment"):
        score_audience(settings, features_path=_parquet(table, tmp_path), segment="vip", scorer=scorer)


def _parquet(table: pd.DataFrame, tmp_path) -> object:
    path = tmp_path / "customers.parquet"
    table.to_parquet(path, index=False)
    return path
