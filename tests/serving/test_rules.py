"""Recommendation rules as data: the file is validated and names the field, stock masks follow the geography of
the warehouses (checked against a row-by-row oracle), and the compiled rules combine with a request's filters."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from serving.rules import CompiledRules, RulesFile, read_rules, serving_warehouses
from shopml.geo import haversine_km
from training.recommend.live import LiveRecommender
from training.recommend.predict import Ragged, Recommender

REGIONS = pd.DataFrame({"region": ["North", "South", "Island"], "lat": [55.0, 45.0, 40.0], "lon": [0.0, 2.0, 30.0]})
WAREHOUSES = pd.DataFrame({"warehouse_id": ["W1", "W2", "W3"], "lat": [54.5, 46.0, 47.0], "lon": [0.5, 2.0, 2.5],
                           "capacity": [100, 100, 100]})


def tiny_recommender(n: int = 6) -> Recommender:
    empty = Ragged.from_rows([(np.zeros(0, "int32"), np.zeros(0, "float32"))])
    order = np.arange(n, dtype="int32")
    return Recommender(
        skus=np.array([f"P{i}" for i in range(n)]), customer_ids=np.array(["C0"]),
        ranked=Ragged.from_rows([(order, np.linspace(1, 0.1, n).astype("float32"))]), history=empty,
        neighbours=Ragged.from_rows([(np.array([(i + 1) % n], "int32"), np.array([0.5], "float32")) for i in range(n)]),
        popular=empty, popular_global=(order, np.ones(n, "float32")), countries=np.array(["North"]),
        customer_country=np.array([0]), model_source="ranker")


PRODUCTS = pd.DataFrame({"sku": [f"P{i}" for i in range(6)], "description": ["mug"] * 6,
                         "category": ["kitchen", "kitchen", "kitchen", "garden", "garden", "toys"],
                         "price": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
STOCK = pd.DataFrame({"warehouse_id": ["W1", "W1", "W2", "W3", "W3", "W2"],
                      "sku": ["P0", "P1", "P2", "P3", "P0", "P5"], "on_hand": [5, 0, 3, 1, 2, 0]})
TABLES = {"products": PRODUCTS, "stock": STOCK, "warehouses": WAREHOUSES, "regions": REGIONS}


@pytest.mark.parametrize(("text", "field"), [
    ({"max_per_category": 0}, "max_per_category"),
    ({"boosts": [{"factor": 2.0}]}, "boosts.0"),
    ({"boosts": [{"skus": ["P1"], "factor": -1}]}, "boosts.0.factor"),
    ({"pins": [{"sku": "P1", "position": 101}]}, "pins.0.position"),
    ({"stock": {"max_extra_km": -5}}, "stock.max_extra_km"),
    ({"min_price": "cheap"}, "min_price"),
    ({"promotions": []}, "promotions"),
])
def test_a_bad_rules_file_names_the_field(tmp_path, text, field):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(text))
    with pytest.raises(ValidationError) as caught:
        read_rules(path)
    assert field in [".".join(map(str, e["loc"])) for e in caught.value.errors()]


def test_no_file_means_no_rules(tmp_path):
    assert read_rules(tmp_path / "missing.json") == RulesFile()


def test_the_nearest_warehouse_always_serves_and_nearby_ones_too():
    served = serving_warehouses(REGIONS, WAREHOUSES, max_extra_km=150)
    assert list(served["North"]) == [0] and list(served["South"]) == [1, 2]
    distance = haversine_km(REGIONS["lat"], REGIONS["lon"], WAREHOUSES["lat"], WAREHOUSES["lon"])
    for i, region in enumerate(REGIONS["region"]):  # oracle: the definition, region by region
        want = [w for w in range(3) if distance[i, w] <= distance[i].min() + 150]
        assert list(served[region]) == want
    assert len(serving_warehouses(REGIONS, WAREHOUSES, max_extra_km=40_000)["Island"]) == 3


def test_stock_masks_equal_a_row_by_row_oracle():
    live = LiveRecommender(tiny_recommender(), PRODUCTS)
    compiled = CompiledRules(RulesFile.model_validate({"stock": {"max_extra_km": 150}}), live, TABLES)
    served = serving_warehouses(REGIONS, WAREHOUSES, 150)
    for region in REGIONS["region"]:
        names = set(WAREHOUSES["warehouse_id"].iloc[served[region]])
        held = {r.sku for r in STOCK.itertuples() if r.warehouse_id in names and r.on_hand > 0}
        mask = compiled.stock_by_region[region]
        assert {str(live.skus[j]) for j in np.flatnonzero(mask)} == held
    assert {str(live.skus[j]) for j in np.flatnonzero(compiled.stock_anywhere)} == {"P0", "P2", "P3"}


def test_compiled_rules_filter_cap_pin_and_boost_and_say_which_applied():
    live = LiveRecommender(tiny_recommender(), PRODUCTS)
    rules = RulesFile.model_validate({
        "exclude_categories": ["toys"], "max_price": 4.5, "max_per_category": 1,
        "pins": [{"name": "promo", "sku": "P3", "position": 1, "countries": ["North"]}],
        "boosts": [{"name": "garden", "categories": ["garden"], "factor": 0.5}],
    })
    compiled = CompiledRules(rules, live, {"products": PRODUCTS})
    north = live.recommend("C0", k=3, rules=compiled.for_request("North"))
    assert [r.sku for r in north.items] == ["P3", "P0"]  # one kitchen item, P3 pinned; P4 and P5 cost too much
    assert set(north.rules_applied) == {"pin:promo", "max_per_category", "filter:price", "filter:category",
                                        "boost:garden"}
    south = live.recommend("C0", k=3, rules=compiled.for_request("South"))
    assert [r.sku for r in south.items] == ["P0", "P3"]  # the pin is for North only
    only_kitchen = live.recommend("C0", k=3, rules=compiled.for_request("South", categories=["kitchen"]))
    assert [r.sku for r in only_kitchen.items] == ["P0"] and "request:category" in only_kitchen.rules_applied
    cheap = live.recommend("C0", k=3, rules=compiled.for_request("South", min_price=1.5, max_price=2.5))
    assert [r.sku for r in cheap.items] == ["P1"] and "request:price" in cheap.rules_applied


def test_a_stock_rule_without_stock_data_is_noted_not_applied():
    live = LiveRecommender(tiny_recommender(), PRODUCTS)
    compiled = CompiledRules(RulesFile.model_validate({"stock": {}}), live, {"products": PRODUCTS})
    assert compiled.stock_anywhere is None and "no stock table" in compiled.notes[0]
    assert compiled.for_request("North").empty


def test_the_documented_example_is_a_valid_rules_file():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "recommend_rules.json"
    rules = read_rules(example)
    assert rules.stock is not None and rules.pins and rules.boosts and rules.max_per_category == 3
