"""CUPAC: a shopml-style customer-value prediction as the CUPED covariate, on the synthetic shop.

A small model is fitted on one cutoff's features and labels, then scores the customers as of the
experiment's start; the experiment's outcome is the next 90 days' spend. The scorer mimics the interface of
``training.customers.CustomerScorer`` (``score(features) -> customer_id, predicted_value``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from experiments import ExperimentError, assign_many, customer_value_covariate, evaluate, prediction_covariate
from features.customers import CUSTOMER_SET, build_customer_features
from features.synthetic import ShopConfig, generate_shop

VARIANTS = [{"name": "control", "weight": 0.5, "control": True}, {"name": "treatment", "weight": 0.5}]


class ValueScorer:
    """A fitted regression of 90-day spend on numeric customer features, behind the CustomerScorer interface."""

    def __init__(self, features: pd.DataFrame, labels: pd.DataFrame):
        self.columns = [c for c in features.columns if c != "country"]
        self.model = LinearRegression().fit(features[self.columns].fillna(0), labels.loc[features.index, "spend_next"])

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        prediction = self.model.predict(features[self.columns].fillna(0))
        return pd.DataFrame({"customer_id": features["customer_id"], "predicted_value": prediction})


@pytest.fixture(scope="module")
def shop_experiment():
    shop = generate_shop(ShopConfig(customers=3000, products=100, days=365, seed=11))
    orders = shop.orders
    start = orders["ordered_at"].min().normalize()
    train_cutoff, experiment_start = start + pd.Timedelta(days=150), start + pd.Timedelta(days=250)
    train = build_customer_features(orders, train_cutoff, horizon_days=90).set_index("customer_id")
    scorer = ValueScorer(train[CUSTOMER_SET.feature_names], train[CUSTOMER_SET.label_names])
    at_start = build_customer_features(orders, experiment_start, horizon_days=90).set_index("customer_id")
    features, outcome = at_start[CUSTOMER_SET.feature_names], at_start["spend_next"]
    new = pd.Series(0.0, index=pd.Index([f"new-{i}" for i in range(50)], name="customer_id"))
    outcome = pd.concat([outcome, new])  # customers without history, who join during the test
    rows = pd.DataFrame({"unit_id": outcome.index.astype(str), "spend": outcome.to_numpy()})
    split = [{"name": v["name"], "weight": v["weight"]} for v in VARIANTS]
    rows["variant"] = assign_many({"experiment": "cupac-test", "variants": split}, rows["unit_id"])
    return rows, scorer, features


def _spec(cuped: bool) -> dict:
    metric = {"name": "spend", "type": "mean", "cuped": cuped, "covariate_column": "predicted_value"}
    return {"name": "cupac", "variants": VARIANTS, "metrics": [metric]}


def test_cupac_reduces_variance_by_the_prediction_r_squared(shop_experiment):
    rows, scorer, features = shop_experiment
    with_covariate, report = customer_value_covariate(rows, scorer, features)
    assert report.filled == 50 and report.scored == len(rows) - 50
    assert (with_covariate.loc[with_covariate["unit_id"].str.startswith("new-"), "predicted_value"] == 0).all()
    adjusted = evaluate(_spec(True), with_covariate).comparison("spend", "treatment")
    plain = evaluate(_spec(False), with_covariate).comparison("spend", "treatment")
    r2 = np.corrcoef(with_covariate["spend"], with_covariate["predicted_value"])[0, 1] ** 2
    assert r2 > 0.1  # the model predicts something
    assert adjusted.cuped_variance_reduction == pytest.approx(r2, abs=0.03)
    assert adjusted.standard_error < plain.standard_error


def test_cupac_accepts_features_indexed_by_customer_and_refuses_unknown_units_on_request(shop_experiment):
    rows, scorer, features = shop_experiment
    by_index, _ = customer_value_covariate(rows, scorer, features)  # features indexed by customer_id
    by_column, _ = customer_value_covariate(rows, scorer, features.reset_index())
    np.testing.assert_array_equal(by_index["predicted_value"], by_column["predicted_value"])
    with pytest.raises(ExperimentError, match="50 unit"):
        customer_value_covariate(rows, scorer, features, fill_value=None)
    with pytest.raises(ExperimentError, match="lacks column 'clv'"):
        customer_value_covariate(rows, scorer, features, prediction="clv")
    with pytest.raises(ExperimentError, match="no unit id matched"):
        customer_value_covariate(rows.assign(unit_id="x" + rows["unit_id"]), scorer, features)
    with pytest.raises(ExperimentError, match="already have a column 'spend'"):
        customer_value_covariate(rows, scorer, features, column="spend")


def test_prediction_covariate_from_any_fitted_model():
    class Model:
        def predict(self, frame):
            return 2 * frame["orders_90d"].to_numpy()

    rows = pd.DataFrame({"orders_90d": [1, 2, 3]})
    assert prediction_covariate(rows, Model(), ["orders_90d"])["cupac_prediction"].tolist() == [2, 4, 6]
    with pytest.raises(ExperimentError, match="not in the rows"):
        prediction_covariate(rows, Model(), ["spend_90d"])
