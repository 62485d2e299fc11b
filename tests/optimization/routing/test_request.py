"""Request validation: every bad input of the issue raises ``RoutingRequestError`` naming the item and field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from optimization.routing import MAX_TIME_LIMIT_S, RouteRequest, RoutingRequestError
from shopml.errors import ShopmlError
from tests.optimization.routing.conftest import planar_payload

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "routes_request.json"


def _broken(change) -> dict:
    payload = copy.deepcopy(planar_payload(3, 2))
    change(payload)
    return payload


def _set(path: list, value):
    def change(payload):
        node = payload
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: p["stops"].append(dict(p["stops"][0])), "duplicate stop id 's0'"),
        (lambda p: p["vehicles"].append(dict(p["vehicles"][1])), "duplicate vehicle id 'v1'"),
        (lambda p: p["depots"].append(dict(p["depots"][0])), "duplicate depot id 'd'"),
        (_set(["vehicles", 1, "start_depot"], "nowhere"), "vehicle 'v1': unknown depot 'nowhere'"),
        (_set(["vehicles", 0, "end_depot"], "nowhere"), "vehicle 'v0': unknown depot 'nowhere'"),
        (_set(["vehicles"], []), "vehicles: the request has no vehicles"),
        (_set(["stops", 1, "location", "x"], float("nan")), "stops[1] 's1'.location.x"),
        (_set(["stops", 2, "location"], {"lat": 95.0, "lon": 10.0}), "stops[2] 's2'.location.lat"),
        (_set(["stops", 2, "location"], {"lat": 45.0, "lon": -190.0}), "stops[2] 's2'.location.lon"),
        (_set(["stops", 0, "location"], {"x": 1.0}), "give either lat and lon, or x and y"),
        (_set(["stops", 0, "location"], {"lat": 45.0, "lon": 7.0}), "locations mix lat/lon and x/y"),
        (
            _set(["stops", 1, "time_windows"], [{"start": 100.0, "end": 50.0}]),
            "stops[1] 's1'.time_windows[0]: window end 50.0 precedes its start 100.0",
        ),
        (
            _set(["stops", 1, "time_windows"], [{"start": 10.0, "end": 50.0}, {"start": 40.0, "end": 60.0}]),
            "stops[1] 's1'.time_windows: time windows",
        ),
        (_set(["stops", 0, "demand"], {"load": -1.0}), "stops[0] 's0'.demand.load"),
        (_set(["stops", 0, "demand"], {"volume": 1.0}), "stop 's0': demand dimension(s) ['volume']"),
        (_set(["vehicles", 1, "capacity"], {"kg": 5.0}), "vehicle 'v1': capacity dimensions"),
        (_set(["vehicles", 0, "shift_start"], 500.0), "vehicle 'v0': shift_end precedes shift_start"),
        (_set(["depots", 0, "opens"], 400.0), "depot 'd': closes before it opens"),
        (
            _set(["travel"], {"distance_matrix": [[0.0, 1.0], [1.0, 0.0]]}),
            "travel.distance_matrix: shape 2 x [2]",
        ),
        (
            _set(
                ["travel"], {"time_matrix": [[0.0 if i == j else -1.0 for j in range(4)] for i in range(4)]}
            ),
            "travel.time_matrix[0][1]: Input should be greater than or equal to 0",
        ),
        (_set(["options", "time_limit"], 0), "options.time_limit"),
        (_set(["options", "time_limit"], MAX_TIME_LIMIT_S + 1), "options.time_limit"),
        (_set(["options", "objective"], "speed"), "options.objective"),
        (_set(["options", "colour"], "red"), "options.colour"),
        (_set(["warm_start"], {"v9": ["s0"]}), "warm_start: unknown vehicle 'v9'"),
        (_set(["warm_start"], {"v0": ["s0", "s7"]}), "warm_start['v0']: unknown stop 's7'"),
        (_set(["warm_start"], {"v0": ["s0"], "v1": ["s0"]}), "warm_start: stop 's0' appears twice"),
    ],
)
def test_bad_requests_name_the_item(change, expected: str):
    with pytest.raises(RoutingRequestError) as caught:
        RouteRequest.parse(_broken(change))
    assert expected in str(caught.value)
    assert isinstance(caught.value, ShopmlError)


def test_plan_routes_reports_request_mistakes_as_shopml_errors():
    from optimization.routing import plan_routes

    with pytest.raises(RoutingRequestError, match="vehicles: the request has no vehicles"):
        plan_routes(_broken(_set(["vehicles"], [])))


def test_the_documented_example_round_trips_through_json():
    payload = json.loads(EXAMPLE.read_text())
    request = RouteRequest.parse(payload)
    again = RouteRequest.parse(json.loads(request.model_dump_json()))
    assert again == request
    assert request.is_geographic and len(request.dimensions) == 2


def test_windows_are_sorted_and_defaults_filled():
    payload = planar_payload(1, 1)
    payload["stops"][0]["time_windows"] = [{"start": 200, "end": 210}, {"start": 10, "end": 20}]
    request = RouteRequest.parse(payload)
    assert [w.start for w in request.stops[0].time_windows] == [10, 200]
    assert request.vehicles[0].end == "d"
    assert request.speed_of(request.vehicles[0]) == 1.0


ROAD_BASE = {
    "depots": [{"id": "hub", "location": {"lat": 52.5, "lon": 13.4}}],
    "stops": [{"id": "a", "location": {"lat": 52.51, "lon": 13.41}}],
    "vehicles": [{"id": "van", "start_depot": "hub"}],
}


def test_an_osrm_table_answer_is_read_into_minutes_and_km():
    osrm = {
        "code": "Ok",
        "durations": [[0, 600], [660, 0]],
        "distances": [[0, 5000], [5200, 0]],
        "sources": [{"location": [13.4, 52.5]}, {"location": [13.41, 52.51]}],
    }
    request = RouteRequest.parse({**ROAD_BASE, "travel": {"road_table": osrm}})
    assert request.travel.time_matrix == [[0.0, 10.0], [11.0, 0.0]]  # asymmetric: one-way streets
    assert request.travel.distance_matrix == [[0.0, 5.0], [5.2, 0.0]]
    # a round trip through the plan model keeps the matrices (the table itself is not kept twice)
    assert RouteRequest.parse(request.model_dump(mode="json")).travel == request.travel


def test_a_valhalla_answer_is_read_too():
    valhalla = {
        "sources_to_targets": [
            [{"from_index": 0, "to_index": 0, "time": 0, "distance": 0}, {"time": 600, "distance": 3.0}],
            [{"time": 660, "distance": 3.2}, {"time": 0, "distance": 0}],
        ],
        "units": "miles",
    }
    request = RouteRequest.parse({**ROAD_BASE, "travel": {"road_table": valhalla}})
    assert request.travel.time_matrix == [[0.0, 10.0], [11.0, 0.0]]
    assert request.travel.distance_matrix[0][1] == pytest.approx(3.0 * 1.609344)


@pytest.mark.parametrize(
    ("travel", "message"),
    [
        ({"road_table": {"durations": [[0, None], [660, 0]]}}, r"road_table.durations\[0\]\[1\] is null"),
        ({"road_table": {"durations": [[0, -1], [660, 0]]}}, r"road_table.durations\[0\]\[1\]: Input should be"),
        ({"road_table": {"durations": [[0, 1, 2], [3, 0, 4]]}}, r"travel.time_matrix: shape 2 x \[3\]"),
        (
            {"road_table": {"durations": [[0, 1], [1, 0]]}, "time_matrix": [[0, 1], [1, 0]]},
            "either a road_table or distance_matrix/time_matrix",
        ),
        ({"time_matrix": [[0, 1], [-1, 0]]}, r"time_matrix\[1\]\[0\]: Input should be greater than or equal to 0"),
    ],
)
def test_bad_road_tables_and_matrices_name_the_entry(travel, message):
    with pytest.raises(RoutingRequestError, match=message):
        RouteRequest.parse({**ROAD_BASE, "travel": travel})
