"""The Solomon / Gehring-Homberger reader and best-known tables; one real instance solved and verified."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimization.routing import (
    Objective,
    RoutingRequestError,
    plan_routes,
    read_best_known,
    read_solomon,
    verify_plan,
)

TINY = """TINY

VEHICLE
NUMBER     CAPACITY
  2         10

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0       100          0
    1      3          4          5          0        50          2
    2      6          8          5         10        60          2
    3      0          5          4          0        90          1
"""


def test_reader_follows_the_benchmark_conventions(tmp_path: Path):
    path = tmp_path / "TINY.txt"
    path.write_text(TINY)
    request = read_solomon(path, time_limit=0.5, workers=1)
    assert [s.id for s in request.stops] == ["1", "2", "3"]
    assert len(request.vehicles) == 2 and request.vehicles[0].capacity == {"load": 10.0}
    assert request.vehicles[0].shift_end == 100 and request.depots[0].closes == 100
    assert request.stops[1].time_windows[0].start == 10 and request.stops[1].service_time == 2
    assert request.options.objective is Objective.VEHICLES and not request.options.allow_dropping
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok and plan.complete
    assert plan.vehicles_used == 2  # 14 units of demand, capacity 10
    # unrounded Euclidean distances: 0-1 is exactly 5
    assert min(r.distance for r in plan.routes) >= 10.0 - 1e-9


def test_reader_rejects_other_files(tmp_path: Path):
    path = tmp_path / "bad.txt"
    path.write_text("hello\nworld\n")
    with pytest.raises(RoutingRequestError, match="not a Solomon-format file"):
        read_solomon(path)
    path.write_text(
        TINY.replace("    3      0          5          4          0        90          1", "3 0 5")
    )
    with pytest.raises(RoutingRequestError, match="7 numbers"):
        read_solomon(path)


@pytest.mark.shared_data
def test_best_known_tables_of_both_sets(shared_data: Path):
    solomon = read_best_known(shared_data / "solomon" / "best_known_solutions.csv")
    homberger = read_best_known(shared_data / "homberger" / "best_known_solutions.csv")
    assert solomon["C101"].vehicles == 10 and solomon["C101"].distance == pytest.approx(828.94)
    assert homberger["rc1_2_1"].vehicles == 18 and homberger["rc1_2_1"].distance == pytest.approx(3602.8039)
    assert set(solomon) == {p.stem for p in (shared_data / "solomon").glob("*.txt")}
    assert set(homberger) == {p.stem for p in (shared_data / "homberger").glob("*.txt")}


@pytest.mark.slow
@pytest.mark.shared_data
def test_c101_is_solved_feasibly_with_the_best_known_fleet(shared_data: Path):
    request = read_solomon(shared_data / "solomon" / "C101.txt", time_limit=3.0, workers=1)
    assert len(request.stops) == 100
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok and plan.complete and plan.feasible
    assert plan.vehicles_used <= 11
    assert plan.distance <= 828.94 * 1.10
