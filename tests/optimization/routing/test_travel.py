"""Travel matrices and the integer model: great-circle distances, speeds, and conservative rounding."""

from __future__ import annotations

import numpy as np
import pytest

from optimization.routing import RouteRequest
from optimization.routing.model import compile_model
from optimization.routing.travel import build_matrices
from shopml.geo import haversine_km
from tests.optimization.routing.conftest import planar_request


def test_great_circle_matches_a_known_distance():
    # Berlin - Paris, about 878 km along the great circle
    lat, lon = np.array([52.5200, 48.8566]), np.array([13.4050, 2.3522])
    km = haversine_km(lat, lon, lat, lon)
    assert km[0, 1] == pytest.approx(878, abs=3)
    assert km[0, 0] == 0 and km[0, 1] == km[1, 0]


def test_geographic_times_use_each_vehicles_speed_and_the_road_factor():
    payload = {
        "depots": [{"id": "hub", "location": {"lat": 52.52, "lon": 13.405}}],
        "stops": [{"id": "a", "location": {"lat": 52.50, "lon": 13.30}}],
        "vehicles": [
            {"id": "bike", "start_depot": "hub", "speed": 15},
            {"id": "van", "start_depot": "hub", "speed": 30},
            {"id": "van2", "start_depot": "hub", "speed": 30},
        ],
        "travel": {"road_factor": 1.5},
    }
    matrices = build_matrices(RouteRequest.parse(payload))
    crow = haversine_km([52.52], [13.405], [52.50], [13.30])[0, 0]
    assert matrices.distance[0, 1] == pytest.approx(1.5 * crow)
    assert len(matrices.times) == 2 and matrices.vehicle_time == [0, 1, 1]
    assert matrices.time_of(0)[0, 1] == pytest.approx(2 * matrices.time_of(1)[0, 1])
    assert matrices.time_of(1)[0, 1] == pytest.approx(matrices.distance[0, 1] / 30 * 60)  # minutes


def test_integer_model_is_never_looser_than_the_real_one():
    request = planar_request(10, 2, seed=5)
    matrices = build_matrices(request)
    model = compile_model(request, matrices, list(range(10)))
    scale = model.time_scale
    real = matrices.times[0][np.ix_(model.location_of, model.location_of)]
    service = np.array([0.0] + [s.service_time for s in request.stops])
    scaled = np.asarray(model.times[0])
    assert np.all(scaled >= (real + service[:, None]) * scale - 1e-6)  # travel + service rounded up
    assert np.all(scaled <= (real + service[:, None]) * scale + 1)
    for node in model.stop_nodes:
        (start, end), window = model.windows[node][0], request.stops[node - 1].time_windows[0]
        assert start >= window.start * scale - 1e-6 and end <= window.end * scale + 1e-6
    # capacities rounded down, demands up: a load that fits in integers fits in real numbers
    demand_scale = model.capacities[0][0] / request.vehicles[0].capacity["load"]
    for node in model.stop_nodes:
        assert model.demands[0][node] >= request.stops[node - 1].demand["load"] * demand_scale - 1e-9
    assert all(
        c <= v.capacity["load"] * demand_scale
        for c, v in zip(model.capacities[0], request.vehicles, strict=True)
    )
