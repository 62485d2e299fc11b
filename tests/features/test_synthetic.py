"""The synthetic shop: contracts, determinism, config validation and the planted structure models must find.

Fixtures are small (1,500 customers, 200 products, two years: about 30,000 lines, generated in ~0.1 s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contracts import CONTRACTS
from features.synthetic import (
    CustomerBehaviour,
    DemandShape,
    Region,
    ShopConfig,
    ShopConfigError,
    SyntheticShop,
    config_for_order_lines,
    generate_shop,
)
from features.validation import validate
from shopml.errors import ShopmlError

SMALL = ShopConfig(customers=1_500, products=200, categories=8, days=730, seed=7)


@pytest.fixture(scope="module")
def shop() -> SyntheticShop:
    return generate_shop(SMALL)


@pytest.fixture(scope="module")
def purchases(shop: SyntheticShop) -> pd.DataFrame:
    """Sales lines of known customers, with the product's category."""
    o = shop.orders
    buy = o[(o["quantity"] > 0) & o["customer_id"].notna()]
    return buy.assign(category=buy["sku"].map(shop.products.set_index("sku")["category"]))


# --- contracts and ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CONTRACTS))
def test_tables_match_their_contract_exactly(shop: SyntheticShop, name: str) -> None:
    frame = shop.tables()[name]
    contract = CONTRACTS[name]
    assert list(frame.columns) == contract.column_names
    assert {c: str(t) for c, t in frame.dtypes.items()} == contract.dtypes
    assert len(frame) > 0
    for column in contract.columns:
        if not column.nullable:
            assert frame[column.name].notna().all(), column.name


@pytest.mark.parametrize("name", list(CONTRACTS))
def test_tables_pass_validation_without_rejections(shop: SyntheticShop, name: str) -> None:
    result = validate(
        shop.tables()[name],
        CONTRACTS[name],
        known_skus=set(shop.products["sku"]) if name in ("orders", "stock") else None,
        known_warehouses=set(shop.warehouses["warehouse_id"]) if name == "stock" else None,
    )
    assert result.report.kept == len(shop.tables()[name]), result.report


def test_shop_checks_itself_clean(shop: SyntheticShop) -> None:
    assert shop.check() == []
    summary = shop.summary()
    assert summary["order_lines"] == len(shop.orders) > 20_000
    assert summary["customers"] == SMALL.customers


def test_orders_values_are_sane(shop: SyntheticShop) -> None:
    o = shop.orders
    assert (o["quantity"] != 0).all()
    assert (o["unit_price"] > 0).all() and (shop.products["price"] > 0).all()
    assert o["ordered_at"].min() >= SMALL.start_ts and o["ordered_at"].max() < SMALL.end_ts
    assert not o.duplicated(["order_id", "sku"]).any()
    # Each order has one customer (or none), one time and one country.
    per_order = o.groupby("order_id").agg(
        customers=("customer_id", lambda s: s.nunique(dropna=False)),
        times=("ordered_at", "nunique"),
        countries=("country", "nunique"),
    )
    assert (per_order == 1).all().all()


def test_ids_are_consistent(shop: SyntheticShop) -> None:
    o = shop.orders
    assert o["sku"].isin(shop.products["sku"]).all()
    assert o["customer_id"].dropna().isin(shop.customers["customer_id"]).all()
    assert o["country"].isin(shop.regions["region"]).all()
    assert shop.customers["country"].isin(shop.regions["region"]).all()
    assert shop.stock["warehouse_id"].isin(shop.warehouses["warehouse_id"]).all()
    assert len(shop.stock) == len(shop.warehouses) * len(shop.products)  # every warehouse x sku
    assert set(shop.truth["products"]["sku"]) == set(shop.products["sku"])
    assert list(shop.truth["customers"]["customer_id"]) == list(shop.customers["customer_id"])


def test_customers_first_order_is_their_earliest_purchase(
    shop: SyntheticShop, purchases: pd.DataFrame
) -> None:
    first = purchases.groupby("customer_id")["ordered_at"].min()
    declared = shop.customers.set_index("customer_id")["first_order_at"]
    pd.testing.assert_series_equal(first.reindex(declared.index), declared, check_names=False)


def test_guest_share_of_orders_is_as_configured(shop: SyntheticShop) -> None:
    sales = shop.orders[shop.orders["quantity"] > 0].drop_duplicates("order_id")
    assert sales["customer_id"].isna().mean() == pytest.approx(SMALL.guest_share, abs=0.02)


def test_regions_have_real_coordinates_and_warehouses_capacity(shop: SyntheticShop) -> None:
    uk = shop.regions.set_index("region").loc["United Kingdom"]
    assert 50 < uk["lat"] < 59 and -8 < uk["lon"] < 2
    held = shop.stock.groupby("warehouse_id")["on_hand"].sum()
    capacity = shop.warehouses.set_index("warehouse_id")["capacity"]
    assert (capacity.reindex(held.index) >= held).all()
    assert (shop.stock["on_hand"] >= 0).all()


# --- determinism ----------------------------------------------------------------------------------------


def test_same_config_gives_identical_shop(shop: SyntheticShop) -> None:
    again = generate_shop(SMALL)
    for name in CONTRACTS:
        pd.testing.assert_frame_equal(getattr(again, name), getattr(shop, name))
    for name, frame in shop.truth.items():
        pd.testing.assert_frame_equal(again.truth[name], frame)


def test_different_seeds_give_different_shops(shop: SyntheticShop) -> None:
    other = generate_shop(SMALL.with_(seed=8))
    assert not other.orders.equals(shop.orders)
    assert not other.truth["customers"]["purchase_rate"].equals(shop.truth["customers"]["purchase_rate"])


def test_stages_have_independent_streams() -> None:
    """Changing the guest share leaves the customers' latent parameters and the catalogue unchanged."""
    a = generate_shop(SMALL.with_(customers=300))
    b = generate_shop(SMALL.with_(customers=300, guest_share=0.3))
    pd.testing.assert_frame_equal(a.truth["customers"], b.truth["customers"])
    pd.testing.assert_frame_equal(a.products, b.products)


# --- configuration --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"customers": 0}, "customers"),
        ({"products": 5, "categories": 8}, "products"),
        ({"days": 3}, "days"),
        ({"start": "not a date"}, "start"),
        ({"start": "2023-01-01 12:00"}, "start"),
        ({"guest_share": 1.0}, "guest_share"),
        ({"return_rate": -0.1}, "return_rate"),
        ({"warehouses": 0}, "warehouses"),
        ({"promotions_per_year": 100.0}, "promotions_per_year"),
        ({"regions": ()}, "regions"),
        ({"customers": 10.5}, "customers"),
    ],
)
def test_bad_config_raises_a_shopml_error_naming_the_parameter(changes: dict, named: str) -> None:
    with pytest.raises(ShopConfigError, match=named) as info:
        ShopConfig(**changes)
    assert isinstance(info.value, ShopmlError)
    assert "use" in str(info.value) or "must" in str(info.value)


def test_nested_parameters_are_validated() -> None:
    with pytest.raises(ShopConfigError, match="lat"):
        Region("Nowhere", 95.0, 0.0, 1.0)
    with pytest.raises(ShopConfigError, match="repeat_share"):
        CustomerBehaviour(repeat_share=1.0)
    with pytest.raises(ShopConfigError, match="weekly"):
        DemandShape(weekly=(1.0, 1.0))
    with pytest.raises(ShopConfigError, match="no parameter"):
        SMALL.with_(customer=3)


def test_for_order_lines_sizes_the_shop() -> None:
    config = config_for_order_lines(20_000, days=365, products=150)
    lines = len(generate_shop(config).orders)
    assert lines == pytest.approx(20_000, rel=0.1)
    assert config.days == 365 and config.products == 150


def test_tiny_shop_still_works() -> None:
    tiny = generate_shop(
        ShopConfig(customers=1, products=1, categories=1, days=7, warehouses=9, promotions_per_year=0)
    )
    assert tiny.check() == []
    assert len(tiny.customers) == 1 and len(tiny.warehouses) == 9


# --- planted structure ----------------------------------------------------------------------------------


def test_december_outsells_summer(shop: SyntheticShop) -> None:
    sales = shop.orders[shop.orders["quantity"] > 0]
    month = sales["ordered_at"].dt.month
    per_day = sales.groupby(month).size() / sales.groupby(month)["ordered_at"].apply(
        lambda s: s.dt.date.nunique()
    )
    assert per_day[12] > 1.5 * per_day[[6, 7, 8]].mean()


def test_weekday_profile_follows_truth(shop: SyntheticShop) -> None:
    sales = shop.orders[shop.orders["quantity"] > 0].drop_duplicates("order_id")
    observed = sales.groupby(sales["ordered_at"].dt.day_of_week).size()
    planted = shop.truth["seasonality"].groupby("day_of_week")["weekly"].first()
    assert np.corrcoef(observed.to_numpy(), planted.to_numpy())[0, 1] > 0.9
    assert observed[5] < 0.85 * observed[[0, 1, 2, 3]].mean()  # quiet Saturdays


def test_top_decile_products_dominate_volume(shop: SyntheticShop, purchases: pd.DataFrame) -> None:
    volume = purchases.groupby("sku")["quantity"].sum().reindex(shop.products["sku"], fill_value=0)
    top = volume.sort_values(ascending=False).iloc[: len(volume) // 10]
    assert top.sum() / volume.sum() > 0.4
    planted = shop.truth["products"].set_index("sku")["popularity"].reindex(volume.index)
    assert volume.corr(planted, method="spearman") > 0.7


def test_customers_concentrate_on_their_taste(shop: SyntheticShop, purchases: pd.DataFrame) -> None:
    """Regular customers buy far more from their true favourite category than the global mix does."""
    truth = shop.truth["customers"].set_index("customer_id")
    lines = purchases.groupby("customer_id").size()
    regulars = lines.index[lines >= 10]
    in_top = (
        (purchases["category"] == purchases["customer_id"].map(truth["top_category"]))
        .groupby(purchases["customer_id"])
        .mean()[regulars]
    )
    global_mix = purchases["category"].value_counts(normalize=True)
    baseline = truth.loc[regulars, "top_category"].map(global_mix)
    assert len(regulars) > 100
    assert in_top.mean() > 0.5
    assert in_top.mean() > 2.5 * baseline.mean()


def test_personal_recommendations_beat_popularity(shop: SyntheticShop, purchases: pd.DataFrame) -> None:
    """Recall@10 on each customer's first order after a cutoff: taste x popularity beats global top-10."""
    cutoff = SMALL.start_ts + pd.Timedelta(days=540)
    train, test = purchases[purchases["ordered_at"] < cutoff], purchases[purchases["ordered_at"] >= cutoff]
    test = test[test["order_id"] == test.groupby("customer_id")["order_id"].transform("first")]
    customers = sorted(set(train["customer_id"]) & set(test["customer_id"]))
    popularity = train.groupby("sku").size().sort_values(ascending=False)
    category = shop.products.set_index("sku")["category"].reindex(popularity.index)
    taste = train.groupby(["customer_id", "category"]).size().unstack(fill_value=0).loc[customers]
    taste = taste.div(taste.sum(axis=1), axis=0).reindex(columns=category.to_numpy(), fill_value=0.0)
    scores = taste.to_numpy() * (popularity / popularity.sum()).to_numpy()
    personal = popularity.index.to_numpy()[np.argsort(-scores, axis=1)[:, :10]]
    popular = set(popularity.index[:10])
    bought = test.groupby("customer_id")["sku"].apply(set)[customers]
    recall_popular = np.mean([len(b & popular) / len(b) for b in bought])
    recall_personal = np.mean([len(b & set(p)) / len(b) for b, p in zip(bought, personal, strict=True)])
    assert len(customers) > 200
    assert recall_personal > 1.25 * recall_popular


def test_dropped_customers_buy_nothing_after_dropout(shop: SyntheticShop, purchases: pd.DataFrame) -> None:
    truth = shop.truth["customers"].set_index("customer_id")
    assert (truth["is_alive"] == truth["dropout_at"].isna()).all()
    last = purchases.groupby("customer_id")["ordered_at"].max().reindex(truth.index)
    dropped = truth["dropout_at"].notna()
    assert 0.2 < dropped.mean() < 0.9
    # The dropout happens right after the last purchase.
    assert (last[dropped] == truth.loc[dropped, "dropout_at"]).all()
    assert (
        truth["purchases"] == purchases.groupby("customer_id")["order_id"].nunique().reindex(truth.index)
    ).all()


def test_churn_and_value_are_learnable(shop: SyntheticShop, purchases: pd.DataFrame) -> None:
    """Observed frequency tracks the planted rate, order value tracks the spend scale, dead customers go quiet."""
    truth = shop.truth["customers"].set_index("customer_id")
    orders = purchases.assign(value=purchases["quantity"] * purchases["unit_price"])
    per_customer = orders.groupby(["customer_id", "order_id"])["value"].sum().groupby("customer_id").mean()
    assert per_customer.corr(truth["spend_scale"].reindex(per_customer.index), method="spearman") > 0.5
    alive_long = truth[truth["is_alive"] & (truth["arrived_at"] < SMALL.start_ts + pd.Timedelta(days=365))]
    span_days = (SMALL.end_ts - alive_long["arrived_at"]).dt.total_seconds() / 86_400
    rate = alive_long["purchases"] / span_days
    assert rate.corr(alive_long["purchase_rate"], method="spearman") > 0.5
    recency = (SMALL.end_ts - purchases.groupby("customer_id")["ordered_at"].max()).dt.days.reindex(
        truth.index
    )
    assert recency[~truth["is_alive"]].median() > 2 * recency[truth["is_alive"]].median()


def test_returns_never_exceed_purchases(shop: SyntheticShop) -> None:
    o = shop.orders
    returns = o[o["quantity"] < 0]
    assert 0.005 < len(returns) / len(o) < 0.06
    assert returns["order_id"].str.startswith("C").all()
    assert not o.loc[o["quantity"] > 0, "order_id"].str.startswith("C").any()
    assert returns["customer_id"].notna().all()
    net = o[o["customer_id"].notna()].groupby(["customer_id", "sku"])["quantity"].sum()
    assert (net >= 0).all()
    # A return follows an earlier purchase of the same SKU by the same customer.
    first_buy = o[o["quantity"] > 0].groupby(["customer_id", "sku"])["ordered_at"].min()
    first_return = returns.groupby(["customer_id", "sku"])["ordered_at"].min()
    assert (first_return > first_buy.reindex(first_return.index)).all()


def test_promotions_cut_prices_and_lift_quantity(shop: SyntheticShop) -> None:
    promos = shop.truth["promotions"]
    sku_promos = promos[promos["kind"] == "sku"]
    assert len(promos) == round(SMALL.promotions_per_year * SMALL.days / 365.25)
    assert (promos["start"].iloc[1:].to_numpy() >= promos["end"].iloc[:-1].to_numpy()).all()  # no overlap
    sales = shop.orders[shop.orders["quantity"] > 0]
    products = shop.products.set_index("sku")
    price, category = products["price"], products["category"]
    lifts = []
    for promo in sku_promos.itertuples():
        of_sku = sales[sales["sku"] == promo.sku]
        during = of_sku["ordered_at"].between(promo.start, promo.end, inclusive="left")
        expected = np.round(price[promo.sku] * (1 - promo.discount), 2)
        assert np.allclose(of_sku.loc[during, "unit_price"], expected)
        covering = promos[(promos["sku"] == promo.sku) | (promos["category"] == category[promo.sku])]
        any_promo = np.zeros(len(of_sku), dtype=bool)
        for other in covering.itertuples():
            any_promo |= of_sku["ordered_at"].between(other.start, other.end, inclusive="left").to_numpy()
        assert np.allclose(of_sku.loc[~any_promo, "unit_price"], price[promo.sku])
        promo_days = (promo.end - promo.start).days
        lifts.append(
            (of_sku.loc[during, "quantity"].sum() / promo_days, of_sku["quantity"].sum() / SMALL.days)
        )
    during_rate, overall_rate = np.array(lifts).sum(axis=0)
    assert during_rate > 1.5 * overall_rate


def test_stock_follows_popularity(shop: SyntheticShop) -> None:
    held = shop.stock.groupby("sku")["on_hand"].sum()
    planted = shop.truth["products"].set_index("sku")["popularity"].reindex(held.index)
    assert held.corr(planted, method="spearman") > 0.7
    assert shop.truth["warehouses"]["demand_share"].sum() == pytest.approx(1.0)


def test_vectorised_buy_till_you_die_matches_a_slow_oracle() -> None:
    """Purchase counts and dropout share agree with a per-customer, per-purchase simulation loop."""
    from features.synthetic.customers import simulate_population

    config = ShopConfig(customers=4_000, categories=3, products=3)
    total = 365.0
    fast = simulate_population(config, total, np.full(3, 1 / 3), np.random.default_rng(1))
    fast_counts = np.bincount(fast.order_customer, minlength=config.customers)

    rng = np.random.default_rng(2)
    b = config.behaviour
    slow_counts, slow_dropped = [], []
    for _ in range(config.customers):
        t = rng.uniform(0, total)
        rate = rng.gamma(b.rate_shape, b.rate_mean / b.rate_shape)
        p = rng.beta(b.dropout_a, b.dropout_b)
        count, dropped = 1, rng.random() < p
        while not dropped:
            t += rng.exponential(1 / rate)
            if t >= total:
                break
            count += 1
            dropped = rng.random() < p
        slow_counts.append(count)
        slow_dropped.append(dropped)
    assert fast_counts.mean() == pytest.approx(np.mean(slow_counts), rel=0.06)
    assert np.mean(fast_counts == 1) == pytest.approx(np.mean(np.array(slow_counts) == 1), abs=0.03)
    assert np.mean(~np.isnan(fast.dropout_op)) == pytest.approx(np.mean(slow_dropped), abs=0.03)
    # Orders are customer-major and time-sorted, all inside the window, first order at arrival.
    assert (np.diff(fast.order_customer) >= 0).all()
    same = np.diff(fast.order_customer) == 0
    assert (np.diff(fast.order_op)[same] >= 0).all()
    assert fast.order_op.max() < total
    first = np.r_[0, np.flatnonzero(np.diff(fast.order_customer)) + 1]
    assert np.array_equal(fast.order_op[first], fast.arrival_op)
