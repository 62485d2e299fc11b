"""Raw rows aggregate to the same statistics as an obvious pandas oracle, and bad rows are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments import ExperimentSpec, evaluate, evaluate_over_time
from experiments.aggregate import aggregate
from experiments.errors import ExperimentError

VARIANTS = [{"name": "control", "weight": 0.5, "control": True}, {"name": "b", "weight": 0.5}]
METRICS = [
    {"name": "conv", "type": "proportion"},
    {"name": "revenue", "type": "mean", "cuped": True, "covariate_column": "pre_revenue"},
    {"name": "rev_per_session", "type": "ratio", "column": "revenue", "denominator_column": "sessions"},
    {"name": "p90", "type": "quantile", "quantile": 0.9, "column": "revenue"},
]


@pytest.fixture
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 5000
    return pd.DataFrame({
        "unit_id": np.arange(n),
        "variant": rng.choice(["control", "b"], n),
        "conv": rng.binomial(1, 0.1, n),
        "revenue": rng.exponential(20, n),
        "pre_revenue": rng.exponential(20, n),
        "sessions": rng.integers(1, 6, n),
        "day": rng.integers(1, 4, n),
    })


def spec(**changes) -> ExperimentSpec:
    return ExperimentSpec.model_validate({"name": "raw", "variants": VARIANTS, "metrics": METRICS, **changes})


def test_sums_match_a_groupby_oracle(rows):
    data, units, capped = aggregate(spec(), rows)
    oracle = rows.groupby("variant")
    for arm in ("control", "b"):
        g = oracle.get_group(arm)
        assert units[arm] == len(g)
        assert data[arm]["conv"].sum == g["conv"].sum()
        assert data[arm]["revenue"].sum_sq == pytest.approx((g["revenue"] ** 2).sum(), rel=1e-12)
        assert data[arm]["revenue"].cov_cross_sum == pytest.approx((g["revenue"] * g["pre_revenue"]).sum(), rel=1e-12)
        assert data[arm]["rev_per_session"].cross_sum == pytest.approx((g["revenue"] * g["sessions"]).sum(), rel=1e-12)
        q = data[arm]["p90"]
        ordered = np.sort(g["revenue"].to_numpy())
        assert q.estimate == ordered[int(np.ceil(0.9 * len(g))) - 1]
        assert q.lower < q.estimate < q.upper
    assert capped == {"conv": 0, "revenue": 0, "rev_per_session": 0, "p90": 0}


def test_row_order_does_not_matter(rows):
    first = evaluate(spec(), rows=rows).to_dict()
    second = evaluate(spec(), rows=rows.sample(frac=1, random_state=1)).to_dict()
    for a, b in zip(first["comparisons"], second["comparisons"], strict=True):
        assert a["p_value"] == pytest.approx(b["p_value"], rel=1e-9)


def test_parquet_path_gives_the_same_result(rows, tmp_path):
    path = tmp_path / "rows.parquet"
    rows.to_parquet(path)
    assert evaluate(spec(), rows=path).to_dict() == evaluate(spec(), rows=rows).to_dict()


def test_winsorization_caps_at_the_pooled_percentile(rows):
    metrics = [{"name": "revenue", "type": "mean", "cap_quantile": 0.99}]
    data, _, capped = aggregate(spec(metrics=metrics), rows)
    cap = np.quantile(rows["revenue"], 0.99)
    assert capped["revenue"] == int((rows["revenue"] > cap).sum()) > 0
    expected = np.minimum(rows["revenue"], cap)[rows["variant"] == "b"].sum()
    assert data["b"]["revenue"].sum == pytest.approx(expected, rel=1e-12)


def test_unknown_variant_is_named(rows):
    rows.loc[:9, "variant"] = "c"
    with pytest.raises(ExperimentError, match="unknown variant.*'c': 10"):
        aggregate(spec(), rows)


def test_duplicate_units_missing_values_and_columns_are_refused(rows):
    with pytest.raises(ExperimentError, match="repeated unit id"):
        aggregate(spec(), pd.concat([rows, rows.head(2)]))
    bad = rows.astype({"revenue": float})
    bad.loc[3, "revenue"] = np.nan
    with pytest.raises(ExperimentError, match="'revenue' has 1 missing"):
        aggregate(spec(), bad)
    with pytest.raises(ExperimentError, match="missing column"):
        aggregate(spec(), rows.drop(columns="sessions"))
    rows.loc[0, "conv"] = 2
    with pytest.raises(ExperimentError, match="0/1"):
        aggregate(spec(), rows)


def test_evaluate_over_time_is_cumulative(rows):
    history = evaluate_over_time(spec(settings={"sequential": True}), rows, "day")
    assert [p for p, _ in history] == [1, 2, 3]
    sizes = [r.srm.observed["control"] for _, r in history]
    assert sizes == sorted(sizes) and sizes[-1] == int((rows["variant"] == "control").sum())


def test_variant_and_unit_id_types_do_not_change_the_statistics(rows):
    """Categorical or string variants, integer or string unit ids: the same statistics, the same checks."""
    reference = aggregate(spec(), rows)
    categorical = rows.assign(variant=pd.Categorical(rows["variant"], categories=["b", "control", "unused"]))
    assert aggregate(spec(), categorical) == reference  # an empty unknown category is harmless
    assert aggregate(spec(), rows.assign(unit_id=rows["unit_id"].astype(str))) == reference
    categorical.loc[:2, "variant"] = np.nan
    with pytest.raises(ExperimentError, match="unknown variant.*'nan': 3"):
        aggregate(spec(), categorical)
    text_ids = pd.concat([rows, rows.tail(3)]).astype({"unit_id": str})
    with pytest.raises(ExperimentError, match="3 repeated unit id"):
        aggregate(spec(), text_ids)
