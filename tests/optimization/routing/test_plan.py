"""The plan object: schedules, JSON view, text summary and plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimization.routing import RoutePlan, RouteRequest, plan_routes
from optimization.routing.plan import format_time


@pytest.fixture(scope="module")
def solved() -> tuple[RouteRequest, RoutePlan]:
    from tests.optimization.routing.conftest import planar_payload

    payload = planar_payload(8, 3, seed=3, capacity=25.0)
    payload["stops"].append({"id": "heavy", "location": {"x": 1.0, "y": 1.0}, "demand": {"load": 99.0}})
    request = RouteRequest.parse(payload)
    return request, plan_routes(request)


def test_schedule_is_consistent_and_waits_only_for_windows(solved):
    request, plan = solved
    windows = {s.id: s.time_windows for s in request.stops}
    for route in plan.routes:
        assert route.departure <= route.visits[0].arrival <= route.visits[-1].departure <= route.return_time
        assert route.duration == pytest.approx(route.return_time - route.departure)
        for visit in route.visits:
            assert visit.waiting >= -1e-9
            assert visit.start == pytest.approx(visit.arrival + visit.waiting)
            if visit.waiting > 1e-9:  # waiting means the vehicle came before the window opened
                assert visit.start == pytest.approx(windows[visit.stop_id][0].start)
        # each vehicle leaves as late as it can: starting earlier would only add waiting somewhere
        assert route.visits[0].waiting == pytest.approx(0.0, abs=1e-6) or route.departure == 0.0
        assert route.load == route.visits[-1].load


def test_to_dict_is_json_with_totals(solved):
    _, plan = solved
    data = json.loads(plan.to_json())
    assert data["feasible"] is True and data["complete"] is False
    assert data["totals"]["vehicles"] == len(data["routes"]) == plan.vehicles_used
    assert data["totals"]["stops_served"] + data["totals"]["stops_unserved"] == 9
    assert data["totals"]["distance"] == pytest.approx(sum(r["distance"] for r in data["routes"]))
    assert data["unserved"] == [
        {"stop_id": "heavy", "reason": "demand 99 load exceeds every vehicle's capacity 25"}
    ]
    first = data["routes"][0]["visits"][0]
    assert set(first) == {
        "stop_id", "arrival", "waiting", "start", "departure", "load", "latest_arrival", "slack", "on_board"
    }
    assert first["on_board"] is None  # no pickups in this request


def _on_time_with_delay(request: RouteRequest, route, k: int, delay: float) -> bool:
    """Brute force: re-simulate the route with the vehicle ``delay`` late at visit ``k``; every later service
    must start in its window and the vehicle be back by its shift end."""
    from optimization.routing.travel import build_matrices

    matrices = build_matrices(request)
    v = next(i for i, x in enumerate(request.vehicles) if x.id == route.vehicle_id)
    time = matrices.time_of(v)
    n_depots = len(request.depots)
    stops = {s.id: (n_depots + i, s) for i, s in enumerate(request.stops)}
    clock = route.visits[k].arrival + delay
    for j in range(k, len(route.visits)):
        node, stop = stops[route.visits[j].stop_id]
        if j > k:
            previous, before = stops[route.visits[j - 1].stop_id]
            clock += before.service_time + time[previous, node]
        window = next((w for w in stop.time_windows if clock <= w.end + 1e-9), None)
        if stop.time_windows and window is None:
            return False
        clock = max(clock, window.start) if window else clock
    last, stop = stops[route.visits[-1].stop_id]
    back = clock + stop.service_time + time[last, 0]
    return back <= request.vehicles[v].shift_end + 1e-9


def test_latest_arrival_is_the_largest_delay_every_later_stop_absorbs(solved):
    request, plan = solved
    for route in plan.routes:
        for k, visit in enumerate(route.visits):
            assert visit.slack is not None and visit.slack >= -1e-9
            assert visit.latest_arrival == pytest.approx(visit.arrival + visit.slack)
            # brute force around the reported slack: just inside works, just beyond breaks something
            assert _on_time_with_delay(request, route, k, visit.slack - 1e-6)
            assert not _on_time_with_delay(request, route, k, visit.slack + 1e-3)


def test_summary_lists_routes_totals_and_reasons(solved):
    _, plan = solved
    text = plan.summary()
    # "heavy" cannot be served and dropping is not allowed: incomplete, yet feasible
    assert text.startswith("status incomplete, feasible True")
    for route in plan.routes:
        assert route.vehicle_id in text
    assert f"{plan.vehicles_used} vehicles" in text and "heavy: demand 99" in text
    detailed = plan.summary(stops=True)
    assert all(v.stop_id in detailed for r in plan.routes for v in r.visits)
    assert len(detailed.splitlines()) == len(text.splitlines()) + sum(len(r.visits) for r in plan.routes)


def test_clock_times():
    assert format_time(615.4, clock=True) == "10:15"
    assert format_time(1441, clock=True) == "00:01+1d"
    assert format_time(12.345) == "12.3"


def test_plot_writes_a_png(solved, tmp_path: Path):
    request, plan = solved
    target = tmp_path / "routes.png"
    fig = plan.plot(request, target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes[0].lines) == plan.vehicles_used
