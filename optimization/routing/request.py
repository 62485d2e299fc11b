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

DEFAULT_PLANAR_SPEED = 1.0
DEFAULT_SPEED_KMH = 30.0


class RoutingRequestError(ShopmlError):
    """A route request breaks its contract; the message names the item and the fix.

    Not a ``ValueError`` on purpose: pydantic would wrap it, and callers would lose the type.
    """


Quantity = Annotated[float, Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]
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

    @field_validator("time_windows")
    @classmethod
    def _sorted_disjoint(cls, windows: list[TimeWindow]) -> list[TimeWindow]:
        ordered = sorted(windows, key=lambda w: w.start)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.start <= before.end:
                raise ValueError(f"time windows {before} and {after} overlap; merge them into one")
        return ordered


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

    @property
    def end(self) -> str:
        return self.end_depot or self.start_depot


class Travel(_Model):
    """How distances and times are obtained.

    By default distances are great-circle (or Euclidean for ``x``/``y``) times ``road_factor`` and times are
    distance over the vehicle's speed. A user matrix is indexed by the depots, then the stops, in request order.
    """

    road_factor: float = Field(
        1.3, ge=1.0, le=5.0, allow_inf_nan=False, description="Applied to great-circle distances only."
    )
    distance_matrix: list[list[MatrixDistance]] | None = None
    time_matrix: list[list[MatrixTime]] | None = Field(None, description="Travel only; service time is added.")


class Objective(StrEnum):
    """What the solver minimises; ``vehicles`` is the benchmark convention (fewest vehicles, then distance)."""

    DISTANCE = "distance"
    TIME = "time"
    COST = "cost"
    VEHICLES = "vehicles"


class Options(_Model):
    """Solver options; the defaults suit a daily plan of a few hundred stops."""

    objective: Objective = Objective.COST
    time_limit: float = Field(10.0, gt=0, le=MAX_TIME_LIMIT_S, allow_inf_nan=False, description="Seconds.")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    workers: int = Field(2, ge=1, le=16, description="Solver processes run in parallel; the best plan wins.")
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
        for stop in self.stops:
            unknown = set(stop.demand) - dimensions
            if unknown:
                raise RoutingRequestError(
                    f"stop {stop.id!r}: demand dimension(s) {sorted(unknown)} not in the vehicles' capacity "
                    f"{sorted(dimensions)}"
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
