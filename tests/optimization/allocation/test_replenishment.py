"""Safety stock, reorder points and orders from quantiles and class service levels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimization.allocation import (
    AllocationInputError,
    ReplenishmentPolicy,
    ReplenishmentRequest,
    critical_ratio,
    nearest_warehouse,
    replenishment_proposal,
)

Z90 = 1.2815515655446004


def _normal_forecast(mu, sd, horizons, sku="A", wh="W1"):
    return pd.DataFrame({
        "sku": sku, "warehouse_id": wh, "horizon": np.arange(1, horizons + 1),
        "p10": mu - Z90 * sd, "p50": mu, "p90": mu + Z90 * sd,
    })


def test_point_demand_needs_no_safety_stock():
    demand = pd.DataFrame({"sku": ["A"], "warehouse_id": ["W1"], "demand": [10.0]})
    stock = pd.DataFrame({"warehouse_id": ["W1"], "sku": ["A"], "on_hand": [25]})
    row = replenishment_proposal(demand, stock, policy=ReplenishmentPolicy(lead_time_periods=2, review_periods=1)).proposal.iloc[0]
    assert row["reorder_point"] == 20 and row["order_up_to"] == 30
    assert row["safety_stock"] == pytest.approx(0.0)
    assert row["order_qty"] == 0  # position 25 > reorder point 20


def test_reorder_point_is_the_lead_time_quantile_at_the_class_level():
    demand = _normal_forecast(100.0, 20.0, 3)
    policy = ReplenishmentPolicy(lead_time_periods=2, review_periods=1, service_levels={"A": 0.9, "B": 0.9, "C": 0.9})
    row = replenishment_proposal(demand, pd.DataFrame(columns=["warehouse_id", "sku", "on_hand"]), policy=policy).proposal.iloc[0]
    # Sum of two independent normal periods at its 90% quantile, rounded up to whole units.
    assert row["reorder_point"] == int(np.ceil(200 + Z90 * 20 * np.sqrt(2)))
    assert row["order_up_to"] == int(np.ceil(300 + Z90 * 20 * np.sqrt(3)))
    assert row["safety_stock"] == pytest.approx(row["reorder_point"] - 200.0, abs=0.5)
    assert row["order_qty"] == row["order_up_to"]  # nothing on hand


def test_higher_class_gets_more_safety_stock_and_orders_round_to_packs():
    demand = pd.concat([_normal_forecast(100.0, 30.0, 3, sku="BIG"), _normal_forecast(100.0, 30.0, 3, sku="BIG2"),
                        _normal_forecast(100.0, 30.0, 3, sku="BIG3"), _normal_forecast(5.0, 1.5, 3, sku="SMALL")])
    policy = ReplenishmentPolicy(abc_cutoffs=(0.5, 0.9), pack_size=12, min_order=48)
    stock = pd.DataFrame({"warehouse_id": ["W1"], "sku": ["SMALL"], "on_hand": [1]})
    plan = replenishment_proposal(demand, stock, policy=policy)
    p = plan.proposal.set_index("sku")
    assert p.loc["BIG", "abc_class"] == "A" and p.loc["SMALL", "abc_class"] == "C"
    assert p.loc["BIG", "service_level"] > p.loc["BIG3", "service_level"] >= p.loc["SMALL", "service_level"]
    assert p.loc["BIG", "safety_stock"] > p.loc["BIG3", "safety_stock"]
    assert (p["order_qty"] % 12 == 0).all() and (p.loc[p["order_qty"] > 0, "order_qty"] >= 48).all()
    assert p.loc["SMALL", "order_qty"] == 48  # needs 19, the minimum order wins
    assert "ABC classes" in plan.summary()


def test_service_level_holds_in_simulation():
    rng = np.random.default_rng(3)
    mu, sd = 50.0, 12.0
    policy = ReplenishmentPolicy(lead_time_periods=3, review_periods=1, service_levels={"A": 0.95, "B": 0.95, "C": 0.95})
    rop = replenishment_proposal(_normal_forecast(mu, sd, 4), pd.DataFrame(columns=["warehouse_id", "sku", "on_hand"]),
                                 policy=policy).proposal.iloc[0]["reorder_point"]
    lead_demand = rng.normal(mu, sd, (100_000, 3)).sum(axis=1)
    assert (lead_demand <= rop).mean() == pytest.approx(0.95, abs=0.01)


def test_regions_map_to_nearest_warehouse_and_stationary_rows_repeat():
    warehouses = pd.DataFrame({"warehouse_id": ["PAR", "BER"], "lat": [48.86, 52.52], "lon": [2.35, 13.40]})
    regions = pd.DataFrame({"region": ["FR", "DE", "BE"], "lat": [47.0, 51.0, 50.8], "lon": [2.0, 10.0, 4.4]})
    mapping = nearest_warehouse(regions, warehouses)
    assert mapping.to_dict() == {"FR": "PAR", "DE": "BER", "BE": "PAR"}
    demand = pd.DataFrame({"sku": "A", "region": ["FR", "DE", "BE", "ALL"], "demand": [3.0, 4.0, 1.0, 8.0]})
    plan = replenishment_proposal(demand, pd.DataFrame(columns=["warehouse_id", "sku", "on_hand"]),
                                  region_to_warehouse=mapping, policy=ReplenishmentPolicy(lead_time_periods=1))
    assert plan.proposal.set_index("warehouse_id")["reorder_point"].to_dict() == {"BER": 4, "PAR": 4}


def test_errors_name_the_fix():
    short = _normal_forecast(10.0, 2.0, 2)
    with pytest.raises(AllocationInputError, match="horizon >= 3"):
        replenishment_proposal(short, pd.DataFrame(columns=["warehouse_id", "sku", "on_hand"]))
    with pytest.raises(AllocationInputError, match="region_to_warehouse"):
        replenishment_proposal(short.drop(columns="warehouse_id").assign(region="FR"), pd.DataFrame())
    with pytest.raises(AllocationInputError, match="prices"):
        replenishment_proposal(_normal_forecast(1.0, 0.1, 3), pd.DataFrame(columns=["warehouse_id", "sku", "on_hand"]),
                               policy=ReplenishmentPolicy(abc_by="value"))
    with pytest.raises(ValueError, match="service level"):
        ReplenishmentPolicy(service_levels={"A": 1.2, "B": 0.9, "C": 0.9})
    assert critical_ratio(9.0, 1.0) == pytest.approx(0.9)


def test_request_file_round_trip(tmp_path):
    payload = {
        "stock": [{"warehouse_id": "W1", "sku": "A", "on_hand": 5}],
        "demand": [{"sku": "A", "warehouse_id": "W1", "horizon": h, "quantiles": {"p10": 2, "p50": 4, "p90": 7}}
                   for h in (1, 2, 3)],
        "policy": {"lead_time_periods": 2},
    }
    plan = ReplenishmentRequest.model_validate(payload).run()
    row = plan.proposal.iloc[0]
    assert row["on_hand"] == 5 and row["order_qty"] == row["order_up_to"] - 5
    assert plan.to_dict()["orders"] == 1
