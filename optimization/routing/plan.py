"""The plan returned to the planner: routes with their schedule and loads, unserved stops and why, totals.

Schedules are recomputed in real numbers from the routes (the engine only decides the order): each vehicle
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
    """One stop on a route: when the vehicle arrives, waits, serves and leaves, and its load afterwards.

    ``arrival`` is the estimated time of arrival. ``latest_arrival`` is the latest the vehicle may arrive
    here with this stop and every later one still served in its window and the vehicle back before its shift
    ends (or its depot closes, or its maximum duration runs out); ``slack = latest_arrival - arrival`` is the
    delay the route can absorb at this stop (both ``None`` when nothing limits it). Dispatchers can promise
    ``[arrival, latest_arrival]``. ``load`` counts what the route has delivered from the depot so far;
    ``on_board`` (set when the request has pickups) is what the vehicle carries when it leaves the stop.
    """

    stop_id: str
    arrival: float
    waiting: float
    start: float
    departure: float
    load: dict[str, float]
    latest_arrival: float | None = None
    slack: float | None = None
    on_board: dict[str, float] | None = None


@dataclass(frozen=True)
class TakenBreak:
    """A driver break in the plan: ``start`` to ``end``, in leg ``leg`` (leg ``k`` leads to visit ``k``,
    leg ``len(visits)`` back to the end depot), or ``None`` when it is before the route leaves or after it is
    back. In a leg the vehicle breaks while driving (the next arrival is later by the break) or, when the break
    starts after it has arrived, on site before the service (counted in that visit's waiting)."""

    start: float
    end: float
    leg: int | None


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
    breaks: list[TakenBreak] = field(default_factory=list)
    start_load: dict[str, float] | None = None
    """On board when leaving the depot (every depot delivery of the first trip); set when there are pickups."""
    reloads: list[int] = field(default_factory=list)
    """Several trips: before visit k, for each k listed, the vehicle goes back to its start depot and reloads
    (``load`` and ``on_board`` start again with the next trip's deliveries)."""

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
    engine: str = "ortools"

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
            "engine": self.engine,
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
            f"status {self.status}, feasible {self.feasible}, engine {self.engine}, {self.seconds:.1f}s",
            head,
            "-" * len(head),
        ]
        for r in self.routes:
            lines.append(
                f"{r.vehicle_id:<12}{len(r.visits):>6}{r.distance:>11.2f}{r.duration:>11.2f}{r.cost:>11.2f}"
                f"  {when(r.departure):>8}{when(r.return_time):>9}"
            )
            if stops:
                for b in r.breaks:
                    where = "outside the route" if b.leg is None else f"in leg {b.leg}"
                    lines.append(f"  break {when(b.start)} - {when(b.end)} ({where})")
                for k, v in enumerate(r.visits, 1):
                    load = ", ".join(f"{x:g} {d}" for d, x in v.load.items())
                    latest = "-" if v.latest_arrival is None else when(v.latest_arrival)
                    lines.append(
                        f"  {k:>3}. {v.stop_id:<14} arrive {when(v.arrival):>8} (latest {latest:>8}) "
                        f"wait {v.waiting:>6.1f} serve {when(v.start):>8} leave {when(v.departure):>8}  "
                        f"carrying {load}"
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


Forward = tuple[list[float], list[float], float, "TakenBreak | None"]


def _forward_with_break(
    request: RouteRequest, vehicle: int, path: list[int], time, service: list[float], windows, depart: float,
    option: int,
) -> Forward | None:
    """The schedule leaving at ``depart`` with the break before leaving (``option`` -1), in leg ``option``
    (0..n), or after coming back (n + 1); ``None`` when a window, the break window or the shift is missed."""
    v = request.vehicles[vehicle]
    pause = v.breaks[0]
    a, b, d = pause.start, pause.end, pause.duration
    n = len(path) - 2
    taken = None
    if option == -1:
        if depart < a + d - 1e-9:
            return None
        taken = TakenBreak(float(a), float(a + d), None)
    arrivals: list[float] = []
    starts: list[float] = []
    clock, back = depart, depart
    for k in range(1, len(path)):
        leave = clock + service[k - 1]
        arrival = leave + time[path[k - 1], path[k]]
        ready = arrival
        if option == k - 1:
            begin = max(leave, a)
            if begin + d > b + 1e-9:
                return None
            ready = max(arrival, begin) + d
            arrival = ready if begin < arrival else arrival  # breaks while driving, or on site
            taken = TakenBreak(float(begin), float(begin + d), k - 1)
        if k == len(path) - 1:
            back = ready
            break
        arrivals.append(arrival)
        clock = ready
        ws = windows(k)
        if ws:
            window = next((w for w in ws if ready <= w.end + 1e-9), None)
            if window is None:
                return None
            clock = max(ready, window.start)
        starts.append(clock)
    if option == n + 1:
        begin = max(back, a)
        if begin + d > b + 1e-9:
            return None
        taken = TakenBreak(float(begin), float(begin + d), None)
    end_depot = next(x for x in request.depots if x.id == v.end)
    limits = [x for x in (v.shift_end, end_depot.closes) if x is not None]
    if limits and back > min(limits) + 1e-9:
        return None
    return arrivals, starts, back, taken


def _schedule_with_break(request: RouteRequest, vehicle: int, path: list[int], time, service, windows):
    """The schedule of a vehicle with a break. Each placement (before leaving, in a leg, after coming back)
    is scheduled leaving as early as it may, then as late as it can without returning later (bisection: for
    a fixed placement the return only grows with the departure); the placement kept keeps ``max_duration``,
    then returns earliest, then is shortest."""
    v = request.vehicles[vehicle]
    depots = {d.id: d for d in request.depots}
    start = depots[v.start_depot]
    earliest = max(v.shift_start, start.opens)
    n = len(path) - 2

    def run(depart: float, option: int) -> Forward | None:
        return _forward_with_break(request, vehicle, path, time, service, windows, depart, option)

    best = None
    for option in (n + 1, -1, *range(n + 1)):
        low = max(earliest, v.breaks[0].start + v.breaks[0].duration) if option == -1 else earliest
        if start.closes is not None and low > start.closes + 1e-9:
            continue
        found = run(low, option)
        if found is None:
            continue
        back = found[2]
        high = min(back, start.closes if start.closes is not None else back)
        for _ in range(60):
            if high - low <= 1e-9:
                break
            middle = (low + high) / 2
            trial = run(middle, option)
            if trial is not None and trial[2] <= back + 1e-9:
                low, found = middle, trial
            else:
                high = middle
        duration = found[2] - low
        too_long = v.max_duration is not None and duration > v.max_duration + 1e-9
        key = (too_long, round(found[2], 9), duration)
        if best is None or key < best[0]:
            best = (key, found, low)
    if best is None:  # the engines never return such a route: schedule it without the break and let the
        arrivals, starts, clock = [], [], earliest  # verifier say what is wrong
        for k in range(1, n + 1):
            clock += service[k - 1] + time[path[k - 1], path[k]]
            arrivals.append(clock)
            ws = windows(k)
            clock = max(clock, ws[0].start) if ws else clock
            starts.append(clock)
        return arrivals, starts, clock + service[-1] + time[path[-2], path[-1]], None, earliest
    _, (arrivals, starts, back, taken), depart = best
    return arrivals, starts, back, taken, depart


def _latest_arrivals(
    request: RouteRequest,
    vehicle: int,
    path: list[int],
    time,
    service: list[float],
    members: list[int | None],
    starts: list[float],
    arrivals: list[float],
    depart: float,
    taken: TakenBreak | None = None,
) -> list[float]:
    """Per path position between the depots (a visit or a reload), the latest arrival that keeps it and
    every later one on time and the return too: backwards, ``L_k = min(end of the window its service
    starts in, L_k+1 - service - travel)`` (a reload's window: the depot's closing time), less the break (and
    no later than its window allows) in the leg that holds it. Computed on the time the vehicle is ready at a
    stop; a visit preceded by a break on site may be reached a break earlier."""
    v = request.vehicles[vehicle]
    depots = {d.id: d for d in request.depots}
    end_depot, start_depot = depots[v.end], depots[v.start_depot]
    limits = [x for x in (v.shift_end, end_depot.closes) if x is not None]
    if v.max_duration is not None:
        limits.append(depart + v.max_duration)
    latest = min(limits, default=math.inf)
    pause = v.breaks[0] if v.breaks else None
    n = len(starts)
    if taken is not None and taken.leg is None and pause is not None and taken.start >= depart:
        latest = min(latest, pause.end - pause.duration)  # the break after coming back must still fit
    out = [0.0] * n
    for k in range(n, 0, -1):
        latest = latest - time[path[k], path[k + 1]] - service[k]
        if taken is not None and pause is not None and taken.leg == k:
            latest = min(latest - pause.duration, pause.end - pause.duration - service[k])
        member = members[k]
        if member is None:
            window_end = math.inf if start_depot.closes is None else start_depot.closes
        else:
            stop = request.stops[member]
            window = next((w for w in stop.time_windows if w.start - 1e-9 <= starts[k - 1] <= w.end + 1e-9), None)
            window_end = math.inf if window is None else window.end
        latest = min(latest, window_end)
        out[k - 1] = latest
    if taken is not None and pause is not None and taken.leg is not None and taken.leg < n:
        k = taken.leg
        if taken.start >= arrivals[k] - 1e-12 and arrivals[k] < taken.end:  # on site: the break follows arrival
            out[k] -= pause.duration
    return out


def format_time(t: float, clock: bool = False) -> str:
    """``t`` as ``HH:MM`` minutes from midnight (``+1d`` past it) when ``clock``, else with one decimal."""
    if not clock:
        return f"{t:.1f}"
    minutes = round(t)
    days, minutes = divmod(minutes, 24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}" + (f"+{days}d" if days else "")


@dataclass(frozen=True)
class _Hours:
    """A depot's opening hours as a window (a reload's service may start when it opens)."""

    start: float
    end: float


def schedule_route(
    request: RouteRequest, matrices: TravelMatrices, vehicle: int, stops: list[int], reloads: list[int] | None = None
) -> Route:
    """Times, loads, distance and cost of serving ``stops`` (request positions) in order with ``vehicle``;
    ``reloads`` lists the k before whose stop the vehicle goes back to its start depot to reload."""
    v = request.vehicles[vehicle]
    depot_pos = {d.id: i for i, d in enumerate(request.depots)}
    start_depot, end_depot = request.depots[depot_pos[v.start_depot]], request.depots[depot_pos[v.end]]
    n_depots = len(request.depots)
    reload_at = set(reloads or ())
    path, members = [depot_pos[v.start_depot]], [None]  # members: the request stop at each path position
    for i, s in enumerate(stops):
        if i in reload_at:
            path.append(depot_pos[v.start_depot])
            members.append(None)
        path.append(n_depots + s)
        members.append(s)
    path.append(depot_pos[v.end])
    members.append(None)
    time, dist = matrices.time_of(vehicle), matrices.distance
    service = [0.0, *(0.0 if m is None else request.stops[m].service_time for m in members[1:-1])]
    hours = [_Hours(start_depot.opens, math.inf if start_depot.closes is None else start_depot.closes)]

    def windows(k: int):
        member = members[k]
        return hours if member is None else (request.stops[member].time_windows or None)

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
    taken: TakenBreak | None = None
    if v.breaks:
        arrivals, starts, back, taken, depart = _schedule_with_break(request, vehicle, path, time, service, windows)
    else:
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

    latest = _latest_arrivals(request, vehicle, path, time, service, members, starts, arrivals, depart, taken)
    dims = request.dimensions
    with_pickups = any(st.pickup for st in request.stops)
    pair_of = {st.delivery_stop: st for st in request.stops if st.delivery_stop is not None}
    trips: list[list[int]] = [[]]
    for member in members[1:-1]:
        if member is None:
            trips.append([])
        else:
            trips[-1].append(member)
    trip_loads = [{d: sum(request.stops[s].demand.get(d, 0.0) for s in trip) for d in dims} for trip in trips]
    start_load = trip_loads[0]
    load = {d: 0.0 for d in dims}
    carried = dict(start_load)
    visits = []
    trip = 0
    for k in range(1, len(path) - 1):
        if members[k] is None:  # a reload: the next trip's deliveries come on board
            trip += 1
            load, carried = {d: 0.0 for d in dims}, dict(trip_loads[trip])
            continue
        stop = request.stops[members[k]]
        for d in dims:
            load[d] += stop.demand.get(d, 0.0)
            dropped = pair_of[stop.id].pickup.get(d, 0.0) if stop.id in pair_of else 0.0
            carried[d] += stop.pickup.get(d, 0.0) - stop.demand.get(d, 0.0) - dropped
        at = k - 1
        visits.append(
            Visit(
                stop_id=stop.id,
                arrival=float(arrivals[at]),
                waiting=float(starts[at] - arrivals[at]),
                start=float(starts[at]),
                departure=float(starts[at] + stop.service_time),
                load=dict(load),
                latest_arrival=None if math.isinf(latest[at]) else float(latest[at]),
                slack=None if math.isinf(latest[at]) else float(latest[at] - arrivals[at]),
                on_board=dict(carried) if with_pickups else None,
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
        breaks=[] if taken is None else [taken],
        start_load=start_load if with_pickups else None,
        reloads=sorted(reload_at & set(range(1, len(stops)))),
    )
