"""Bad input gives an AllocationInputError that names the offender, never a crash or a bare 'infeasible'."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from optimization.allocation import AllocationInputError, AllocationRequest, allocate, build_problem
from shopml.errors import ShopmlError
from tests.optimization.allocation.conftest import tiny_frames


def _with(**changes):
    frames = tiny_frames()
    frames.update(changes)
    return frames


def test_input_error_is_a_shopml_error():
    assert issubclass(AllocationInputError, ShopmlError)
    assert not issubclass(AllocationInputError, ValueError)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f["stock"].assign(on_hand=[-1, 2]), "stock.on_hand must be finite and in "),
        (lambda f: f["stock"].assign(warehouse_id=["PAR", "MAD"]), "unknown warehouse MAD"),
        (lambda f: f["stock"].assign(on_hand=[1.5, 2]), "whole units"),
        (lambda f: pd.concat([f["stock"], f["stock"].iloc[:1]]), "more than once"),
    ],
)
def test_bad_stock(change, message):
    frames = tiny_frames()
    with pytest.raises(AllocationInputError, match=message):
        build_problem(**_with(stock=change(frames)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.assign(demand=[-2.0, 2.0, None, None]), "demand must be finite and in "),
        (lambda d: d.assign(region=["FR", "XX", "DE", "FR"]), "unknown region XX"),
        (lambda d: d.assign(p90=[None, None, 2.0, None]), "lacks some of p10, p50, p90"),
        (lambda d: d.drop(columns=["p10", "p50", "p90"]).assign(demand=[1.0, None, 1.0, 1.0]), "quantile columns"),
        (lambda d: pd.concat([d, d.iloc[:1]]), "sku A in region FR more than once"),
        (lambda d: d.drop(columns=["region"]), "lacks column"),
    ],
)
def test_bad_demand(change, message):
    frames = tiny_frames()
    with pytest.raises(AllocationInputError, match=message):
        build_problem(**_with(demand=change(frames["demand"])))


def test_cost_matrix_of_wrong_shape_and_missing_entries():
    with pytest.raises(AllocationInputError, match=r"shipping_cost has shape \(3, 2\), expected \(2, 2\)"):
        build_problem(**tiny_frames(), shipping_cost=np.ones((3, 2)))
    with pytest.raises(AllocationInputError, match="transfer_cost has shape"):
        build_problem(**tiny_frames(), transfer_cost=np.ones((2, 3)))
    partial = pd.DataFrame({"FR": [1.0, 2.0]}, index=["PAR", "BER"])
    with pytest.raises(AllocationInputError, match="no entry for DE"):
        build_problem(**tiny_frames(), shipping_cost=partial)
    with pytest.raises(AllocationInputError, match="negative"):
        build_problem(**tiny_frames(), shipping_cost=-np.ones((2, 2)))


def test_capacity_errors():
    frames = tiny_frames()
    with pytest.raises(AllocationInputError, match="total warehouse capacity is zero"):
        build_problem(**_with(warehouses=frames["warehouses"].assign(capacity=[0, 0])))
    with pytest.raises(AllocationInputError, match="warehouse PAR holds 3 units but its capacity is 1"):
        build_problem(**_with(warehouses=frames["warehouses"].assign(capacity=[1, 10])))


def test_unknown_sku_in_costs():
    with pytest.raises(AllocationInputError, match="unknown sku ZZZ"):
        build_problem(**tiny_frames(), sku_costs=pd.DataFrame({"sku": ["ZZZ"], "shortage_penalty": [3.0]}))


def test_request_rejects_both_or_neither_demand_kind():
    base = {"warehouses": [{"warehouse_id": "W", "lat": 0, "lon": 0}], "regions": [{"region": "R", "lat": 0, "lon": 1}]}
    with pytest.raises(ValidationError, match="either demand or quantiles"):
        AllocationRequest.model_validate({**base, "demand": [{"sku": "A", "region": "R"}]})
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        AllocationRequest.model_validate(
            {**base, "stock": [{"warehouse_id": "W", "sku": "A", "on_hand": -3}], "demand": [{"sku": "A", "region": "R", "demand": 1}]}
        )


def test_no_stock_at_all_reports_the_shortage_instead_of_infeasible():
    frames = _with(stock=pd.DataFrame(columns=["warehouse_id", "sku", "on_hand"]))
    problem = build_problem(**frames)
    plan = allocate(problem)
    assert plan.status == "OPTIMAL" and plan.verification.ok
    assert plan.fill_rate == 0.0
    assert plan.expected_shortage.sum() == pytest.approx(problem.mean_demand.sum())


def test_row_order_and_whitespace_do_not_change_the_problem():
    frames = tiny_frames()
    a = build_problem(**frames)
    shuffled = {name: f.iloc[::-1].reset_index(drop=True) for name, f in frames.items()}
    shuffled["stock"] = shuffled["stock"].assign(sku=[" B", "A "])
    b = build_problem(**shuffled)
    assert list(a.skus) == list(b.skus)
    assert allocate(a).objective == pytest.approx(allocate(b).objective, abs=1e-9)
