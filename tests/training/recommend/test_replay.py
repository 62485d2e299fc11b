"""The session replay protocol: cases are built from invoices as documented, and blending beats the static list
on the synthetic shop (whose baskets are planted by category taste)."""

from __future__ import annotations

import pandas as pd
import pytest

from training.recommend.live import LiveRecommender
from training.recommend.replay import replay_cases, score_cases, static_config, tune_blend


@pytest.fixture(scope="module")
def live(fitted, shop_tables):
    return LiveRecommender(fitted.recommender, shop_tables["products"])


@pytest.fixture(scope="module")
def cases(live, shop_tables, cutoff):
    end = shop_tables["orders"]["ordered_at"].max() + pd.Timedelta(seconds=1)
    return replay_cases(shop_tables["orders"], live, cutoff, end)


def test_cases_follow_the_invoice_order(live, cases, shop_tables, cutoff):
    found, sessions = cases
    assert sessions > 50 and len(found) >= sessions
    orders = shop_tables["orders"]
    first = found[0]
    lines = orders[(orders["customer_id"] == first.customer_id) & (orders["ordered_at"] >= cutoff)]
    for _, invoice in lines.groupby("order_id", sort=True):
        items = [s for s in dict.fromkeys(invoice["sku"].astype(str)) if live.base.knows_item(s)]
        if len(items) >= 2 and tuple(items[:1]) == first.session and items[1] == first.target:
            break
    else:
        pytest.fail("the first case is not the first two items of one of the customer's invoices")
    assert all(0 < len(c.session) <= 20 and c.target not in c.session for c in found)


def test_session_blending_beats_the_static_list(live, cases):
    found, _ = cases
    static, _ = score_cases(live, found, static_config(live.config))
    session, _ = score_cases(live, found)
    assert session.ndcg_at_10 > static.ndcg_at_10 and session.hit_rate_at_10 > static.hit_rate_at_10
    assert 0 <= static.ndcg_at_10 <= static.hit_rate_at_10 <= 1


def test_tuning_picks_the_best_of_its_grid(live, cases):
    found, _ = cases
    chosen, grid = tune_blend(live, found[:300], half_lives=(1.0, 5.0), weights=(0.0, 0.8))
    assert len(grid) == 4
    best = max(grid, key=lambda g: g["ndcg_at_10"])
    assert (chosen.half_life_events, chosen.weight) == (best["half_life_events"], best["weight"])
    assert chosen.weight == 0.8
