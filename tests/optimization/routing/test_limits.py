"""Domain limits of route requests (issue 15) and plans near them.

Every number of a request is bounded in the schema (so the OpenAPI document shows it); a value past a limit is
refused naming the field and the limit, and a value inside the limits is planned correctly: in particular one
far-away window end must not coarsen the integer model until every stop looks unservable.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimization.routing import RouteRequest, RoutingRequestError, plan_routes, verify_plan
from optimization.routing.request import MAX_DISTANCE, MAX_QUANTITY, MAX_TIME
from tests.optimization.routing.conftest import _route_feasible, planar_payload

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "routes_request.json"
UNSERVABLE_ALONE = ("demand ", "time window closes", "no vehicle can serve", "the round trip")
"""How explain.py's reasons for a stop no vehicle can serve even alone begin."""


def _example(end: float | None = None, open_ended: bool = False) -> dict:
    """The README's 13-stop example, one worker, with order-001's window ending at ``end``."""
    payload = json.loads(EXAMPLE.read_text())
    payload["options"] |= {"workers": 1, "time_limit": 1.5}
    if end is not None:
        payload["stops"][0]["time_windows"][0]["end"] = end
    if open_ended:  # no shift end, no closing time: the horizon comes from the windows and route lengths
        payload["depots"][0].pop("closes")
        for vehicle in payload["vehicles"]:
            vehicle.pop("shift_end")
    return payload


def test_the_reported_window_end_of_1e12_is_refused_naming_the_field_and_limit():
    with pytest.raises(RoutingRequestError) as caught:
        plan_routes(_example(1e12))
    message = str(caught.value)
    assert "stops[0] 'order-001'.time_windows[0].end" in message
    assert f"less than or equal to {MAX_TIME:g}" in message


@pytest.mark.parametrize("open_ended", [False, True])
def test_a_far_window_end_inside_the_limits_keeps_the_plan(open_ended: bool):
    plan = plan_routes(_example(MAX_TIME, open_ended))
    assert verify_plan(RouteRequest.parse(_example(MAX_TIME, open_ended)), plan).ok
    served = {v.stop_id for r in plan.routes for v in r.visits}
    # before issue 15's fix the whole plan came back empty, every stop blamed on "no room"
    assert "order-001" in served and len(served) == 12
    assert [u.stop_id for u in plan.unserved] == ["order-013-pallet"]
    assert "exceeds every vehicle's capacity" in plan.unserved[0].reason


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["stops", 1, "time_windows", 0, "start"], MAX_TIME + 1, "time_windows[0].start"),
        (["stops", 1, "service_time"], math.inf, "service_time"),
        (["stops", 1, "demand", "kg"], math.nan, "demand.kg"),
        (["stops", 1, "demand", "kg"], MAX_QUANTITY * 2, "demand.kg"),
        (["stops", 1, "penalty"], 1e13, "penalty"),
        (["depots", 0, "closes"], 1e9, "depots[0] 'hub'.closes"),
        (["vehicles", 0, "capacity", "kg"], 1e300, "capacity.kg"),
        (["vehicles", 0, "shift_end"], 1e7, "shift_end"),
        (["vehicles", 0, "speed"], 0.01, "speed"),
        (["vehicles", 0, "speed"], 1e6, "speed"),
        (["vehicles", 0, "fixed_cost"], 1e12, "fixed_cost"),
        (["vehicles", 0, "max_distance"], MAX_DISTANCE * 10, "max_distance"),
        (["vehicles", 0, "max_duration"], math.inf, "max_duration"),
        (["travel", "road_factor"], math.nan, "road_factor"),
        (["options", "default_penalty"], 1e300, "default_penalty"),
        (["options", "seed"], 2**40, "seed"),
    ],
)
def test_numbers_past_their_domain_limit_are_refused(path: list, value: float, field: str):
    payload = _example()
    node = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(RoutingRequestError) as caught:
        RouteRequest.parse(payload)
    assert field in str(caught.value)


def test_the_openapi_schema_shows_the_limits():
    defs = RouteRequest.model_json_schema()["$defs"]
    assert defs["TimeWindow"]["properties"]["end"]["maximum"] == MAX_TIME
    assert defs["Stop"]["properties"]["service_time"]["maximum"] == MAX_TIME
    vehicle = defs["Vehicle"]["properties"]
    assert vehicle["capacity"]["additionalProperties"]["maximum"] == MAX_QUANTITY
    assert all("maximum" in str(vehicle[name]) for name in ("shift_end", "speed", "fixed_cost", "max_distance"))


def test_planar_matrix_entries_are_bounded():
    payload = planar_payload(2, 1)
    payload["travel"] = {"time_matrix": [[0.0, 1.0, 1.0], [1.0, 0.0, 1e9], [1.0, 1.0, 0.0]]}
    with pytest.raises(RoutingRequestError, match=r"travel.time_matrix\[1\]\[2\]"):
        RouteRequest.parse(payload)


def _extreme_payload(seed: int) -> dict:
    """A small planar request with values at the far end of the limits: far windows, open shifts, big loads."""
    rng = random.Random(seed)
    payload = planar_payload(rng.randint(1, 5), rng.randint(1, 2), seed, options={"allow_dropping": True})
    payload["options"]["time_limit"] = 0.3
    for stop in payload["stops"]:
        if rng.random() < 0.4:
            stop["time_windows"][0]["end"] = rng.choice([MAX_TIME, MAX_TIME / 3, 5_000.0])
        stop["demand"]["load"] = rng.choice([stop["demand"]["load"], 0.001, 19.999])
    if rng.random() < 0.5:
        payload["depots"][0].pop("closes")
        for vehicle in payload["vehicles"]:
            vehicle.pop("shift_end")
    for vehicle in payload["vehicles"]:
        vehicle["capacity"]["load"] = rng.choice([20.0, MAX_QUANTITY])
    return payload


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6))
def test_plans_near_the_limits_verify_and_give_true_reasons(seed: int):
    request = RouteRequest.parse(_extreme_payload(seed))
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok
    for unserved in plan.unserved:
        s = next(i for i, stop in enumerate(request.stops) if stop.id == unserved.stop_id)
        alone = any(_route_feasible(request, v, [s]) is not None for v in range(len(request.vehicles)))
        if alone:  # servable on its own: never blamed on its own limits, nor on a plan that has no routes
            assert not unserved.reason.startswith(UNSERVABLE_ALONE), unserved.reason
            assert plan.routes or "left out on purpose" in unserved.reason, unserved.reason
    served = {v.stop_id for r in plan.routes for v in r.visits}
    for s, stop in enumerate(request.stops):
        if all(_route_feasible(request, v, [s]) is None for v in range(len(request.vehicles))):
            assert stop.id not in served



def test_a_far_window_end_does_not_coarsen_the_time_scale():
    from optimization.routing.explain import unservable_reasons
    from optimization.routing.model import compile_model
    from optimization.routing.travel import build_matrices

    request = RouteRequest.parse(_example(MAX_TIME))
    matrices = build_matrices(request)
    reasons = unservable_reasons(request, matrices)
    model = compile_model(request, matrices, [s for s in range(len(request.stops)) if s not in reasons])
    assert model.time_scale == 1000.0  # every vehicle is back by 17:00: nothing after that needs a number
    assert model.horizon <= 1021 * 1000
