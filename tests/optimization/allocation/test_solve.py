"""The facade: JSON requests, the forecaster's frame as demand, method choice and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimization.allocation import (
    AllocationInputError,
    AllocationRequest,
    allocate,
    build_problem,
    choose_method,
)
from tests.optimization.allocation.conftest import tiny_frames

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "allocation_request.json"


def _request_dict() -> dict:
    f = tiny_frames()
    return {
        "warehouses": f["warehouses"].to_dict(orient="records"),
        "regions": f["regions"].to_dict(orient="records"),
        "stock": f["stock"].to_dict(orient="records"),
        "demand": [
            {"sku": "A", "region": "FR", "demand": 2},
            {"sku": "A", "region": "DE", "demand": 2},
            {"sku": "B", "region": "DE", "quantiles": {"p10": 0, "p50": 1, "p90": 2}},
            {"sku": "B", "region": "FR", "quantiles": {"p10": 1, "p50": 3, "p90": 5}},
        ],
        "options": {"shortage_penalty": 12.0, "holding_cost": 0.5},
    }


def test_request_and_frames_give_the_same_plan(tiny_problem):
    request = AllocationRequest.model_validate(_request_dict())
    assert allocate(request).objective == pytest.approx(allocate(tiny_problem).objective, abs=1e-9)


def test_cost_matrices_in_a_request():
    data = _request_dict()
    data["shipping_cost"] = {"PAR": {"FR": 1.0, "DE": 5.0}, "BER": {"FR": 5.0, "DE": 1.0}}
    data["transfer_cost"] = {"PAR": {"BER": 0.5}, "BER": {"PAR": 0.5}}
    plan = allocate(AllocationRequest.model_validate(data))
    assert plan.verification.ok
    assert plan.problem.ship_cost.tolist() == [[1.0, 5.0], [5.0, 1.0]]
    data["shipping_cost"]["BER"].pop("DE")
    with pytest.raises(AllocationInputError, match="no entry for BER->DE"):
        allocate(AllocationRequest.model_validate(data))


def test_forecast_frame_as_demand():
    frames = tiny_frames()
    forecast = pd.DataFrame({
        "sku": ["A", "A", "A", "A", "B", "B"],
        "region": ["FR", "FR", "DE", "DE", "ALL", "ALL"],
        "period_start": pd.to_datetime(["2024-01-01", "2024-01-08"] * 3),
        "horizon": [1, 2] * 3,
        "p10": [0.0, 1.0, 0.0, 0.0, 1.0, 1.0],
        "p50": [1.0, 1.0, 1.0, 2.0, 2.0, 2.0],
        "p90": [2.0, 3.0, 3.0, 4.0, 4.0, 4.0],
    })
    # Region "ALL" is only valid when it is a region of the request; here B is forecast as a total only.
    regions = pd.concat([frames["regions"], pd.DataFrame({"region": ["ALL"], "lat": [50.0], "lon": [6.0]})])
    problem = build_problem(frames["warehouses"], regions, frames["stock"], forecast)
    assert problem.demand_kind == "quantile" and problem.curves.n_pairs == 3
    plan = allocate(problem)
    assert plan.verification.ok
    request = AllocationRequest.model_validate({**_request_dict(), "regions": regions.to_dict(orient="records")})
    via_request = allocate(request.with_demand(forecast))
    assert via_request.objective == pytest.approx(allocate(build_problem(
        frames["warehouses"], regions, frames["stock"], forecast, options=request.options)).objective)


def test_method_choice_and_refusals(tiny_problem):
    assert choose_method(tiny_problem) == "flow"
    assert choose_method(tiny_problem.with_options(min_lot=2)) == "mip"
    capped = build_problem(**{**tiny_frames(), "warehouses": tiny_frames()["warehouses"].assign(capacity=[3, 3])})
    assert choose_method(capped) == "lp"
    assert choose_method(capped.with_options(allow_transfers=False)) == "flow"
    with pytest.raises(AllocationInputError, match="couples SKUs"):
        allocate(capped, method="flow")
    with pytest.raises(AllocationInputError, match="need the MIP"):
        allocate(tiny_problem.with_options(lane_fixed_cost=1.0), method="lp")
    with pytest.raises(AllocationInputError, match="unknown"):
        allocate(tiny_problem, method="simplex")


def test_example_request_file_solves():
    request = AllocationRequest.from_file(EXAMPLE)
    plan = allocate(request)
    assert plan.verification.ok and plan.status == "OPTIMAL"
    assert np.isfinite(plan.objective)
    json.dumps(plan.to_dict(), default=float)
