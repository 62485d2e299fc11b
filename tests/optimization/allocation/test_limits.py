"""Domain limits of allocation requests and frames (issue 15), and plans that fail their check.

One demand of 1e300 used to come back as an "OPTIMAL" plan with ``verified: false`` and an objective of
-3.29e300. Now every number is bounded in the schema (and in :func:`build_problem` for frames), values at the
limits solve and verify, and a plan that fails the checker raises instead of being returned.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from optimization.allocation import AllocationInputError, AllocationRequest, allocate, build_problem
from optimization.allocation.limits import MAX_UNIT_COST, MAX_UNITS
from shopml.errors import ShopmlError, VerificationError
from tests.optimization.allocation.conftest import tiny_frames

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "allocation_request.json"


def _example() -> dict:
    return json.loads(EXAMPLE.read_text())


def _first_point_row(payload: dict) -> dict:
    return next(row for row in payload["demand"] if "demand" in row)


def test_the_reported_demand_of_1e300_is_refused_naming_the_field():
    payload = _example()
    _first_point_row(payload)["demand"] = 1e300
    with pytest.raises(ValidationError) as caught:
        AllocationRequest.model_validate(payload)
    error = caught.value.errors()[0]
    assert error["loc"][0] == "demand" and error["loc"][-1] == "demand"
    assert error["ctx"]["le"] == MAX_UNITS


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p["stock"][0].update(on_hand=MAX_UNITS + 1), "on_hand"),
        (lambda p: p["warehouses"][0].update(capacity=10**12), "capacity"),
        (lambda p: p["warehouses"][0].update(lat=math.nan), "lat"),
        (lambda p: next(r for r in p["demand"] if "quantiles" in r)["quantiles"].update(p90=math.inf), "p90"),
        (lambda p: p["skus"][0].update(shortage_penalty=1e12), "shortage_penalty"),
        (lambda p: p["skus"][0].update(holding_cost=math.nan), "holding_cost"),
        (lambda p: p.update(shipping_cost={"W00": {"R000": 1e9}}), "R000"),
        (lambda p: p["options"].update(shipping_per_km=1e6), "shipping_per_km"),
        (lambda p: p["options"].update(lane_fixed_cost=math.inf), "lane_fixed_cost"),
        (lambda p: p["options"].update(min_lot=MAX_UNITS * 10), "min_lot"),
        (lambda p: p["options"].update(time_limit_s=math.nan), "time_limit_s"),
    ],
)
def test_numbers_past_their_limit_are_refused(change, field: str):
    payload = _example()
    change(payload)
    with pytest.raises(ValidationError) as caught:
        AllocationRequest.model_validate(payload)
    assert field in str(caught.value)


def test_frames_from_python_callers_share_the_limits():
    frames = tiny_frames()
    frames["demand"].loc[0, "demand"] = 1e300
    with pytest.raises(AllocationInputError, match=re.escape(f"demand must be finite and in [0, {MAX_UNITS:g}]")):
        build_problem(**frames)
    frames = tiny_frames()
    with pytest.raises(AllocationInputError, match="shipping_cost"):
        build_problem(**frames, shipping_cost=np.full((2, 2), MAX_UNIT_COST * 2))


def test_the_openapi_schema_shows_the_limits():
    defs = AllocationRequest.model_json_schema()["$defs"]
    assert defs["DemandIn"]["properties"]["demand"]["anyOf"][0]["maximum"] == MAX_UNITS
    assert defs["StockIn"]["properties"]["on_hand"]["maximum"] == MAX_UNITS
    assert defs["AllocationOptions"]["properties"]["shortage_penalty"]["maximum"] == MAX_UNIT_COST


@pytest.mark.parametrize("method", ["flow", "lp", "mip"])
def test_values_at_the_limits_solve_and_verify(method: str):
    payload = _example()
    _first_point_row(payload)["demand"] = MAX_UNITS
    next(r for r in payload["demand"] if "quantiles" in r)["quantiles"] = {"p10": 1e8, "p50": 5e8, "p90": 1e9}
    payload["skus"][0]["shortage_penalty"] = MAX_UNIT_COST
    payload["options"] |= {"method": method, **({"min_lot": 5} if method == "mip" else {})}
    plan = allocate(AllocationRequest.model_validate(payload))
    assert plan.verification.ok and np.isfinite(plan.objective) and plan.objective > 0


def test_a_plan_failing_its_check_raises_with_the_findings(monkeypatch, tiny_problem):
    import optimization.allocation.network as network

    solve_flow = network.solve_flow

    def broken(problem, **kwargs):
        plan = solve_flow(problem, **kwargs)
        plan.ship[0, 0, 0] += 1_000  # ships stock that does not exist
        return plan

    monkeypatch.setattr(network, "solve_flow", broken)
    with pytest.raises(VerificationError) as caught:
        allocate(tiny_problem, method="flow")
    assert isinstance(caught.value, ShopmlError) and caught.value.findings
    assert "failed its independent check" in str(caught.value)
