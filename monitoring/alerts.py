"""Alerts on KPIs: flag days whose last week leaves a robust, same-weekday baseline band.

The method, for each watched KPI and each day ``d`` (documented in ``docs/kpis.md``):

1. **The week ending on d.** The KPI over the 7 days ``d-6 .. d``: a sum for counts and values (GMV, orders,
   units, new customers), a ratio of sums for ratios (AOV = sales / orders, return rate = returns / sales),
   distinct buyers for ``customers`` (``active_7d``) and ``customers - new customers`` for
   ``returning_customers``. A week holds every weekday once, so the weekly pattern cancels, and a shock shows
   on the day it starts, growing for a week. Weeks touching a ``closed_days`` day are left out.
2. **The baseline.** The same quantity for the ``baseline_weeks`` weeks before, ending on the same weekday
   (``d-7``, ``d-14``, ...): disjoint weeks. A robust line through them (Theil-Sen: the median of the
   pairwise slopes, times ``trend``, then the median intercept) gives the recent weeks' expectation at ``d``
   (``trend=0``: the plain median). A line lags a ramp that steepens (before Christmas), so once a year of
   history exists (the days a year before had their own baseline, ``yearly_reference``) the level KPIs also
   have last year's: the week ending on the same calendar day a year
   before times this year's growth over the baseline weeks (:func:`_yearly_baseline`; the growth's slope is
   damped by ``growth_trend``, as a young shop's growth slows). The **expected**
   value is their geometric mean, weighted ``yearly`` towards last year. Ratios (AOV, return rate) keep the
   recent weeks' line (:data:`RATIO_SERIES`).
3. **The band.** ``sigma = 1.4826 * median(|log(value / expected)|)`` over the ``error_weeks`` weeks ending a
   week before ``d``: the robust scale of the baseline's own past errors (MAD-based, around zero), so the band
   ``expected * exp(+/- threshold * sigma)`` is wide for a KPI the baseline often misses and narrow for a
   steady one, and the week being judged never widens its own band.
4. **The flag.** The day is flagged when the value is outside the band on the rule's side (``down``, ``up``
   or ``both``) *and* the relative change ``value / expected - 1`` is at least ``min_effect`` in size; the
   second condition keeps a very steady series from paging on a trivial move. Days with fewer than
   ``min_baseline_weeks`` baseline weeks or ``min_error_weeks`` weeks of past errors are not judged.
5. **Alerts.** Consecutive flagged days of one KPI and direction are one alert (an episode), dated by its
   first day: that is what would page someone.

Everything uses data up to ``d`` only, so a day's verdict never changes when later data arrives. The default
settings were chosen on validation shops and measured on others (``bench/monitoring.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
import pandas as pd

from monitoring.kpis import ShopKpis, plain
from shopml.errors import ShopmlError

Direction = Literal["down", "up", "both"]
YearlyReference = Literal["settled", "baseline"]
WEEK = 7
MAD_TO_SIGMA = 1.4826

ALERT_SERIES: dict[str, str] = {
    "gmv": "GMV net of returns over the week",
    "orders": "orders over the week",
    "units": "units sold over the week",
    "aov": "sales / orders over the week",
    "return_rate": "returns / sales over the week",
    "customers": "distinct buyers over the week (active_7d)",
    "new_customers": "first-time buyers over the week",
    "returning_customers": "buyers over the week who had bought before it",
}
"""The KPIs alerts can watch, each as the weekly quantity judged every day."""

RATIO_SERIES = frozenset({"aov", "return_rate"})
"""Ratios of two weekly sums: the season's level cancels in them, so they get no year-over-year baseline (on
the validation shops it only added last year's noise: errors a third larger, on every shop)."""


class AlertSettingsError(ShopmlError, ValueError):
    """An alert setting is out of range; the message names it and the valid range."""


@dataclass(frozen=True)
class AlertRule:
    """Watch ``kpi`` (a key of :data:`ALERT_SERIES`) for moves in ``direction``."""

    kpi: str
    direction: Direction = "down"
    min_effect: float | None = None
    """This KPI's smallest relative change worth an alert; None: the settings' ``min_effect``."""

    def __post_init__(self) -> None:
        if self.kpi not in ALERT_SERIES:
            raise AlertSettingsError(f"alert rule kpi={self.kpi!r}: use one of {', '.join(ALERT_SERIES)}.")
        if self.direction not in ("down", "up", "both"):
            raise AlertSettingsError(f"alert rule direction={self.direction!r}: use down, up or both.")
        if self.min_effect is not None:
            _check(f"alert rule {self.kpi} min_effect", self.min_effect, 0.0, 10.0)


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule("gmv", "down"),
    AlertRule("orders", "down"),
    AlertRule("units", "down"),
    AlertRule("aov", "both"),
    AlertRule("return_rate", "up"),
    AlertRule("customers", "down"),
    AlertRule("new_customers", "down"),
    AlertRule("returning_customers", "down"),
)
"""Each KPI watched on the side that hurts (both sides for AOV: a price error either way matters)."""


@dataclass(frozen=True)
class AlertSettings:
    """How far from its baseline a KPI must move to be flagged.

    Parameters
    ----------
    threshold
        Band half-width in robust standard deviations of the baseline's past errors.
    min_effect
        Smallest relative change flagged, e.g. 0.08 = 8 % below (or above) the expected value; a rule's own
        ``min_effect`` overrides it for its KPI.
    baseline_weeks
        Previous weeks (same weekday) the baseline is drawn from.
    min_baseline_weeks
        Fewer baseline weeks than this (the start of the data, after a closure): the day is not judged.
    trend
        Weight of the robust trend through the baseline weeks (0 = flat median, 1 = the full Theil-Sen line).
    yearly
        Weight of the year-over-year baseline (last year's same weeks times this year's growth over the
        recent weeks) in the expected value, where last year is usable (``yearly_reference``; 0 = recent weeks
        only).
    growth_trend
        Weight of the slope of the year-over-year growth line (0 = the median growth of the baseline weeks,
        1 = the full Theil-Sen line). A young shop's growth over last year shrinks as it ages, ever more
        slowly, so a full line extrapolates too steep a fall.
    yearly_reference
        Which days a year before may serve as last year's reference: ``settled`` (the recent-weeks line
        judged them: 5 baseline weeks and 4 weeks of errors) or ``baseline`` (they had 5 baseline weeks,
        about 6 weeks after the first order, so a shop's second season gets last year sooner).
    error_weeks, min_error_weeks
        Weeks of past errors the band's sigma is the robust scale of, and how many it needs.
    closed_days
        Calendar days (``MM-DD``) the shop is known to close; weeks touching one are not judged and not used
        as a baseline. Default: 24-26 December (as the synthetic shop and Online Retail); ``()`` for none.
    rules
        Which KPIs to watch, on which side (:data:`DEFAULT_RULES`).
    """

    threshold: float = 2.5
    min_effect: float = 0.08
    baseline_weeks: int = 8
    min_baseline_weeks: int = 5
    trend: float = 1.0
    yearly: float = 0.5
    growth_trend: float = 0.5
    yearly_reference: YearlyReference = "baseline"
    error_weeks: int = 26
    min_error_weeks: int = 4
    closed_days: tuple[str, ...] = ("12-24", "12-25", "12-26")
    rules: tuple[AlertRule, ...] = field(default=DEFAULT_RULES)

    def __post_init__(self) -> None:
        _check("threshold", self.threshold, 0.5, 20.0)
        _check("min_effect", self.min_effect, 0.0, 1.0)
        _check("trend", self.trend, 0.0, 1.0)
        _check("yearly", self.yearly, 0.0, 1.0)
        _check("growth_trend", self.growth_trend, 0.0, 1.0)
        if self.yearly_reference not in ("settled", "baseline"):
            raise AlertSettingsError(f"yearly_reference={self.yearly_reference!r}: use settled or baseline.")
        if not isinstance(self.baseline_weeks, int) or not 3 <= self.baseline_weeks <= 52:
            raise AlertSettingsError(f"baseline_weeks={self.baseline_weeks!r}: use a whole number from 3 to 52.")
        if not isinstance(self.min_baseline_weeks, int) or not 2 <= self.min_baseline_weeks <= self.baseline_weeks:
            raise AlertSettingsError(
                f"min_baseline_weeks={self.min_baseline_weeks!r}: use a whole number from 2 to baseline_weeks "
                f"({self.baseline_weeks})."
            )
        if not isinstance(self.error_weeks, int) or not 2 <= self.error_weeks <= 104:
            raise AlertSettingsError(f"error_weeks={self.error_weeks!r}: use a whole number from 2 to 104.")
        if not isinstance(self.min_error_weeks, int) or not 1 <= self.min_error_weeks <= self.error_weeks:
            raise AlertSettingsError(
                f"min_error_weeks={self.min_error_weeks!r}: use a whole number from 1 to error_weeks ({self.error_weeks})."
            )
        for day in self.closed_days:
            try:
                pd.Timestamp(f"2000-{day}")
            except ValueError:
                raise AlertSettingsError(f"closed_days: {day!r} is not a calendar day; use MM-DD, e.g. 12-25.") from None
        if not self.rules:
            raise AlertSettingsError("rules is empty: watch at least one KPI (see monitoring.alerts.DEFAULT_RULES).")

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "rules"}
        out["closed_days"] = list(self.closed_days)
        out["rules"] = [{"kpi": r.kpi, "direction": r.direction, "min_effect": r.min_effect or self.min_effect}
                        for r in self.rules]
        return out


@dataclass(frozen=True)
class Alert:
    """One alert: consecutive flagged days of one KPI in one direction."""

    kpi: str
    direction: Literal["down", "up"]
    first_day: pd.Timestamp
    last_day: pd.Timestamp
    days: int
    value: float
    expected: float
    effect: float

    def to_dict(self) -> dict[str, object]:
        return {"kpi": self.kpi, "direction": self.direction, "first_day": f"{self.first_day:%Y-%m-%d}",
                "last_day": f"{self.last_day:%Y-%m-%d}", "days": self.days, "value": plain(self.value),
                "expected": plain(self.expected), "effect": plain(self.effect)}

    def describe(self) -> str:
        """One line a person can act on."""
        span = f"{self.first_day:%Y-%m-%d}" + (f" to {self.last_day:%Y-%m-%d}" if self.days > 1 else "")
        return (f"{self.kpi} {'down' if self.effect < 0 else 'up'} {abs(self.effect):.0%} on the week "
                f"({self.value:,.4g} vs {self.expected:,.4g} expected), {span}")


@dataclass(frozen=True)
class AlertResult:
    """Every judged day of every watched KPI, and the alerts (episodes) they make.

    ``days`` has one row per (day, kpi): ``value`` (the week ending that day), ``expected``, ``lower``,
    ``upper``, ``sigma``, ``effect`` (``value / expected - 1``) and ``flag`` (``down``, ``up`` or empty).
    """

    settings: AlertSettings
    days: pd.DataFrame
    alerts: tuple[Alert, ...]
    last_day: pd.Timestamp | None = None
    """The last day of the series (judged or not)."""

    def active(self, on: pd.Timestamp | str | None = None) -> list[Alert]:
        """Alerts still flagged on ``on`` (default: the series' last day; none when that day was not judged)."""
        when = self.last_day if on is None else pd.Timestamp(on)
        return [a for a in self.alerts if a.last_day == when]

    def flagged(self, kpi: str, direction: str | None = None) -> pd.DatetimeIndex:
        """The flagged days of ``kpi`` (in ``direction`` when given)."""
        rows = self.days.loc[(self.days["kpi"] == kpi) & (self.days["flag"] != "")]
        if direction is not None:
            rows = rows.loc[rows["flag"] == direction]
        return pd.DatetimeIndex(rows["day"])

    def summary(self) -> dict[str, object]:
        return {"alerts": len(self.alerts), "judged_days": int(self.days["day"].nunique()) if len(self.days) else 0,
                "by_kpi": {k: sum(a.kpi == k for a in self.alerts) for k in dict.fromkeys(r.kpi for r in self.settings.rules)}}


def detect_alerts(daily: ShopKpis | pd.DataFrame, settings: AlertSettings | None = None) -> AlertResult:
    """Flag the days whose weekly KPI leaves its baseline band (see the module's description).

    Parameters
    ----------
    daily
        Whole-shop KPIs by day (``Ledger.kpis("day")``), or its ``table``.
    settings
        Threshold, minimum effect, baseline and rules; default :class:`AlertSettings()`.
    """
    settings = settings or AlertSettings()
    table = daily.table if isinstance(daily, ShopKpis) else daily
    if isinstance(daily, ShopKpis) and (daily.freq != "day" or daily.by is not None):
        raise AlertSettingsError("alerts judge whole-shop daily KPIs: pass Ledger.kpis('day') (no --by).")
    series = weekly_series(table, settings.closed_days)
    year_ago = _a_year_before(pd.DatetimeIndex(series.index))
    frames = []
    alerts: list[Alert] = []
    for rule in settings.rules:
        values = series[rule.kpi].to_numpy(dtype=float)
        weight = 0.0 if rule.kpi in RATIO_SERIES else settings.yearly
        expected, known = _expected(values, year_ago, settings, weight)
        error = _log_error(values, expected, known)
        with np.errstate(invalid="ignore", divide="ignore"):
            effect = np.where(known, values / np.where(known, expected, 1.0) - 1, np.nan)
        sigma = _error_scale(error, settings)
        judged = known & np.isfinite(sigma)
        lower, upper = expected * np.exp(-settings.threshold * sigma), expected * np.exp(settings.threshold * sigma)
        min_effect = settings.min_effect if rule.min_effect is None else rule.min_effect
        down = judged & (values < lower) & (effect <= -min_effect) & (rule.direction != "up")
        up = judged & (values > upper) & (effect >= min_effect) & (rule.direction != "down")
        frame = pd.DataFrame({
            "day": series.index, "kpi": rule.kpi, "value": values, "expected": expected, "lower": lower,
            "upper": upper, "sigma": sigma, "effect": effect,
            "flag": np.where(down, "down", np.where(up, "up", "")),
        }).loc[judged]
        frames.append(frame)
        for direction, mask in (("down", down), ("up", up)):
            alerts += _episodes(rule.kpi, direction, series.index, mask, values, expected, effect)
    days = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    alerts.sort(key=lambda a: (a.first_day, a.kpi))
    return AlertResult(settings=settings, days=days, alerts=tuple(alerts),
                       last_day=series.index[-1] if len(series) else None)


def weekly_series(daily: pd.DataFrame, closed_days: tuple[str, ...] = ()) -> pd.DataFrame:
    """Each :data:`ALERT_SERIES` KPI over the 7 days ending on each day: NaN for the first 6 days and for
    weeks holding a ``closed_days`` day (MM-DD), which are neither judged nor used as a baseline."""
    table = daily.set_index("period")
    week = table[["gmv", "sales", "returns", "orders", "units", "new_customers"]].rolling(WEEK).sum()
    if closed_days:
        closed = pd.Series(table.index.strftime("%m-%d").isin(list(closed_days)), index=table.index)
        week = week.where(closed.astype(int).rolling(WEEK, min_periods=1).sum() == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "gmv": week["gmv"],
            "orders": week["orders"],
            "units": week["units"],
            "aov": week["sales"] / week["orders"].where(week["orders"] > 0),
            "return_rate": week["returns"] / week["sales"].where(week["sales"] > 0),
            "customers": table["active_7d"].where(week["orders"].notna()).astype(float),
            "new_customers": week["new_customers"],
            "returning_customers": (table["active_7d"] - week["new_customers"]).astype(float),
        }, index=table.index)


def _expected(values: np.ndarray, year_ago: np.ndarray, settings: AlertSettings,
              weight: float) -> tuple[np.ndarray, np.ndarray]:
    """The expected value of every day, and where it is known: the recent-weeks line (:func:`_baseline`),
    combined, once a year of history is settled, with the year-over-year one (:func:`_yearly_baseline`) as a
    weighted geometric mean (``weight``: ``settings.yearly``, 0 for a ratio)."""
    expected, weeks = _baseline(values, settings)
    known = (weeks >= settings.min_baseline_weeks) & np.isfinite(values) & (expected > 0)
    if weight == 0 or not (year_ago >= 0).any():
        return expected, known
    if settings.yearly_reference == "settled":
        # Settled: a year before, the recent-weeks line judged that day, so the shop's first weeks, whose growth
        # is no season, are never read as one.
        sigma = _error_scale(_log_error(values, expected, known), settings)
        settled = _shift(known & np.isfinite(sigma), year_ago, False)
    else:
        settled = _shift(known, year_ago, False)
    yearly, pairs = _yearly_baseline(values, year_ago, settled, settings)
    usable = known & settled & (pairs >= settings.min_baseline_weeks) & (yearly > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        combined = expected ** (1 - weight) * yearly ** weight
    return np.where(usable, combined, expected), known


def _yearly_baseline(values: np.ndarray, year_ago: np.ndarray, settled: np.ndarray,
                     settings: AlertSettings) -> tuple[np.ndarray, np.ndarray]:
    """Last year's value (the week ending on the same calendar day a year before, averaged over the 7 days
    around it) times the year-over-year growth: a robust line (:func:`_theil_sen`, slope weighted
    ``growth_trend``) through the log ratios of the ``baseline_weeks`` weeks before, each a year after a
    ``settled`` day; and how many ratios it had.

    A seasonal ramp has the same shape every year, so it is expected, and a drop on it is not mistaken for the
    ramp's end. A week holds every weekday once, so the calendar day, not the weekday, lines Christmas up."""
    smooth = pd.Series(values).rolling(WEEK, center=True, min_periods=1).mean().to_numpy()
    last_year = _shift(smooth, year_ago, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = np.log(values / last_year)
    growth[~(np.isfinite(growth) & settled)] = np.nan
    log_ratio, pairs = _theil_sen(_previous_weeks(growth, settings.baseline_weeks), settings.growth_trend)
    return last_year * np.exp(log_ratio), pairs


def _a_year_before(days: pd.DatetimeIndex) -> np.ndarray:
    """Position of the same calendar day a year before each day (29 February: the 28th), -1 when absent."""
    return days.get_indexer(days - pd.DateOffset(years=1))


def _shift(values: np.ndarray, year_ago: np.ndarray, missing: float | bool) -> np.ndarray:
    """``values`` a year before each day (``missing`` where the series does not reach back)."""
    return np.where(year_ago >= 0, values[np.maximum(year_ago, 0)], missing)


def _log_error(values: np.ndarray, expected: np.ndarray, known: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(known, np.log(np.maximum(values, 1e-9) / np.where(known, expected, 1.0)), np.nan)


def _baseline(values: np.ndarray, settings: AlertSettings) -> tuple[np.ndarray, np.ndarray]:
    """Expected value and number of baseline weeks for every day: the recent-weeks line (vectorised)."""
    expected, weeks = _theil_sen(_previous_weeks(values, settings.baseline_weeks), settings.trend)
    return np.maximum(expected, 0.0), weeks


def _previous_weeks(values: np.ndarray, k: int) -> np.ndarray:
    """Row ``d``, column ``back - 1``: the value of the week ending ``7 * back`` days before ``d``."""
    n = len(values)
    points = np.full((n, k), np.nan)
    for back in range(1, k + 1):
        if n > WEEK * back:
            points[WEEK * back:, back - 1] = values[: n - WEEK * back]
    return points


def _theil_sen(points: np.ndarray, trend: float) -> tuple[np.ndarray, np.ndarray]:
    """Each row's robust line (median pairwise slope times ``trend``, then median intercept) at ``x = 0``,
    the columns being ``x = -1, -2, ...``; and how many finite points each row had."""
    k = points.shape[1]
    x = -np.arange(1, k + 1, dtype=float)
    weeks = np.isfinite(points).sum(axis=1)
    with np.errstate(invalid="ignore"), _quiet_nan_slices():
        if trend > 0:
            first, second = np.triu_indices(k, 1)
            slope = np.nanmedian((points[:, first] - points[:, second]) / (x[first] - x[second]), axis=1) * trend
            slope = np.where(np.isfinite(slope), slope, 0.0)
        else:
            slope = np.zeros(len(points))
        intercept = np.nanmedian(points - slope[:, None] * x, axis=1)
    return intercept, weeks


def _error_scale(error: np.ndarray, settings: AlertSettings) -> np.ndarray:
    """Robust scale of the baseline's own past errors: ``1.4826 * median(|log(value / expected)|)`` over the
    ``error_weeks`` weeks ending a week before each day (so the week being judged never widens its band)."""
    window = WEEK * settings.error_weeks
    scale = pd.Series(np.abs(error)).rolling(window, min_periods=WEEK * settings.min_error_weeks).median()
    return MAD_TO_SIGMA * scale.shift(WEEK).to_numpy()


class _quiet_nan_slices:
    """Silence numpy's 'All-NaN slice' warnings: days without a baseline are simply not judged."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)
        return self

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


def _episodes(kpi: str, direction: str, days: pd.DatetimeIndex, mask: np.ndarray, values: np.ndarray,
              expected: np.ndarray, effect: np.ndarray) -> list[Alert]:
    if not mask.any():
        return []
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    out = []
    for s, e in zip(starts, ends, strict=True):
        worst = s + int(np.nanargmax(np.abs(effect[s:e + 1])))
        out.append(Alert(kpi=kpi, direction=direction, first_day=days[s], last_day=days[e],  # type: ignore[arg-type]
                         days=int(e - s + 1), value=float(values[worst]), expected=float(expected[worst]),
                         effect=float(effect[worst])))
    return out


def _check(name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise AlertSettingsError(f"{name}={value!r}: use a number from {low:g} to {high:g}.")


def count_episodes(flags: Sequence[bool] | np.ndarray) -> int:
    """Runs of consecutive True values: how many alerts a flagged series makes."""
    mask = np.asarray(flags, dtype=bool)
    return int(np.sum(np.diff(np.r_[0, mask.astype(np.int8)]) == 1))
