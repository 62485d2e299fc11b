"""The runtime's storefront path in-process, on a copy of the test shop: events shape the session's list, the
rules file is hot-reloaded (a bad file keeps the rules in force), and a product added to ``products`` is found
before it has sold (cold start)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from serving.schemas import EventsRequest, RecommendRequest, SimilarItemsRequest
from tests.serving.conftest import copy_data_home


@pytest.fixture(scope="module")
def runtime(shop, tmp_path_factory):
    if shop.trained.get("recommender") != "ok":
        pytest.skip(f"recommender not trained: {shop.trained.get('recommender')}")
    from serving.runtime import ServingRuntime
    from shopml.settings import load_settings

    home = copy_data_home(shop.home, tmp_path_factory.mktemp("session") / "home")
    rt = ServingRuntime(load_settings(data_home=home, prediction_log=False))
    rt.models.load("recommender")
    assert rt.storefront.state is not None
    yield rt
    rt.storefront.stop()


def recommend(rt, **body):
    return rt.recommend(RecommendRequest.model_validate_json(json.dumps(body)))


def send(rt, *events):
    return rt.record_events(EventsRequest.model_validate_json(json.dumps({"events": list(events)})))


def write_rules(rt, rules) -> None:
    path = rt.settings.rules_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rules) if isinstance(rules, dict) else rules)
    rt.storefront.refresh()


def test_events_shape_the_session_and_the_customers_list(runtime):
    live = runtime.storefront.state.live
    customer = str(live.base.customer_ids[0])
    sku = str(live.base.skus[3])
    before = recommend(runtime, customer_id=customer, k=10)
    assert before.session_events == 0 and before.rules_applied == []
    answer = send(runtime, {"type": "add_to_cart", "sku": sku, "customer_id": customer, "session_id": "tab-1"})
    assert answer.accepted == 1 and answer.unknown_skus == []
    by_session = recommend(runtime, session_id="tab-1", k=10)
    by_customer = recommend(runtime, customer_id=customer, k=10)
    assert by_session.session_events == by_customer.session_events == 1
    assert sku not in [i.sku for i in by_customer.items] and by_customer.items != before.items


def test_the_rules_file_is_hot_reloaded_and_a_bad_one_keeps_the_rules(runtime):
    live = runtime.storefront.state.live
    customer = str(live.base.customer_ids[1])
    plain = [i.sku for i in recommend(runtime, customer_id=customer, k=10).items]
    write_rules(runtime, {"exclude_skus": plain[:2], "max_per_category": 2})
    ruled = recommend(runtime, customer_id=customer, k=10)
    skus = [i.sku for i in ruled.items]
    assert not set(plain[:2]) & set(skus) and "filter:sku" in ruled.rules_applied
    cats = pd.Series([live.category[live.item_index(s)] for s in skus]).value_counts()
    assert cats.max() <= 2
    write_rules(runtime, "{not json")
    assert "refused" in runtime.storefront.error
    assert "refused" in next(m.note for m in runtime.models_info().models if m.name == "recommender")
    assert [i.sku for i in recommend(runtime, customer_id=customer, k=10).items] == skus  # rules kept
    runtime.settings.rules_path.unlink()
    runtime.storefront.refresh()
    assert [i.sku for i in recommend(runtime, customer_id=customer, k=10).items] == plain


def test_a_rules_edit_keeps_the_live_recommender(runtime):
    """Only the compiled rules are rebuilt when the rules file alone changes: the live recommender (content
    vectors, neighbours) is the same object, and the new rules are in force at once."""
    live = runtime.storefront.state.live
    customer = str(live.base.customer_ids[2])
    write_rules(runtime, {"max_per_category": 1})
    assert runtime.storefront.state.live is live
    skus = [i.sku for i in recommend(runtime, customer_id=customer, k=10).items]
    assert pd.Series([live.category[live.item_index(s)] for s in skus]).value_counts().max() == 1
    runtime.settings.rules_path.unlink()
    runtime.storefront.refresh()
    assert runtime.storefront.state.live is live and runtime.storefront.state.rules.rules.max_per_category is None


def test_stock_rule_uses_the_shoppers_region(runtime):
    from features.store import load_tables

    tables = load_tables(runtime.settings.raw_dir, ("stock", "regions"))
    write_rules(runtime, {"stock": {"max_extra_km": 300}})
    compiled = runtime.storefront.state.rules
    live = runtime.storefront.state.live
    for region in tables["regions"]["region"].astype(str)[:4]:
        answer = recommend(runtime, country=region, k=20)
        idx = [live.item_index(i.sku) for i in answer.items]
        assert compiled.stock_by_region[region][idx].all()
    runtime.settings.rules_path.unlink()
    runtime.storefront.refresh()


def test_a_product_added_to_products_is_found_before_it_sells(runtime):
    from features.store import load_tables, save_tables

    raw = runtime.settings.raw_dir
    tables = load_tables(raw)
    products = tables["products"]
    live = runtime.storefront.state.live
    model = products[products["sku"] == str(live.base.skus[0])].iloc[0]
    new = pd.DataFrame({"sku": ["NEWSKU1"], "description": [f"{model['description']} deluxe"],
                        "category": [model["category"]], "price": [float(model["price"]) * 1.05]})
    tables["products"] = pd.concat([products, new], ignore_index=True).astype(products.dtypes.to_dict())
    save_tables(tables, raw, source="test: a new product")
    assert runtime.storefront.refresh()
    live = runtime.storefront.state.live
    assert live.knows_item("NEWSKU1") and not live.base.knows_item("NEWSKU1")
    similar = runtime.similar_items(SimilarItemsRequest(sku=str(model["sku"]), k=10))
    assert "NEWSKU1" in [i.sku for i in similar.items]
    own = runtime.similar_items(SimilarItemsRequest(sku="NEWSKU1", k=5))
    assert own.known_item and own.items[0].sku == str(model["sku"])
    code = live.category[live.item_index("NEWSKU1")]
    fans = np.flatnonzero((live.customer_category == code) & (live.customer_share >= live.config.cold_min_share))
    assert len(fans)
    answer = recommend(runtime, customer_id=str(live.base.customer_ids[fans[0]]), k=10)
    assert "NEWSKU1" in [i.sku for i in answer.items]
    assert send(runtime, {"type": "view", "sku": "NEWSKU1", "session_id": "s-new"}).unknown_skus == []
