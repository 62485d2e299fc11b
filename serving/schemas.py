"""Request and response bodies of every endpoint, with the limits of :mod:`serving.limits`.

Every request model forbids unknown fields (a typo is a 400 naming the field, not a silently ignored option)
and bounds every string, list and number, so that one request stays cheap and no input can reach a 5xx.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from experiments.assignment import AssignmentSpec
from optimization.allocation.options import AllocationOptions
from optimization.allocation.request import (
    DemandIn,
    RegionIn,
    SkuCostIn,
    StockIn,
    WarehouseIn,
)
from optimization.routing.request import Depot, Options, Stop, Travel, Vehicle
from serving import limits

Id = Annotated[str, Field(min_length=1, max_length=limits.MAX_ID_LENGTH)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Category = Annotated[str, Field(min_length=1, max_length=100)]
Price = Annotated[float, Field(ge=0, le=limits.MAX_PRICE, allow_inf_nan=False)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HotRequest(Request):
    """A storefront request: strict types, so ``"5"`` or ``true`` for a number is refused, not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- storefront ------------------------------------------------------------------------------------------------


class RecommendRequest(HotRequest):
    """Top-k items for a customer; an unknown or missing customer gets the recommender's fallback list.

    With a ``session_id`` (or, without one, a ``customer_id``) that sent events to ``POST /v1/events``, the list
    is blended with items similar to the session's recent events; the rules file and the request's filters apply.
    """

    customer_id: Id | None = Field(None, description="None (a guest) or an unknown id gets popular items.")
    session_id: Id | None = Field(None, description="The shopper's session (events sent with the same id shape "
                                  "the list); without it, the customer's own events do.")
    k: int = Field(10, ge=1, le=limits.MAX_K, strict=True)
    exclude: list[Id] = Field(default_factory=list, max_length=limits.MAX_EXCLUDE, description="SKUs to leave out.")
    country: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="The shopper's country or region (fallback lists and stock); default: the customer's.")
    include_purchased: bool = Field(False, strict=True)
    categories: list[Category] | None = Field(None, min_length=1, max_length=limits.MAX_FILTER_CATEGORIES,
                                              description="Only items of these categories.")
    min_price: Price | None = Field(None, description="Only items at this list price or above.")
    max_price: Price | None = Field(None, description="Only items at this list price or below.")


class Item(Response):
    sku: str
    score: float | None
    source: str


class RecommendResponse(Response):
    customer_id: str | None
    known_customer: bool
    items: list[Item]
    model_version: str
    session_events: int = Field(0, description="Recent events of the session that shaped the list.")
    rules_applied: list[str] = Field(default_factory=list,
                                     description="Rules that removed, moved or added an item of this answer.")
    experiment: str | None = Field(None, description="The recommender A/B test this answer was served under, if "
                                   "any (docs/recommend.md).")
    variant: str | None = Field(None, description="The test's variant of the shopper (the same shopper always "
                                "gets the same one); None outside a test.")


EventKind = Literal["view", "add_to_cart", "purchase"]


class Event(HotRequest):
    """One storefront event: who (a customer id, an anonymous session id, or both), what, which SKU, when."""

    type: EventKind
    sku: Id
    customer_id: Id | None = None
    session_id: Id | None = Field(None, description="An anonymous shopper's session (a cookie id, for example).")
    at: datetime | None = Field(None, description="When it happened (ISO 8601; no zone means UTC); default: now. "
                                "At most 7 days old and 5 minutes ahead.")

    @model_validator(mode="after")
    def _someone(self) -> Event:
        if self.customer_id is None and self.session_id is None:
            raise ValueError("give a customer_id or a session_id (or both)")
        return self

    @field_validator("at")
    @classmethod
    def _recent(cls, at: datetime | None) -> datetime | None:
        if at is None:
            return None
        try:
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("not a time this service can place; send ISO 8601 in UTC") from None
        now = datetime.now(UTC)
        if at < now - timedelta(seconds=limits.MAX_EVENT_AGE_S):
            raise ValueError(f"more than {limits.MAX_EVENT_AGE_S // 86_400} days old; send events as they happen")
        if at > now + timedelta(seconds=limits.MAX_EVENT_SKEW_S):
            raise ValueError(f"more than {limits.MAX_EVENT_SKEW_S} s in the future; check the client's clock")
        return at


class EventsRequest(HotRequest):
    """Storefront events, oldest first, kept per session for the recent window and appended to the event log."""

    events: list[Event] = Field(..., min_length=1, max_length=limits.MAX_EVENTS_PER_REQUEST)


class EventsResponse(Response):
    accepted: int
    unknown_skus: list[str] = Field(description="SKUs the recommender and the products table do not know (kept "
                                    "and logged, but they shape no list until they are known).")


class SimilarItemsRequest(HotRequest):
    """Items bought with ``sku``; an unknown SKU gets the recommender's fallback (popular items)."""

    sku: Id
    k: int = Field(10, ge=1, le=limits.MAX_K, strict=True)
    exclude: list[Id] = Field(default_factory=list, max_length=limits.MAX_EXCLUDE)


class SimilarItemsResponse(Response):
    sku: str
    known_item: bool
    items: list[Item]
    model_version: str
    rules_applied: list[str] = Field(default_factory=list,
                                     description="Rules that removed, moved or added an item of this answer.")


class AssignRequest(HotRequest):
    """The variant a unit sees in an experiment (deterministic hash of experiment, salt and unit)."""

    spec: AssignmentSpec
    unit_id: Id


class AssignResponse(Response):
    experiment: str
    unit_id: str
    variant: str | None
    reason: str
    bucket: float


# --- marketing -------------------------------------------------------------------------------------------------


class CustomerScoreRequest(HotRequest):
    customer_ids: list[Id] = Field(..., min_length=1, max_length=limits.MAX_SCORE_CUSTOMERS)


class CustomerScore(Response):
    customer_id: str
    churn_probability: float
    predicted_value: float
    p_alive: float
    expected_orders: float
    segment: str


class CustomerScoreResponse(Response):
    as_of: str = Field(description="Cutoff of the feature table the scores were computed from.")
    model_versions: dict[str, str]
    customers: list[CustomerScore]
    unknown: list[str] = Field(description="Ids without a row in the feature table (no purchase before as_of).")


class AudienceRequest(Request):
    """Customers matching every given filter, by predicted value (highest first), one page or a CSV file."""

    segments: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        None, max_length=50, description="Any of new, active, at_risk, lapsed, high_value, reactivated.")
    min_value: Finite | None = Field(None, description="Smallest predicted value.")
    min_churn_probability: float | None = Field(None, ge=0, le=1)
    max_churn_probability: float | None = Field(None, ge=0, le=1)
    min_p_alive: float | None = Field(None, ge=0, le=1)
    top_n: int | None = Field(None, ge=1, le=limits.MAX_AUDIENCE_FILE, description="Keep the best N only.")
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(100, ge=1, le=limits.MAX_AUDIENCE_PAGE)
    format: Literal["json", "csv"] = Field("json", description="csv returns every match (up to top_n) as a file.")

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, segments: list[str] | None) -> list[str] | None:
        """A misspelled segment is an error naming the choices, not an empty audience."""
        from shopml.errors import ShopmlError
        from training.customers.segments import check_segment

        if segments is None:
            return None
        try:
            return [check_segment(name) for name in segments]
        except ShopmlError as exc:
            raise ValueError(str(exc)) from None


class AudienceResponse(Response):
    as_of: str
    model_versions: dict[str, str]
    total: int
    page: int
    page_size: int
    customers: list[CustomerScore]


class SizeRequest(Request):
    """Sample size for ``plan.mde``, or the detectable effect for ``total_units`` when it is given."""

    plan: dict[str, Any] = Field(..., description="An experiments.PlanRequest (see docs/experiments.md).")
    total_units: int | None = Field(None, ge=4, le=10**12)


# --- logistics -------------------------------------------------------------------------------------------------


class ForecastRequest(Request):
    skus: list[Id] | None = Field(None, min_length=1, max_length=limits.MAX_FORECAST_SKUS, description="None: all.")
    regions: list[Id] | None = Field(None, min_length=1, max_length=limits.MAX_FORECAST_REGIONS)
    horizon: int = Field(8, ge=1, le=limits.MAX_FORECAST_HORIZON,
                         description="Periods ahead, at most the champion's own horizon (the error names it).")
    quantiles: list[Annotated[float, Field(gt=0, lt=1)]] = Field([0.1, 0.5, 0.9], min_length=1, max_length=9)


class ForecastRow(Response):
    sku: str
    region: str
    period_start: str
    horizon: int
    quantiles: dict[str, float | None]


class ForecastResponse(Response):
    freq: str
    model_version: str
    rows: list[ForecastRow]
    unknown_skus: list[str] = Field(default_factory=list,
                                    description="Requested SKUs the model has no history for (not forecast).")


class RouteOptions(Options):
    """:class:`optimization.routing.Options` with the service's bounds on solver time, workers and seed."""

    time_limit: float = Field(5.0, gt=0, le=limits.MAX_TASK_TIME_LIMIT_S, allow_inf_nan=False, description="Seconds.")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    workers: int = Field(1, ge=1, le=2, description="Solver processes (the machine has two cores).")
    default_penalty: float = Field(1e5, gt=0, le=1e12, allow_inf_nan=False)


class RoutePlanRequest(Request):
    """A route request (see docs/routing.md) with the service's limits on its size and solver time."""

    depots: list[Depot] = Field(..., min_length=1, max_length=50)
    stops: list[Stop] = Field(default_factory=list, max_length=limits.MAX_STOPS)
    vehicles: list[Vehicle] = Field(..., min_length=1, max_length=limits.MAX_VEHICLES)
    travel: Travel = Field(default_factory=Travel)
    options: RouteOptions = Field(default_factory=RouteOptions)
    warm_start: dict[Id, list[Id]] | None = None


class StockAllocateRequest(Request):
    """An allocation request (see docs/allocation.md) with the service's limits on table sizes and solver time."""

    warehouses: list[WarehouseIn] = Field(..., min_length=1, max_length=500)
    regions: list[RegionIn] = Field(..., min_length=1, max_length=1000)
    stock: list[StockIn] = Field(default_factory=list, max_length=limits.MAX_ALLOCATION_ROWS)
    demand: list[DemandIn] = Field(..., min_length=1, max_length=limits.MAX_ALLOCATION_ROWS)
    skus: list[SkuCostIn] = Field(default_factory=list, max_length=limits.MAX_ALLOCATION_ROWS)
    shipping_cost: dict[str, dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]]] | None = None
    transfer_cost: dict[str, dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]]] | None = None
    options: AllocationOptions = Field(default_factory=AllocationOptions)


class ModelInfo(Response):
    name: str
    loaded: bool
    version: str | None
    source: str | None = Field(description="registry, local-copy (registry unreachable) or None.")
    loaded_at: str | None
    note: str | None


class ModelsResponse(Response):
    models: list[ModelInfo]
    features_as_of: str | None
    ready: bool
