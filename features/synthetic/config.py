"""What the synthetic shop looks like: sizes, geography and the behaviour the models must recover.

:class:`ShopConfig` holds the sizes and the few knobs a user changes; the behavioural parameters are grouped in
:class:`CustomerBehaviour` and :class:`DemandShape` so that the top level stays short. Every dataclass is frozen
and validates its ranges on construction, raising :class:`ShopConfigError` with the parameter and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import pandas as pd

from shopml.errors import ShopmlError


class ShopConfigError(ShopmlError, ValueError):
    """A synthetic-shop parameter is out of range; the message names it and the valid range."""


def _check_range(
    name: str,
    value: float,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = ("(" if low_open else "[") + f"{low:g}", f"{high:g}" + (")" if high_open else "]")
        raise ShopConfigError(
            f"{name}={value!r} is out of range; use a number in {lo}, {hi}" + (f" ({hint})." if hint else ".")
        )


def check_int(name: str, value: int, low: int, high: int, *, hint: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ShopConfigError(
            f"{name}={value!r} is out of range; use an integer from {low:,} to {high:,}"
            + (f" ({hint})." if hint else ".")
        )


def _check_pair(name: str, value: tuple[float, float], low: float, high: float) -> None:
    if len(value) != 2 or not low <= value[0] <= value[1] <= high:
        raise ShopConfigError(
            f"{name}={value!r} must be a (low, high) pair with {low:g} <= low <= high <= {high:g}."
        )


@dataclass(frozen=True)
class Region:
    """A delivery region (a country in Online Retail): name as in ``orders.country``, centroid, order share."""

    name: str
    lat: float
    lon: float
    weight: float

    def __post_init__(self) -> None:
        if not self.name:
            raise ShopConfigError("Region.name is empty; give the region a name such as 'Germany'.")
        _check_range(f"Region({self.name!r}).lat", self.lat, -90.0, 90.0)
        _check_range(f"Region({self.name!r}).lon", self.lon, -180.0, 180.0)
        _check_range(f"Region({self.name!r}).weight", self.weight, 0.0, math.inf, low_open=True)


# Country names as spelled in UCI Online Retail, so that the regions table also serves the real data.
DEFAULT_REGIONS: tuple[Region, ...] = (
    Region("United Kingdom", 54.0, -2.0, 0.72),
    Region("Germany", 51.2, 10.4, 0.07),
    Region("France", 46.6, 2.2, 0.06),
    Region("EIRE", 53.4, -8.2, 0.05),
    Region("Spain", 40.4, -3.7, 0.03),
    Region("Netherlands", 52.1, 5.3, 0.03),
    Region("Belgium", 50.6, 4.6, 0.02),
    Region("Switzerland", 46.8, 8.2, 0.02),
)


@dataclass(frozen=True)
class CustomerBehaviour:
    """Buy-till-you-die and basket parameters, shared by all customers (the population priors).

    Parameters
    ----------
    rate_shape, rate_mean
        Purchase rate ``lambda ~ Gamma(rate_shape, rate_mean / rate_shape)`` in orders per average day.
    dropout_a, dropout_b
        Dropout probability ``p ~ Beta(dropout_a, dropout_b)``; after each purchase (the first included) the
        customer leaves for good with probability ``p``.
    spend_shape
        Spend scale ``s ~ Gamma(spend_shape, 1 / spend_shape)`` (mean 1); it multiplies the extra lines per
        order and extra units per line, so order value varies by customer but not with frequency.
    lines_per_order, units_per_line
        Means at ``s = 1``: ``lines = 1 + Poisson(s (lines_per_order - 1))``, same for units.
    taste_concentration
        Total Dirichlet concentration of a customer's category taste; small values give tastes focused on
        one to three categories, large values approach the global category mix.
    repeat_share
        Probability that a line repeats an item the customer bought in an earlier order.
    """

    rate_shape: float = 1.2
    rate_mean: float = 0.03
    dropout_a: float = 1.0
    dropout_b: float = 6.0
    spend_shape: float = 3.0
    lines_per_order: float = 4.0
    units_per_line: float = 2.0
    taste_concentration: float = 1.0
    repeat_share: float = 0.25

    def __post_init__(self) -> None:
        for name in (
            "rate_shape",
            "rate_mean",
            "dropout_a",
            "dropout_b",
            "spend_shape",
            "taste_concentration",
        ):
            _check_range(f"CustomerBehaviour.{name}", getattr(self, name), 0.0, math.inf, low_open=True)
        _check_range("CustomerBehaviour.lines_per_order", self.lines_per_order, 1.0, 100.0)
        _check_range("CustomerBehaviour.units_per_line", self.units_per_line, 1.0, 1000.0)
        _check_range("CustomerBehaviour.repeat_share", self.repeat_share, 0.0, 1.0, high_open=True)


@dataclass(frozen=True)
class DemandShape:
    """Calendar shape of demand: weekly and yearly seasonality, Christmas, category trends, popularity.

    Parameters
    ----------
    weekly
        Relative order intensity Monday..Sunday (rescaled to mean 1).
    yearly_amplitude, yearly_peak_day
        ``1 + amplitude * cos(2 pi (day_of_year - peak_day) / 365.25)``; the default peaks in late November
        like Online Retail's Christmas run-up.
    christmas_boost, christmas_peak_day, christmas_width
        An extra Gaussian bump (height, centre day of year, standard deviation in days) before Christmas.
    closed_factor
        Intensity multiplier on 24-26 December (the shop is nearly closed).
    trend_sd
        Per-category log trend per year ``beta_c ~ Normal(0, trend_sd)``; category weight ``exp(beta_c t)``.
    zipf_exponent
        Product popularity ``1 / rank ** zipf_exponent`` over a random ranking of all products.
    promo_discount, promo_uplift, promo_days, promo_category_share
        Ranges (low, high) of the price discount, the choice-weight uplift and the duration in days of a
        promotion, and the share of promotions that cover a whole category instead of one SKU.
    """

    weekly: tuple[float, ...] = (1.10, 1.10, 1.05, 1.10, 0.95, 0.75, 0.95)
    yearly_amplitude: float = 0.35
    yearly_peak_day: float = 325.0
    christmas_boost: float = 0.6
    christmas_peak_day: float = 340.0
    christmas_width: float = 12.0
    closed_factor: float = 0.2
    trend_sd: float = 0.2
    zipf_exponent: float = 1.0
    promo_discount: tuple[float, float] = (0.10, 0.30)
    promo_uplift: tuple[float, float] = (2.0, 4.0)
    promo_days: tuple[int, int] = (5, 14)
    promo_category_share: float = 0.25

    def __post_init__(self) -> None:
        if len(self.weekly) != 7 or min(self.weekly) <= 0:
            raise ShopConfigError(
                f"DemandShape.weekly={self.weekly!r} must hold 7 positive factors, Monday first."
            )
        _check_range("DemandShape.yearly_amplitude", self.yearly_amplitude, 0.0, 0.95)
        _check_range("DemandShape.yearly_peak_day", self.yearly_peak_day, 0.0, 366.0)
        _check_range("DemandShape.christmas_boost", self.christmas_boost, 0.0, 10.0)
        _check_range("DemandShape.christmas_peak_day", self.christmas_peak_day, 0.0, 366.0)
        _check_range("DemandShape.christmas_width", self.christmas_width, 0.0, 100.0, low_open=True)
        _check_range("DemandShape.closed_factor", self.closed_factor, 0.0, 1.0, low_open=True)
        _check_range("DemandShape.trend_sd", self.trend_sd, 0.0, 2.0)
        _check_range("DemandShape.zipf_exponent", self.zipf_exponent, 0.0, 3.0)
        _check_pair("DemandShape.promo_discount", self.promo_discount, 0.0, 0.9)
        _check_pair("DemandShape.promo_uplift", self.promo_uplift, 1.0, 100.0)
        _check_pair("DemandShape.promo_days", self.promo_days, 1, 365)
        _check_range("DemandShape.promo_category_share", self.promo_category_share, 0.0, 1.0)


@dataclass(frozen=True)
class ShopConfig:
    """Sizes and knobs of a synthetic shop; same config (and seed) gives identical tables.

    Parameters
    ----------
    customers
        Registered customers; each places a first order at arrival (1 to 10 million).
    products
        Products (SKUs), at least one per category.
    categories
        Product categories.
    start
        First day of the order history (``YYYY-MM-DD``).
    days
        Length of the history in days (7 to 3,650).
    regions
        Delivery regions with centroids and order shares; default: 8 European countries, UK-heavy.
    warehouses
        Warehouses, placed near the regions with the most orders.
    seed
        Seed of every random draw.
    guest_share
        Share of orders placed by guests (``customer_id`` null), in [0, 0.9].
    return_rate
        Share of customer order lines later (partly) returned, in [0, 0.5].
    promotions_per_year
        Promotions (SKU or category price cuts) per year; they never overlap in time.
    behaviour, demand
        Population priors of customers and the calendar shape of demand.
    customer_id_prefix
        Put before each customer number (``"cust-"`` and the number): ids that no number in a report can
        be mistaken for, for the raw-id scan of the privacy tests (docs/security.md).
    """

    customers: int = 5_000
    products: int = 600
    categories: int = 12
    start: str = "2023-01-01"
    days: int = 730
    regions: tuple[Region, ...] = DEFAULT_REGIONS
    warehouses: int = 4
    seed: int = 42
    guest_share: float = 0.1
    return_rate: float = 0.03
    promotions_per_year: float = 12.0
    behaviour: CustomerBehaviour = field(default_factory=CustomerBehaviour)
    demand: DemandShape = field(default_factory=DemandShape)
    customer_id_prefix: str = ""

    def __post_init__(self) -> None:
        check_int("customers", self.customers, 1, 10_000_000)
        check_int("categories", self.categories, 1, 1_000)
        check_int("products", self.products, self.categories, 1_000_000, hint="at least one per category")
        check_int("days", self.days, 7, 3_650)
        check_int("warehouses", self.warehouses, 1, 1_000)
        check_int("seed", self.seed, 0, 2**63 - 1)
        try:
            ts = pd.Timestamp(self.start)
        except (TypeError, ValueError) as exc:
            raise ShopConfigError(f"start={self.start!r} is not a date; use the form '2023-01-01'.") from exc
        if ts.tz is not None or ts != ts.normalize():
            raise ShopConfigError(f"start={self.start!r} must be a plain date such as '2023-01-01'.")
        if not isinstance(self.regions, tuple) or not self.regions:
            raise ShopConfigError("regions must be a non-empty tuple of Region(name, lat, lon, weight).")
        names = [r.name for r in self.regions]
        if len(set(names)) != len(names):
            raise ShopConfigError(f"regions has duplicate names {sorted(names)}; give each region one entry.")
        if not isinstance(self.customer_id_prefix, str) or len(self.customer_id_prefix) > 16 \
                or not all(c.isalnum() or c in "-_" for c in self.customer_id_prefix):
            raise ShopConfigError(f"customer_id_prefix={self.customer_id_prefix!r}: use at most 16 letters, digits, "
                                  "'-' or '_'.")
        _check_range("guest_share", self.guest_share, 0.0, 0.9)
        _check_range("return_rate", self.return_rate, 0.0, 0.5)
        max_promos = 365.25 / self.demand.promo_days[1]
        _check_range(
            "promotions_per_year",
            self.promotions_per_year,
            0.0,
            max_promos,
            hint=f"promotions never overlap, so at most 365.25 / promo_days max ({max_promos:.1f}) fit a year",
        )

    @property
    def start_ts(self) -> pd.Timestamp:
        """The first instant of the history."""
        return pd.Timestamp(self.start)

    @property
    def end_ts(self) -> pd.Timestamp:
        """The instant just after the history (exclusive)."""
        return self.start_ts + pd.Timedelta(days=self.days)

    def with_(self, **changes: object) -> ShopConfig:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ShopConfigError(f"ShopConfig has no parameter(s) {sorted(unknown)}.")
        return replace(self, **changes)
