"""The route-planning request: depots, stops, vehicles, travel data and solver options.

Everything a planner sends is validated here, at the boundary, so that the solver can trust its input. A
mistake raises :class:`RoutingRequestError` naming the item and the fix. Stops that are valid but cannot be
served (demand above every capacity, a window no vehicle can reach) are *not* errors: the plan lists them as
unserved with a reason.

Units: times are in minutes from the start of the planning day for geographic requests (``lat``/``lon``,
distances in km, vehicle ``speed`` in km/h), and in the instance's own units for planar requests (``x``/``y``,
``speed`` in distance units per time unit, 1.0 by default, as in the Solomon benchmarks).

Limits: every number has a domain bound (the ``MAX_*`` constants below) enforced by the schema, so the OpenAPI
document shows it and NaN or infinities never get in. The bounds are far beyond any shop's day, and they keep
:mod:`optimization.routing.model`'s integer scaling exact: times up to :data:`MAX_TIME` scaled by 1,000 stay
below its 10**9 per-value budget with room for the route lengths added on top.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shopml.errors import ShopmlError

MAX_TIME_LIMIT_S = 3600.0
"""Longest solver time limit a request may ask for (one hour)."""
MAX_TIME = 100_000.0
"""Latest time and longest duration anywhere in a request: 69 days in minutes (geographic), 29 times the
longest Solomon horizon (3,390) in planar units. Windows, shifts, depot hours, service times, route durations
and time-matrix entries all stay within it; scaled by 1,000 it uses a tenth of the integer model's budget."""
MAX_COORDINATE = 100_000.0
"""Largest absolute planar ``x``/``y`` (the benchmarks stay within a few hundred)."""
MAX_DISTANCE = 1_000_000.0
"""Longest distance (matrix entry, vehicle ``max_distance``): 25 times around the Earth in km."""
MIN_SPEED, MAX_SPEED = 0.1, 1_000.0
"""Vehicle speeds, km/h for geographic requests (walking is 5, a motorway 130) or units per time unit."""
MAX_QUANTITY = 1_000_000.0
"""Largest demand or capacity in one dimension (a thousand tonnes in kg)."""
MAX_COST = 1_000_000.0
"""Largest fixed cost of a vehicle and largest cost per unit of distance or time."""
MAX_PENALTY = 1e12
"""Largest cost of leaving a stop unserved; the integer model caps penalties above any plan's cost anyway."""
MAX_SEED = 2**31 - 1
"""OR-Tools takes 32-bit seeds."""
MAX_FLEET_SHARE = 0.9
"""Largest share of the search time for fleet minimisation: the rest shortens the fleet-minimal plan."""

DEFAULT_PLANAR_SPEED = 1.0
DEFAULT_SPEED_KMH = 30.0


class RoutingRequestError(ShopmlError):
    """A route request breaks its contract; the message names the item and the fix.

    Not a ``ValueError`` on purpose: pydantic would wrap it, and callers would lose the type.
    """


Quantity = Annotated[float, Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]
Skill = Annotated[str, Field(min_length=1, max_length=100)]
MatrixDistance = Annotated[float, Field(ge=0, le=MAX_DISTANCE, allow_inf_nan=False)]
MatrixTime = Annotated[float, Field(ge=0, le=MAX_TIME, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Model):
    """A point: either ``lat``/``lon`` in degrees or planar ``x``/``y`` (benchmarks, own coordinates)."""

    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    x: float | None = Field(None, ge=-MAX_COORDINATE, le=MAX_COORDINATE, allow_inf_nan=False)
    y: float | None = Field(None, ge=-MAX_COORDINATE, le=MAX_COORDINATE, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        geo = self.lat is not None and self.lon is not None
        planar = self.x is not None and self.y is not None
        if geo == planar:
            raise ValueError("give either lat and lon, or x and y (not both, not half of a pair)")
        return self

    @property
    def is_geographic(self) -> bool:
        return self.lat is not None


class TimeWindow(_Model):
    """Service may start at any time in ``[start, end]`` (arriving early means waiting)."""

    start: float = Field(..., ge=0, le=MAX_TIME, allow_inf_nan=False)
    end: float = Field(..., ge=0, le=MAX_TIME, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"window end {self.end} precedes its start {self.start}; swap or fix them")
        return self


class Depot(_Model):
    """Where vehicles start and end; ``opens``/``closes`` bound every departure and return."""

    id: str = Field(..., min_length=1)
    location: Location
    opens: float = Field(0.0, ge=0, le=MAX_TIME, allow_inf_nan=False)
    closes: float | None = Field(None, ge=0, le=MAX_TIME, allow_inf_nan=False)


class Stop(_Model):
    """A delivery: where, how much (per capacity dimension), when, how long, and how much it matters."""

    id: str = Field(..., min_length=1)
    location: Location
    demand: dict[str, Quantity] = Field(default_factory=dict)
    time_windows: list[TimeWindow] = Field(default_factory=list, description="Empty means any time.")
    service_time: float = Field(0.0, ge=0, le=MAX_TIME, allow_inf_nan=False)
    penalty: float | None = Field(
        None,
        gt=0,
        le=MAX_PENALTY,
        allow_inf_nan=False,
        description="Cost of leaving it unserved; default from the options.",
    )
    pickup: dict[str, Quantity] = Field(
        default_factory=dict,
        description="Collected here (per dimension): carried back to the end depot (returns, empties), or to "
        "the delivery_stop.",
    )
    delivery_stop: str | None = Field(
        None,
        description="Makes this stop the pickup of a pair: its pickup is delivered at that stop, by the same "
        "vehicle, later on the route.",
    )
    required_skills: list[Skill] = Field(
        default_factory=list, description="Every one must be among the serving vehicle's skills."
    )
    allowed_vehicles: list[str] | None = Field(
        None, min_length=1, description="Only these vehicles may serve it (none: any vehicle with the skills)."
    )

    def accepts(self, vehicle: Vehicle) -> bool:
        """Whether ``vehicle`` may serve this stop: it has every required skill and is allowed."""
        allowed = self.allowed_vehicles is None or vehicle.id in self.allowed_vehicles
        return allowed and set(self.required_skills) <= set(vehicle.skills)

    @field_validator("time_windows")
    @classmethod
    def _sorted_disjoint(cls, windows: list[TimeWindow]) -> list[TimeWindow]:
        ordered = sorted(windows, key=lambda w: w.start)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.start <= before.end:
                raise ValueError(f"time windows {before} and {after} overlap; merge them into one")
        return ordered


class Break(_Model):
    """A driver break of ``duration`` taken wholly inside ``[start, end]``.

    It is taken between two services (the vehicle stands; driving resumes after it, so the next arrival is
    later by the break), or before the route leaves the depot, or after it is back; never during a service.
    """

    start: float = Field(..., ge=0, le=MAX_TIME, allow_inf_nan=False, description="Earliest start of the break.")
    end: float = Field(..., ge=0, le=MAX_TIME, allow_inf_nan=False, description="Latest end of the break.")
    duration: float = Field(..., gt=0, le=MAX_TIME, allow_inf_nan=False)

    @model_validator(mode="after")
    def _fits(self) -> Self:
        if self.end - self.start < self.duration:
            raise ValueError(
                f"break window [{self.start:g}, {self.end:g}] is shorter than its duration {self.duration:g}; "
                f"widen the window or shorten the break"
            )
        return self


class Vehicle(_Model):
    """A vehicle and its driver's shift; limits left empty are unbounded."""

    id: str = Field(..., min_length=1)
    start_depot: str
    end_depot: str | None = Field(None, description="Defaults to the start depot.")
    capacity: dict[str, Quantity] = Field(default_factory=dict)
    shift_start: float = Field(0.0, ge=0, le=MAX_TIME, allow_inf_nan=False)
    shift_end: float | None = Field(None, ge=0, le=MAX_TIME, allow_inf_nan=False)
    fixed_cost: float = Field(0.0, ge=0, le=MAX_COST, allow_inf_nan=False)
    cost_per_distance: float = Field(1.0, ge=0, le=MAX_COST, allow_inf_nan=False)
    cost_per_time: float = Field(0.0, ge=0, le=MAX_COST, allow_inf_nan=False)
    max_duration: float | None = Field(None, gt=0, le=MAX_TIME, allow_inf_nan=False)
    max_distance: float | None = Field(None, gt=0, le=MAX_DISTANCE, allow_inf_nan=False)
    speed: float | None = Field(
        None, ge=MIN_SPEED, le=MAX_SPEED, allow_inf_nan=False, description="km/h (geo) or units per time."
    )
    skills: list[Skill] = Field(
        default_factory=list, description="What it offers: refrigerated, tail-lift, small (size classes), ..."
    )
    breaks: list[Break] = Field(
        default_factory=list, max_length=1, description="The driver's break (at most one per vehicle for now)."
    )
    max_trips: int = Field(
        1, ge=1, le=50, description="Trips in the shift, reloading at the start depot between them (PyVRP)."
    )
    fixed_stops: list[str] = Field(
        default_factory=list,
        description="Re-planning: stops this vehicle is committed to, served first and in this order; the "
        "rest of its route is planned after them.",
    )

    @property
    def end(self) -> str:
        return self.end_depot or self.start_depot


SECONDS_PER_MINUTE = 60.0
METRES_PER_KM = 1000.0
METRES_PER_MILE = 1609.344


class RoadTable(BaseModel):
    """A road routing engine's travel table, pasted as it comes: depots then stops, in request order.

    OSRM's ``table`` service (``/table/v1/driving/...?annotations=duration,distance``) answers
    ``{"code": "Ok", "durations": [[s, ...]], "distances": [[m, ...]], "sources": [...], ...}``: durations in
    seconds, distances in metres; other keys are ignored. Valhalla's ``sources_to_targets`` answer
    (``{"sources_to_targets": [[{"from_index", "to_index", "time", "distance"}, ...]], "units": ...}``, time in
    seconds, distance in kilometres or miles) is read into the same two arrays. Both may be asymmetric.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    durations: list[list[Annotated[float, Field(ge=0, le=MAX_TIME * SECONDS_PER_MINUTE, allow_inf_nan=False)] | None]]
    distances: (
        list[list[Annotated[float, Field(ge=0, le=MAX_DISTANCE * METRES_PER_KM, allow_inf_nan=False)] | None]]
        | None
    ) = None

    @model_validator(mode="before")
    @classmethod
    def _from_valhalla(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "sources_to_targets" not in data:
            return data
        rows = data["sources_to_targets"]
        unit = METRES_PER_MILE if str(data.get("units", "kilometers")).startswith("mi") else METRES_PER_KM
        try:
            durations = [[cell.get("time") for cell in row] for row in rows]
            distances = [
                [None if cell.get("distance") is None else cell["distance"] * unit for cell in row] for row in rows
            ]
        except (AttributeError, TypeError) as exc:
            raise ValueError(f"sources_to_targets must be rows of objects with time and distance ({exc})") from exc
        return {"durations": durations, "distances": distances}

    def matrices(self) -> tuple[list[list[float]] | None, list[list[float]]]:
        """(distances in km or ``None``, durations in minutes); a missing (null) entry is an error naming it."""
        for name, table in (("durations", self.durations), ("distances", self.distances)):
            for i, row in enumerate(table or []):
                for j, value in enumerate(row):
                    if value is None and i != j:
                        raise ValueError(
                            f"road_table.{name}[{i}][{j}] is null: the routing engine found no road from location "
                            f"{i} to {j} (depots then stops, in request order); fix or remove that location"
                        )
        minutes = [[(x or 0.0) / SECONDS_PER_MINUTE for x in row] for row in self.durations]
        km = None if self.distances is None else [[(x or 0.0) / METRES_PER_KM for x in row] for row in self.distances]
        return km, minutes


class Travel(_Model):
    """How distances and times are obtained.

    By default distances are great-circle (or Euclidean for ``x``/``y``) times ``road_factor`` and times are
    distance over the vehicle's speed. A user matrix is indexed by the depots, then the stops, in request order;
    matrices may be asymmetric (one-way streets). A ``road_table`` (a routing engine's answer, see
    :class:`RoadTable`) is read into ``time_matrix`` (minutes) and, when it has distances, ``distance_matrix``
    (km) at the boundary.
    """

    road_factor: float = Field(
        1.3, ge=1.0, le=5.0, allow_inf_nan=False, description="Applied to great-circle distances only."
    )
    distance_matrix: list[list[MatrixDistance]] | None = None
    time_matrix: list[list[MatrixTime]] | None = Field(None, description="Travel only; service time is added.")
    road_table: RoadTable | None = Field(
        None, description="An OSRM table or Valhalla sources_to_targets answer; read into the two matrices."
    )

    @model_validator(mode="before")
    @classmethod
    def _read_road_table(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("road_table") is None:
            return data
        if data.get("time_matrix") is not None or data.get("distance_matrix") is not None:
            raise ValueError("give either a road_table or distance_matrix/time_matrix, not both")
        table = data["road_table"]
        if not isinstance(table, RoadTable):
            try:
                table = RoadTable.model_validate(table)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in first["loc"])
                raise ValueError(f"road_table{where}: {first['msg']}") from None
        km, minutes = table.matrices()
        return {**data, "road_table": None, "time_matrix": minutes, "distance_matrix": km}


class Objective(StrEnum):
    """What the solver minimises; ``vehicles`` is the benchmark convention (fewest vehicles, then distance)."""

    DISTANCE = "distance"
    TIME = "time"
    COST = "cost"
    VEHICLES = "vehicles"


class Engine(StrEnum):
    """Which search engine plans: ``auto`` picks by the request's features (see docs/routing.md)."""

    AUTO = "auto"
    ORTOOLS = "ortools"
    PYVRP = "pyvrp"


class Options(_Model):
    """Solver options; the defaults suit a daily plan of a few hundred stops."""

    objective: Objective = Objective.COST
    engine: Engine = Field(
        Engine.AUTO, description="Search engine: auto (by the request's features), ortools or pyvrp."
    )
    time_limit: float = Field(10.0, gt=0, le=MAX_TIME_LIMIT_S, allow_inf_nan=False, description="Seconds.")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    workers: int = Field(2, ge=1, le=16, description="Solver processes run in parallel; the best plan wins.")
    fleet_share: float | None = Field(
        None,
        ge=0,
        le=MAX_FLEET_SHARE,
        allow_inf_nan=False,
        description=(
            "'vehicles' objective: share of the search time spent minimising the fleet (fewest vehicles) before "
            "the routes are shortened with that fleet; null: the engine's default (PyVRP 0.6, OR-Tools 0.65); "
            "0: no separate phase (one search, every vehicle priced above any distance)."
        ),
    )
    first_solution: Literal[
        "automatic", "parallel_cheapest_insertion", "path_cheapest_arc", "savings", "local_cheapest_insertion"
    ] = "automatic"
    local_search: Literal["guided_local_search", "simulated_annealing", "tabu_search", "greedy_descent"] = (
        "guided_local_search"
    )
    allow_dropping: bool = Field(True, description="Leave stops unserved when serving them costs more.")
    default_penalty: float = Field(
        1e5, gt=0, le=MAX_PENALTY, allow_inf_nan=False, description="Penalty of stops without one."
    )


class RouteRequest(_Model):
    """One day's routing problem, validated as a whole (ids, references, shapes, units)."""

    depots: list[Depot] = Field(..., min_length=1)
    stops: list[Stop] = Field(default_factory=list)
    vehicles: list[Vehicle]
    travel: Travel = Field(default_factory=Travel)
    options: Options = Field(default_factory=Options)
    warm_start: dict[str, list[str]] | None = Field(
        None, description="A previous plan: vehicle id -> ordered stop ids; used as the starting solution."
    )

    @classmethod
    def parse(cls, payload: RouteRequest | dict[str, Any]) -> RouteRequest:
        """Validate a JSON-like payload; every mistake becomes a :class:`RoutingRequestError`.

        Pydantic's field errors are rewritten to name the item by id (``stops[3] 'order-7'.time_windows.0``),
        so that a caller (CLI, service) gets one ``ShopmlError`` type with a message it can show as is.
        """
        if isinstance(payload, RouteRequest):
            return payload
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise RoutingRequestError(describe_validation_error(exc, payload)) from exc

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.vehicles:
            raise RoutingRequestError("vehicles: the request has no vehicles; add at least one")
        _unique("depot", (d.id for d in self.depots))
        _unique("stop", (s.id for s in self.stops))
        _unique("vehicle", (v.id for v in self.vehicles))
        depot_ids = {d.id for d in self.depots}
        kinds = {loc.is_geographic for loc in self.locations}
        if len(kinds) > 1:
            raise RoutingRequestError("locations mix lat/lon and x/y; use one kind for every depot and stop")
        dimensions = set(self.vehicles[0].capacity)
        for vehicle in self.vehicles:
            for depot in (vehicle.start_depot, vehicle.end):
                if depot not in depot_ids:
                    raise RoutingRequestError(f"vehicle {vehicle.id!r}: unknown depot {depot!r}")
            if set(vehicle.capacity) != dimensions:
                raise RoutingRequestError(
                    f"vehicle {vehicle.id!r}: capacity dimensions {sorted(vehicle.capacity)} differ from "
                    f"{sorted(dimensions)}; give every vehicle the same dimensions"
                )
            if vehicle.shift_end is not None and vehicle.shift_end < vehicle.shift_start:
                raise RoutingRequestError(f"vehicle {vehicle.id!r}: shift_end precedes shift_start")
            for k, pause in enumerate(vehicle.breaks):
                if vehicle.shift_end is not None and pause.duration > vehicle.shift_end - vehicle.shift_start:
                    raise RoutingRequestError(
                        f"vehicle {vehicle.id!r}: breaks[{k}] of {pause.duration:g} is longer than its shift "
                        f"[{vehicle.shift_start:g}, {vehicle.shift_end:g}]"
                    )
        vehicle_ids = {v.id for v in self.vehicles}
        _check_pairs(self.stops)
        _check_fixed(self.vehicles, self.stops)
        for stop in self.stops:
            for vehicle_id in stop.allowed_vehicles or []:
                if vehicle_id not in vehicle_ids:
                    raise RoutingRequestError(f"stop {stop.id!r}: allowed_vehicles names unknown vehicle {vehicle_id!r}")
            for field_name in ("demand", "pickup"):
                unknown = set(getattr(stop, field_name)) - dimensions
                if unknown:
                    raise RoutingRequestError(
                        f"stop {stop.id!r}: {field_name} dimension(s) {sorted(unknown)} not in the vehicles' "
                        f"capacity {sorted(dimensions)}"
                    )
        for depot in self.depots:
            if depot.closes is not None and depot.closes < depot.opens:
                raise RoutingRequestError(f"depot {depot.id!r}: closes before it opens")
        n = len(self.depots) + len(self.stops)
        for name in ("distance_matrix", "time_matrix"):
            _check_matrix(name, getattr(self.travel, name), n)
        if self.warm_start is not None:
            vehicle_ids = {v.id for v in self.vehicles}
            stop_ids = {s.id for s in self.stops}
            seen: set[str] = set()
            for vehicle_id, route in self.warm_start.items():
                if vehicle_id not in vehicle_ids:
                    raise RoutingRequestError(f"warm_start: unknown vehicle {vehicle_id!r}")
                for stop_id in route:
                    if stop_id not in stop_ids:
                        raise RoutingRequestError(f"warm_start[{vehicle_id!r}]: unknown stop {stop_id!r}")
                    if stop_id in seen:
                        raise RoutingRequestError(f"warm_start: stop {stop_id!r} appears twice")
                    seen.add(stop_id)
        return self

    @property
    def locations(self) -> list[Location]:
        """Depots then stops: the order of every matrix."""
        return [d.location for d in self.depots] + [s.location for s in self.stops]

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """Pickup-and-delivery pairs as (pickup, delivery) stop positions."""
        position = {s.id: i for i, s in enumerate(self.stops)}
        return [(i, position[s.delivery_stop]) for i, s in enumerate(self.stops) if s.delivery_stop is not None]

    @property
    def dimensions(self) -> list[str]:
        """Capacity dimension names, in the first vehicle's order."""
        return list(self.vehicles[0].capacity)

    @property
    def is_geographic(self) -> bool:
        return self.depots[0].location.is_geographic

    def speed_of(self, vehicle: Vehicle) -> float:
        """Speed in distance units per time unit (km per minute for geographic requests)."""
        if self.is_geographic:
            return (vehicle.speed or DEFAULT_SPEED_KMH) / 60.0
        return vehicle.speed or DEFAULT_PLANAR_SPEED


def _check_pairs(stops: list[Stop]) -> None:
    """Each pickup names an existing other stop as its delivery, each delivery belongs to one pickup, and the
    two stops of a pair carry only the pair's goods (the pickup's ``pickup``)."""
    by_id = {s.id: s for s in stops}
    delivered: dict[str, str] = {}
    for stop in stops:
        target = stop.delivery_stop
        if target is None:
            continue
        if target not in by_id:
            raise RoutingRequestError(
                f"stop {stop.id!r}: delivery_stop {target!r} is not a stop of the request; add the delivery"
            )
        if target == stop.id:
            raise RoutingRequestError(f"stop {stop.id!r}: delivery_stop names the stop itself")
        if target in delivered:
            raise RoutingRequestError(
                f"stop {target!r} is the delivery of both {delivered[target]!r} and {stop.id!r}; give each "
                f"pickup its own delivery stop"
            )
        delivery = by_id[target]
        if delivery.delivery_stop is not None:
            raise RoutingRequestError(f"stop {target!r}: a pair's delivery cannot be the pickup of another pair")
        if stop.demand or delivery.demand or delivery.pickup:
            raise RoutingRequestError(
                f"pair {stop.id!r} -> {target!r}: the two stops carry only the pair's goods (the pickup's "
                f"'pickup'); move other demand or pickups to stops of their own"
            )
        delivered[target] = stop.id


def _check_fixed(vehicles: list[Vehicle], stops: list[Stop]) -> None:
    """Fixed stops exist, are fixed once, may be served by their vehicle, and are not part of a pair."""
    by_id = {s.id: s for s in stops}
    paired = {s.id for s in stops if s.delivery_stop} | {s.delivery_stop for s in stops if s.delivery_stop}
    owner: dict[str, str] = {}
    for vehicle in vehicles:
        for stop_id in vehicle.fixed_stops:
            if stop_id not in by_id:
                raise RoutingRequestError(f"vehicle {vehicle.id!r}: fixed stop {stop_id!r} is not a stop of the request")
            if stop_id in owner:
                raise RoutingRequestError(
                    f"stop {stop_id!r} is fixed twice (vehicles {owner[stop_id]!r} and {vehicle.id!r})"
                )
            if stop_id in paired:
                raise RoutingRequestError(
                    f"vehicle {vehicle.id!r}: fixed stop {stop_id!r} belongs to a pickup-and-delivery pair; fixing "
                    f"pairs is not supported"
                )
            if not by_id[stop_id].accepts(vehicle):
                raise RoutingRequestError(
                    f"vehicle {vehicle.id!r}: fixed stop {stop_id!r} needs skills or vehicles it does not have"
                )
            owner[stop_id] = vehicle.id


def _unique(kind: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise RoutingRequestError(f"duplicate {kind} id {item!r}; ids must be unique")
        seen.add(item)


def _check_matrix(name: str, matrix: list[list[float]] | None, n: int) -> None:
    if matrix is None:
        return
    if len(matrix) != n or any(len(row) != n for row in matrix):
        shape = f"{len(matrix)} x {sorted({len(r) for r in matrix})}"
        raise RoutingRequestError(
            f"travel.{name}: shape {shape}, expected {n} x {n} (depots then stops, in request order)"
        )


def describe_validation_error(exc: ValidationError, payload: Any) -> str:
    """One line per problem (at most five), each naming the field path and, for list items, their id."""
    problems = []
    for error in exc.errors()[:5]:
        parts: list[str] = []
        node = payload
        for key in error["loc"]:
            if isinstance(key, int) and parts:
                item = node[key] if isinstance(node, list) and key < len(node) else None
                item_id = item.get("id") if isinstance(item, dict) else None
                parts[-1] += f"[{key}]" + (f" {item_id!r}" if item_id is not None else "")
            else:
                parts.append(str(key))
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                node = None
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{'.'.join(parts) or 'request'}: {message}")
    more = exc.error_count() - len(problems)
    return "invalid route request: " + "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
