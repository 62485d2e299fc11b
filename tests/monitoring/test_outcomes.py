"""Outcomes: scores joined with what customers did, against hand-computed figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.customers import customer_labels
from monitoring.history import History
from monitoring.outcomes import customer_outcomes, forecast_outcomes, latest_scored, recommendation_outcomes
from shopml.metrics import expected_calibration_error


def scores_at(tiny_shop, cutoff: str, version: str, noise: float, seed: int) -> pd.DataFrame:
    orders = tiny_shop.tables()["orders"]
    customers = orders.loc[(orders["ordered_at"] < cutoff) & orders["customer_id"].notna(), "customer_id"].unique()
    labels = customer_labels(orders, cutoff, 30, pd.Index(customers))
    rng = np.random.default_rng(seed)
    p = np.clip(0.6 * labels["churned"].to_numpy() + 0.2 + rng.normal(0, noise, len(labels)), 0.01, 0.99)
    return pd.DataFrame({"scored_at": pd.Timestamp(cutoff), "model_version": version, "customer_id": labels.index,
                         "churn_probability": p, "predicted_value": labels["spend_next"].to_numpy() + 1.0})


def test_scored_cohorts_match_the_metrics_computed_by_hand_and_open_ones_wait(tiny_shop):
    orders = tiny_shop.tables()["orders"]
    early = scores_at(tiny_shop, "2023-03-01", "c1", 0.2, 0)
    late = scores_at(tiny_shop, "2023-05-01", "c2", 0.2, 1)
    outcomes = customer_outcomes(pd.concat([early, late]), orders, pd.Timestamp("2023-04-15"), horizon_days=30)
    first, second = outcomes.iloc[0], outcomes.iloc[1]
    assert second["status"] == "pending until 2023-05-31"
    labels = customer_labels(orders, "2023-03-01", 30, pd.Index(early["customer_id"]))
    y = labels["churned"].to_numpy()
    from sklearn.metrics import roc_auc_score

    assert first["roc_auc"] == pytest.approx(roc_auc_score(y, early["churn_probability"]))
    assert first["ece"] == pytest.approx(expected_calibration_error(y, early["churn_probability"].to_numpy()))
    assert first["value_gini"] == pytest.approx(1.0)  # predicted = realised + 1: the perfect ranking
    assert first["unmatched"] == 0 and sum(b["count"] for b in first["reliability"]) == len(early)
    assert latest_scored(outcomes)["model_version"] == "c1"


def test_unknown_customers_are_counted_not_scored(tiny_shop):
    orders = tiny_shop.tables()["orders"]
    scores = scores_at(tiny_shop, "2023-03-01", "c1", 0.1, 0)
    stranger = scores.iloc[:1].assign(customer_id="no-such-customer")
    outcomes = customer_outcomes(pd.concat([scores, stranger]), orders, pd.Timestamp("2023-05-01"), 30)
    assert outcomes.iloc[0]["unmatched"] == 1 and outcomes.iloc[0]["customers"] == len(scores) + 1


def test_a_recommendation_hits_only_when_bought_within_the_window(tiny_shop):
    orders = tiny_shop.tables()["orders"]
    sale = orders.loc[(orders["quantity"] > 0) & orders["customer_id"].notna()].iloc[100]
    served = sale["ordered_at"] - pd.Timedelta(days=3)
    lists = pd.DataFrame({"logged_at": [served, served, sale["ordered_at"] + pd.Timedelta(days=1)],
                          "model_version": "3", "customer_id": sale["customer_id"],
                          "items": [[sale["sku"], "x"], ["never-sold"], [sale["sku"]]]})
    outcome = recommendation_outcomes(lists.iloc[:2], orders, served + pd.Timedelta(weeks=5), weeks=4)
    assert outcome.iloc[0]["hits"] == 1 and outcome.iloc[0]["hit_rate"] == pytest.approx(0.5)
    pending = recommendation_outcomes(lists.iloc[:2], orders, served + pd.Timedelta(weeks=1), weeks=4)
    assert pending.iloc[0]["status"].startswith("pending") and pending.iloc[0]["hit_rate"] is None


def test_forecast_wape_and_coverage_on_the_weeks_that_have_arrived():
    weeks = pd.to_datetime(["2024-01-07", "2024-01-14", "2024-01-21"])
    forecasts = pd.DataFrame({"origin": pd.Timestamp("2024-01-01"), "model_version": "2", "sku": "a", "week": weeks,
                              "p10": [5.0, 5.0, 5.0], "p50": [10.0, 10.0, 10.0], "p90": [15.0, 15.0, 15.0]})
    actuals = pd.DataFrame({"sku": "a", "week": weeks[:2], "quantity": [12.0, 20.0]})
    (row,) = forecast_outcomes(forecasts, actuals).to_dict("records")
    assert row["weeks_known"] == 2 and row["status"] == "partial"
    assert row["wape"] == pytest.approx((2 + 10) / 32) and row["coverage_80"] == pytest.approx(0.5)


def test_the_history_skips_a_corrupt_file_names_it_and_keeps_it(tmp_path, tiny_shop):
    history = History(tmp_path)
    scores = scores_at(tiny_shop, "2023-03-01", "c1", 0.1, 0).drop(columns="scored_at")
    history.write_scores(pd.Timestamp("2023-03-01"), scores)
    history.write_scores(pd.Timestamp("2023-04-01"), scores)
    broken = tmp_path / "scores" / "scored_at=2023-04-01.parquet"
    broken.write_bytes(b"not parquet")
    kept = history.scores()
    assert len(kept) == len(scores) and (kept["scored_at"] == pd.Timestamp("2023-03-01")).all()
    assert broken.is_file() and "scored_at=2023-04-01.parquet: unreadable" in history.problems[0]
    assert history.scores(until=pd.Timestamp("2023-02-01")).empty


def test_segment_sizes_over_time_from_the_kept_scores(tmp_path):
    history = History(tmp_path)
    for day, segments in (("2024-01-01", ["a", "a", "b"]), ("2024-01-08", ["a", "b", "b"])):
        history.write_scores(pd.Timestamp(day), pd.DataFrame({
            "customer_id": ["1", "2", "3"], "churn_probability": 0.5, "predicted_value": [10.0, 20.0, 30.0],
            "segment": segments, "model_version": "c1"}))
    sizes = history.segment_sizes().set_index(["scored_at", "segment"])
    assert sizes.loc[(pd.Timestamp("2024-01-01"), "a"), "customers"] == 2
    assert sizes.loc[(pd.Timestamp("2024-01-08"), "b"), "predicted_value"] == 50.0
