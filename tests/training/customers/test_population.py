"""Population percentiles: agree with ranks, survive a save/load, and score one customer as in a batch."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.customers.population import RELATIVE_SOURCES, PopulationReference


def _population(n: int = 3_000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "days_since_last_order": rng.integers(0, 300, n).astype("float64"),  # many ties
        "spend_90d": np.where(rng.random(n) < 0.4, 0.0, rng.lognormal(4, 1, n)),
        "orders_total": rng.geometric(0.3, n).astype("float64"),
    })
    frame.loc[::97, "spend_90d"] = np.nan
    return frame


def test_percentiles_match_mid_ranks_within_the_grid_resolution():
    population = _population()
    reference = PopulationReference.fit(population)
    got = reference.percentiles(population)
    for name in RELATIVE_SOURCES:
        values = population[name]
        mid_rank = (values.rank(method="average") - 0.5) / values.notna().sum()
        pct = got[f"{name}_pct"]
        assert np.array_equal(np.isnan(pct), values.isna().to_numpy())
        keep = values.notna().to_numpy()
        assert np.nanmax(np.abs(pct[keep] - mid_rank.to_numpy()[keep])) < 0.01, name
        order = np.argsort(values.to_numpy()[keep], kind="stable")
        assert (np.diff(pct[keep][order]) >= 0).all(), f"{name}: percentiles must not fall as the value rises"


def test_reference_survives_a_round_trip_and_is_compared_by_value():
    reference = PopulationReference.fit(_population())
    again = PopulationReference.from_dict(reference.to_dict())
    assert again == reference
    assert again != PopulationReference.fit(_population(seed=6))


def test_one_customer_scores_as_in_the_batch(small_data, churn_result, value_result):
    """Percentiles come from the saved grid, not from whoever else is in the request."""
    from features.customers import CUSTOMER_FEATURES
    from training.customers import CustomerScorer

    scorer = CustomerScorer(churn_result.model, value_result.model)
    table = small_data.evaluation[["customer_id", *CUSTOMER_FEATURES]].head(40)
    batch = scorer.score(table)
    one_by_one = pd.concat([scorer.score(table.iloc[[i]]) for i in range(len(table))], ignore_index=True)
    pd.testing.assert_frame_equal(batch, one_by_one)
    # the scorer derives the population columns once for both models: the same as each model on its own
    assert np.allclose(batch["churn_probability"], churn_result.model.predict_proba(table))
    assert np.allclose(batch["predicted_value"], value_result.model.predict_value(table))
    assert any(name.endswith("_pct") for name in churn_result.model.feature_names)


def test_models_saved_before_percentiles_load_with_their_own_columns(churn_result):
    from training.customers.encoding import FeatureEncoder
    from training.customers.lifetime import LEGACY_DERIVED

    old = churn_result.model.encoder.to_dict()
    del old["derived"]
    del old["lifetime"]["population"]
    encoder = FeatureEncoder.from_dict(old)
    assert encoder.derived == LEGACY_DERIVED and encoder.lifetime.population is None
    assert encoder.names[-1] == "country_code" and not any(n.endswith("_pct") for n in encoder.names)
