"""Churn, value and the scorer on a small synthetic shop: planted structure, baselines, invariances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.customers import CUSTOMER_FEATURES
from shopml.errors import DataValidationError
from training.customers import SCORE_COLUMNS, SEGMENTS, CustomerScorer, plan_cutoffs
from training.customers.churn import ChurnModel
from training.customers.value import ValueModel


def test_label_windows_never_reach_the_evaluation_window(small_data):
    plan = small_data.plan
    assert all(c + pd.Timedelta(days=plan.horizon_days) <= plan.evaluation for c in plan.train)
    assert plan.anchors, "the small shop spans 540 days: both season anchors exist"
    assert all(c + pd.Timedelta(days=plan.horizon_days) <= plan.evaluation for c in plan.anchors.values())
    assert set(small_data.train["cutoff"]) == set(plan.train)
    assert small_data.evaluation["customer_id"].is_unique


def test_plan_rejects_short_history_and_cutoffs_outside_the_data(small_shop):
    orders = small_shop.orders
    with pytest.raises(DataValidationError, match="too little history"):
        plan_cutoffs(orders, evaluation_cutoff=orders["ordered_at"].min() + pd.Timedelta(days=135))
    with pytest.raises(DataValidationError, match="outside the data"):
        plan_cutoffs(orders, evaluation_cutoff="2030-01-01")
    with pytest.raises(DataValidationError, match="empty"):
        plan_cutoffs(orders.iloc[:0])


def test_churn_beats_recency_against_the_true_dropout_state(small_shop, small_data, churn_result):
    truth = small_shop.truth["customers"].set_index("customer_id")
    cutoff = small_data.plan.evaluation
    ev = small_data.evaluation
    dropout = truth["dropout_at"].reindex(ev["customer_id"]).to_numpy()
    dead = (pd.notna(dropout) & (dropout < np.datetime64(cutoff))).astype(int)
    model_auc = roc_auc_score(dead, churn_result.predictions["churn_probability"])
    recency_auc = roc_auc_score(dead, ev["days_since_last_order"])
    # The generator drops customers after any purchase (MBG/NBD-like), so recency alone is strong here;
    # the model must still rank the true state better than recency does.
    assert model_auc > recency_auc, (model_auc, recency_auc)
    # On the observed 90-day label this small shop (1,500 customers) leaves the model about level with recency
    # (0.78-0.79 vs 0.80); on the 5,000-customer demo shop it is ahead (0.865 vs 0.855). Sanity floor only.
    assert churn_result.metrics["roc_auc"] > 0.7


def test_probabilities_not_labels_and_calibrated_on_held_out_fold(churn_result):
    p = churn_result.predictions["churn_probability"].to_numpy()
    assert ((p >= 0) & (p <= 1)).all() and len(np.unique(p)) > 5
    assert churn_result.metrics["ece"] < 0.1


def test_more_recent_last_order_never_raises_churn_risk(small_data, churn_result):
    model = churn_result.model
    ev = small_data.evaluation.head(300)
    recent = ev.copy()
    shift = np.minimum(recent["days_since_last_order"], 30.0)
    recent["days_since_last_order"] -= shift
    before, after = model.predict_proba(ev), model.predict_proba(recent)
    assert (after <= before + 0.02).all(), float((after - before).max())


def test_value_beats_last_90_days_and_picks_on_the_held_out_fold(value_result):
    assert value_result.metrics["candidate"] == max(value_result.selection, key=value_result.selection.get)
    assert len(value_result.selection) == 2 * 5 - 1  # two boosters x five weights; weight 0 is the same for both
    assert value_result.primary > value_result.baselines["last_90d_spend"]["normalized_gini"]
    assert (value_result.predictions["predicted_value"] >= 0).all()


def test_held_out_fold_never_trains_on_labels_of_its_window(small_data):
    fold, before = small_data.time_held_out_fold()
    plan = small_data.plan
    assert fold.any() and before.any() and not (fold & before).any()
    trained = small_data.train.loc[before, "cutoff"]
    assert (trained + pd.Timedelta(days=plan.horizon_days) <= plan.calibration).all()
    assert set(small_data.train.loc[fold, "cutoff"]) == {plan.calibration}


def test_value_blend_weights_span_the_booster_and_bgnbd_gamma_gamma(small_data, value_result):
    from training.customers.value import BLEND_COLUMN, ValueModel

    model = value_result.model
    X = model.encoder.matrix(small_data.evaluation, small_data.evaluation)
    booster_only = ValueModel(model.kind, model.boosters, model.encoder, blend_weight=1.0).predict_matrix(X)
    probabilistic = ValueModel(model.kind, model.boosters, model.encoder, blend_weight=0.0).predict_matrix(X)
    half = ValueModel(model.kind, model.boosters, model.encoder, blend_weight=0.5).predict_matrix(X)
    assert np.allclose(booster_only, model.booster_matrix(X))
    assert np.allclose(probabilistic, np.maximum(small_data.evaluation[BLEND_COLUMN], 0))
    assert np.allclose(np.log1p(half), (np.log1p(booster_only) + np.log1p(probabilistic)) / 2)


def test_scorer_columns_segments_and_row_order_invariance(small_data, churn_result, value_result):
    scorer = CustomerScorer(churn_result.model, value_result.model)
    table = small_data.evaluation[["customer_id", *CUSTOMER_FEATURES]]
    scores = scorer.score(table)
    assert tuple(scores.columns) == SCORE_COLUMNS and len(scores) == len(table)
    assert set(scores["segment"]) <= set(SEGMENTS) and scores["segment"].nunique() >= 4
    shuffled = scorer.score(table.sample(frac=1.0, random_state=0))
    pd.testing.assert_frame_equal(
        scores.set_index("customer_id").sort_index(), shuffled.set_index("customer_id").sort_index()
    )
    with pytest.raises(DataValidationError, match="lacks column"):
        scorer.score(table.drop(columns=["orders_90d"]))
    with pytest.raises(DataValidationError, match="empty"):
        scorer.score(table.iloc[:0])


def test_save_then_load_gives_identical_scores(tmp_path, small_data, churn_result, value_result):
    scorer = CustomerScorer(churn_result.model, value_result.model)
    table = small_data.evaluation
    scorer.save(tmp_path / "scorer")
    loaded = CustomerScorer.load(tmp_path / "scorer")
    pd.testing.assert_frame_equal(scorer.score(table), loaded.score(table))
    churn = ChurnModel.load(churn_result.model.save(tmp_path / "churn"))
    value = ValueModel.load(value_result.model.save(tmp_path / "value"))
    assert np.array_equal(churn.predict_proba(table), churn_result.model.predict_proba(table))
    assert np.array_equal(value.predict_value(table), value_result.model.predict_value(table))


def test_prior_shift_hits_the_target_rate_and_keeps_the_ranking():
    from training.customers.churn import prior_shift_offset

    raw = np.random.default_rng(3).uniform(0.05, 0.95, 2_000)
    offset = prior_shift_offset(raw, 0.3)
    shifted = 1 / (1 + np.exp(-(np.log(raw / (1 - raw)) + offset)))
    assert abs(shifted.mean() - 0.3) < 1e-6
    assert np.array_equal(np.argsort(raw), np.argsort(shifted))


@pytest.mark.parametrize("weight", [1.0, 0.6, 0.0])
def test_bgnbd_prior_moves_the_mean_to_the_blend_of_bgnbd_and_booster_rates(small_data, weight):
    """prior_weight 1: BG/NBD's P(no purchase) alone; 0: the booster's own rate (no shift); between: the blend."""
    from training.customers import ChurnParams, fit_churn
    from training.customers.churn import bgnbd_no_purchase_rate

    result = fit_churn(small_data, ChurnParams(seed=1, calibration="bgnbd_prior", prior_weight=weight))
    uncalibrated = fit_churn(small_data, ChurnParams(seed=1, calibration="none"))
    bgnbd = bgnbd_no_purchase_rate(small_data, small_data.evaluation)
    booster = uncalibrated.predictions["churn_probability"].mean()
    assert result.calibration_fold["bgnbd_rate"] == pytest.approx(bgnbd)
    assert abs(result.predictions["churn_probability"].mean() - (weight * bgnbd + (1 - weight) * booster)) < 1e-4
    assert (abs(result.model.logit_offset) < 1e-6) == (weight == 0.0)


def test_prior_weight_outside_zero_to_one_is_refused():
    from shopml.errors import ShopmlError
    from training.customers import ChurnParams

    with pytest.raises(ShopmlError, match="prior_weight=1.5"):
        ChurnParams(prior_weight=1.5)


def test_same_season_offset_matches_the_churn_rate_a_year_earlier(small_data, churn_result):
    """At each anchor the offset makes the mean prediction equal the observed rate; evaluation uses the
    evaluation anchor's offset, the shipped model the scoring anchor's; the ranking is the uncalibrated one."""
    from cli.customers import calibration_line
    from training.customers import ChurnParams, fit_churn

    model, fold = churn_result.model, churn_result.calibration_fold
    assert fold["method"] == "same_season"
    assert fold["evaluation_anchor"]["cutoff"] in calibration_line(fold)
    for name, frame in small_data.anchors.items():
        shifted = 1 / (1 + np.exp(-(np.log(1 / (1 / model.raw_matrix(model.encoder.matrix(frame, frame)) - 1))
                                    + fold[f"{name}_anchor"]["offset"])))
        assert abs(shifted.mean() - frame["churned"].mean()) < 1e-6
    assert model.logit_offset == fold["scoring_anchor"]["offset"] != fold["evaluation_anchor"]["offset"]
    ev = small_data.evaluation
    evaluated = 1 / (1 + np.exp(-(np.log(1 / (1 / model.raw_matrix(model.encoder.matrix(ev, ev)) - 1))
                                  + fold["evaluation_anchor"]["offset"])))
    assert np.allclose(evaluated, churn_result.predictions["churn_probability"])
    raw = fit_churn(small_data, ChurnParams(seed=1, calibration="none")).predictions["churn_probability"]
    assert churn_result.metrics["roc_auc"] == pytest.approx(roc_auc_score(small_data.evaluation["churned"], raw))


def test_without_a_year_of_history_same_season_falls_back_to_the_bgnbd_prior(small_shop):
    from training.customers import ChurnParams, TrainConfig, fit_churn, prepare

    orders = small_shop.orders
    young = orders.loc[orders["ordered_at"] < orders["ordered_at"].min() + pd.Timedelta(days=330)]
    data = prepare({"orders": young, "products": small_shop.products}, TrainConfig(n_train=4, spacing_days=30))
    assert data.plan.evaluation_anchor is None and data.anchors == {}
    result = fit_churn(data, ChurnParams(seed=1))
    assert result.calibration_fold["method"] == "bgnbd_prior"
    assert "52 weeks" in result.calibration_fold["fallback"]
    assert result.model.info["calibration"] == "bgnbd_prior"

    from cli.customers import calibration_line

    assert "no season anchor" in calibration_line(result.calibration_fold)


def test_shipped_models_carry_population_models_fitted_at_the_end_of_the_data(small_shop, small_data, churn_result,
                                                                              value_result):
    """The evaluation used the evaluation cutoff's BG/NBD and percentiles; the shipped models score today's
    customers, so theirs are refitted on every customer at the day after the data ends."""
    from features.customers import build_customer_features

    plan = small_data.plan
    assert plan.scoring == small_shop.orders["ordered_at"].max().floor("D") + pd.Timedelta(days=1)
    for model in (churn_result.model, value_result.model):
        assert model.encoder.lifetime == small_data.scoring_lifetime
        assert model.encoder.lifetime != small_data.lifetime[plan.evaluation]
    today = build_customer_features(small_shop.orders, plan.scoring, products=small_shop.products)
    pct = small_data.scoring_lifetime.derive(today)["days_since_last_order_pct"]
    assert abs(pct.mean() - 0.5) < 0.01  # today's customers are the reference population


def test_a_season_anchor_with_too_few_customers_is_not_trusted():
    from features.synthetic import ShopConfig, generate_shop
    from training.customers import ChurnParams, TrainConfig, fit_churn, prepare
    from training.customers.churn import MIN_ANCHOR_CUSTOMERS

    shop = generate_shop(ShopConfig(customers=300, products=60, days=540, seed=3))
    data = prepare(shop.tables(), TrainConfig(n_train=4, spacing_days=30))
    assert 0 < len(data.anchors["evaluation"]) < MIN_ANCHOR_CUSTOMERS
    fold = fit_churn(data, ChurnParams(seed=1, trees=20)).calibration_fold
    assert fold["method"] == "bgnbd_prior" and "fewer than" in fold["fallback"]
