"""The audience store against a plain pandas oracle: filters, order, paging, lookups, CSV."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from serving.audiences import AudienceStore


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 500
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "churn_probability": rng.random(n),
            "predicted_value": rng.gamma(2.0, 50.0, n),
            "p_alive": rng.random(n),
            "expected_orders": rng.random(n) * 3,
            "segment": rng.choice(["champions", "at_risk", "new"], n),
        }
    )


@pytest.fixture(scope="module")
def store(scores) -> AudienceStore:
    return AudienceStore.from_scores(scores, "2011-09-01", {"churn": "1", "customer_value": "2"})


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"segments": ["at_risk"], "min_value": 80.0},
        {"min_churn": 0.5, "max_churn": 0.9, "min_p_alive": 0.2},
        {"segments": ["new", "champions"], "top_n": 7},
        {"segments": ["nobody"]},
    ],
)
def test_select_matches_pandas(store, scores, filters):
    expected = scores
    if filters.get("segments"):
        expected = expected[expected["segment"].isin(filters["segments"])]
    if "min_value" in filters:
        expected = expected[expected["predicted_value"] >= filters["min_value"]]
    if "min_churn" in filters:
        expected = expected[expected["churn_probability"] >= filters["min_churn"]]
    if "max_churn" in filters:
        expected = expected[expected["churn_probability"] <= filters["max_churn"]]
    if "min_p_alive" in filters:
        expected = expected[expected["p_alive"] >= filters["min_p_alive"]]
    expected = expected.sort_values("predicted_value", ascending=False, kind="stable")
    if "top_n" in filters:
        expected = expected.head(filters["top_n"])
    got = store.customer_ids[store.select(**filters)]
    assert list(got) == list(expected["customer_id"])


def test_lookup_keeps_order_and_reports_unknown(store, scores):
    positions, unknown = store.lookup(["c3", "nope", "c1", "c3"])
    rows = store.rows(positions)
    assert [r["customer_id"] for r in rows] == ["c3", "c1", "c3"]
    assert unknown == ["nope"]
    c1 = scores.set_index("customer_id").loc["c1"]
    assert rows[1]["predicted_value"] == pytest.approx(c1["predicted_value"])
    assert rows[1]["segment"] == c1["segment"]


def test_csv_round_trip(store):
    positions = store.select(top_n=20)
    frame = pd.read_csv(io.StringIO(store.to_csv(positions)))
    assert list(frame["customer_id"]) == list(store.customer_ids[positions])
    assert np.allclose(frame["predicted_value"], store.columns["predicted_value"][positions])


def test_nan_scores_become_none(scores):
    broken = scores.head(3).copy()
    broken.loc[0, "p_alive"] = np.nan
    store = AudienceStore.from_scores(broken, "2011-09-01", {})
    row = store.rows(store.lookup(["c0"])[0])[0]
    assert row["p_alive"] is None
