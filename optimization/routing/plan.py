"""The plan returned to the planner: routes with their schedule and loads, unserved stops and why, totals.

Schedules are recomputed in real numbers from the routes (OR-Tools only decides the order): each vehicle
leaves as late as it can without finishing later than its earliest possible return, so waiting at the first
stop is not counted as driver time. :func:`optimization.routing.verify_plan` checks every number here again.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from optimization.routing.request import RouteRequest
from optimization.routing.travel import TravelMatrices


@dataclass(frozen=True)
class Visit:
    """One stop on a route: when the vehicle arrives, waits, serves and leaves, and its load afterwards."""

    stop_id: str
    arrival: float
    waiting: float
    start: float
    departure: float
    load: dict[str, float]


@dataclass(frozen=True)
class Route:
    """A vehicle's day: depot departure, visits in order, return, and what it costs."""

    vehicle_id: str
    start_depot: str
    end_depot: str
    departure: float
    visits: list[Visit]
    return_time: float
    distance: float
    duration: float
    cost: float
    load: dict[str, float]

    @property
    def stop_ids(self) -> list[str]:
        return [v.stop_id for v in self.visits]


@dataclass(frozen=True)
class Unserved:
    """A stop left out of the plan, with the reason in words."""

    stop_id: str
    reason: str


@dataclass
class RoutePlan:
    """Routes, unserved stops, totals, solver status and the verifier's verdict.

    ``feasible`` is true only when the independent verifier found no violation; ``complete`` when every
    stop is served. ``status`` is ``solved``, ``incomplete`` (stops left out although dropping was not
    allowed) or ``no_solution`` (nothing found in the time limit). :func:`~optimization.routing.plan_routes`
    never returns a plan that fails the verifier (it raises :class:`~shopml.errors.VerificationError`), so
    ``violations`` is empty on every plan it returns; it is filled only on plans built by hand.
    """

    routes: list[Route]
    unserved: list[Unserved]
    status: str
    objective: str
    seconds: float
    violations: list[str] = field(default_factory=list)
    solver_log: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations and self.status in {"solved", "incomplete"}

    @property
    def complete(self) -> bool:
        return not self.unserved

    @property
    def vehicles_used(self) -> int:
        return len(self.routes)

    @property
    def distance(self) -> float:
        return sum(r.distance for r in self.routes)

    @property
    def duration(self) -> float:
        return sum(r.duration for r in self.routes)

    @property
    def cost(self) -> float:
        return sum(r.cost for r in self.routes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view, with totals."""
        return {
            "status": self.status,
            "feasible": self.feasible,
            "complete": self.complete,
            "objective": self.objective,
            "seconds": round(self.seconds, 3),
            "totals": {
                "vehicles": self.vehicles_used,
                "stops_served": sum(len(r.visits) for r in self.routes),
                "stops_unserved": len(self.unserved),
                "distance": self.distance,
                "duration": self.duration,
                "cost": self.cost,
            },
            "routes": [asdict(r) for r in self.routes],
            "unserved": [asdict(u) for u in self.unserved],
            "violations": list(self.violations),
            "solver_log": list(self.solver_log),
        }

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text)
        return text

    def summary(self, clock: bool = False, stops: bool = False) -> str:
        """A plain-text table: one line per route, totals, then unserved stops with reasons.

        ``clock`` shows times as ``HH:MM`` (minutes from midnight, the geographic convention); ``stops`` adds
        one line per visit (arrival, waiting, start of service, departure, load).
        """

        def when(t: float) -> str:
            return format_time(t, clock)

        head = f"{'vehicle':<12}{'stops':>6}{'distance':>11}{'duration':>11}{'cost':>11}  {'leaves':>8}{'returns':>9}"
        lines = [
            f"status {self.status}, feasible {self.feasible}, {self.seconds:.1f}s",
            head,
            "-" * len(head),
        ]
        for r in self.routes:
            lines.append(
                f"{r.vehicle_id:<12}{len(r.visits):>6}{r.distance:>11.2f}{r.duration:>11.2f}{r.cost:>11.2f}"
                f"  {when(r.departure):>8}{when(r.return_time):>9}"
            )
            if stops:
                for k, v in enumerate(r.visits, 1):
                    load = ", ".join(f"{x:g} {d}" for d, x in v.load.items())
                    lines.append(
                        f"  {k:>3}. {v.stop_id:<14} arrive {when(v.arrival):>8} wait {v.waiting:>6.1f} "
                        f"serve {when(v.start):>8} leave {when(v.departure):>8}  carrying {load}"
                    )
        lines.append("-" * len(head))
        served = sum(len(r.visits) for r in self.routes)
        lines.append(
            f"{'total':<12}{served:>6}{self.distance:>11.2f}{self.duration:>11.2f}{self.cost:>11.2f}"
            f"  {self.vehicles_used} vehicles"
        )
        if self.unserved:
            lines.append(f"{len(self.unserved)} unserved:")
            lines += [f"  {u.stop_id}: {u.reason}" for u in self.unserved]
        if self.violations:
            lines.append(f"{len(self.violations)} violations:")
            lines += [f"  {v}" for v in self.violations]
        return "\n".join(lines)

    def plot(self, request: RouteRequest, path: str | Path | None = None):
        """Draw depots, routes (one colour each) and unserved stops; save a PNG when ``path`` is given."""
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        def xy(location) -> tuple[float, float]:
            return (location.lon, location.lat) if location.is_geographic else (location.x, location.y)

        depots = {d.id: xy(d.location) for d in request.depots}
        stops = {s.id: xy(s.location) for s in request.stops}
        fig, ax = plt.subplots(figsize=(8, 8))
        cmap = plt.get_cmap("tab20")
        for k, route in enumerate(self.routes):
            points = [depots[route.start_depot], *(stops[s] for s in route.stop_ids), depots[route.end_depot]]
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, "-o", color=cmap(k % 20), markersize=3, linewidth=1, label=route.vehicle_id)
        if self.unserved:
            ux, uy = zip(*(stops[u.stop_id] for u in self.unserved), strict=True)
            ax.scatter(ux, uy, marker="x", color="black", label="unserved", zorder=3)
        dx, dy = zip(*depots.values(), strict=True)
        ax.scatter(dx, dy, marker="s", s=80, color="red", label="depot", zorder=4)
        if (
            request.is_geographic
        ):  # a degree of longitude is shorter than one of latitude away from the equator
            mean_lat = sum(y for _, y in [*depots.values(), *stops.values()]) / (len(depots) + len(stops))
            ax.set_aspect(1.0 / max(0.1, math.cos(math.radians(mean_lat))))
            ax.set_xlabel("longitude")
            ax.set_ylabel("latitude")
        else:
            ax.set_aspect("equal")
        unit = " km" if request.is_geographic else ""
        ax.set_title(
            f"{self.vehicles_used} routes, distance {self.distance:.1f}{unit}, {len(self.unserved)} unserved"
        )
        if len(self.routes) <= 20:
            ax.legend(fontsize=7, loc="best")
        if path is not None:
            fig.savefig(path, dpi=120, bbox_inches="tight")
            plt.close(fig)
        return fig


def format_time(t: float, clock: bool = False) -> str:
    """``t`` as ``HH:MM`` minutes from midnight (``+1d`` past it) when ``clock``, else with one decimal."""
    if not clock:
        return f"{t:.1f}"
    minutes = round(t)
    days, minutes = divmod(minutes, 24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}" + (f"+{days}d" if days else "")


def schedule_route(request: RouteRequest, matrices: TravelMatrices, vehicle: int, stops: list[int]) -> Route:
    """Times, loads, distance and cost of serving ``stops`` (request positions) in order with ``vehicle``."""
    v = request.vehicles[vehicle]
    depot_pos = {d.id: i for i, d in enumerate(request.depots)}
    start_depot, end_depot = request.depots[depot_pos[v.start_depot]], request.depots[depot_pos[v.end]]
    n_depots = len(request.depots)
    path = [depot_pos[v.start_depot], *(n_depots + s for s in stops), depot_pos[v.end]]
    time, dist = matrices.time_of(vehicle), matrices.distance
    service = [0.0, *(request.stops[s].service_time for s in stops)]

    def windows(k: int):
        return request.stops[stops[k - 1]].time_windows or None

    def forward(depart: float) -> tuple[list[float], list[float], float]:
        arrivals, starts, clock = [], [], depart
        for k in range(1, len(path) - 1):
            clock += time[path[k - 1], path[k]] + service[k - 1]
            arrivals.append(clock)
            ws = windows(k)
            if ws:
                window = next((w for w in ws if clock <= w.end + 1e-9), ws[-1])
                clock = max(clock, window.start)
            starts.append(clock)
        back = clock + service[-1] + time[path[-2], path[-1]] if len(path) > 2 else depart
        return arrivals, starts, back

    earliest = max(v.shift_start, start_depot.opens)
    _, _, earliest_back = forward(earliest)
    # latest departure that still returns at earliest_back: walk backwards through the windows
    latest = earliest_back - time[path[-2], path[-1]] - service[-1]
    for k in range(len(path) - 2, 0, -1):
        ws = windows(k)
        if ws:
            fitting = [w for w in ws if w.start <= latest + 1e-9]
            latest = min(latest, fitting[-1].end) if fitting else latest
        latest = latest - time[path[k - 1], path[k]] - service[k - 1]
    depart = max(earliest, latest) if len(path) > 2 else earliest
    arrivals, starts, back = forward(depart)
    if back > earliest_back + 1e-6:  # numerical safety: never return later than the earliest schedule
        depart = earliest
        arrivals, starts, back = forward(depart)

    dims = request.dimensions
    load = {d: 0.0 for d in dims}
    visits = []
    for k, s in enumerate(stops):
        stop = request.stops[s]
        for d in dims:
            load[d] += stop.demand.get(d, 0.0)
        visits.append(
            Visit(
                stop_id=stop.id,
                arrival=float(arrivals[k]),
                waiting=float(starts[k] - arrivals[k]),
                start=float(starts[k]),
                departure=float(starts[k] + stop.service_time),
                load=dict(load),
            )
        )
    distance = float(sum(dist[a, b] for a, b in zip(path, path[1:], strict=False))) if stops else 0.0
    duration = float(back - depart)
    cost = v.fixed_cost + v.cost_per_distance * distance + v.cost_per_time * duration
    return Route(
        vehicle_id=v.id,
        start_depot=start_depot.id,
        end_depot=end_depot.id,
        departure=float(depart),
        visits=visits,
        return_time=float(back),
        distance=distance,
        duration=duration,
        cost=float(cost),
        load=dict(load),
    )
