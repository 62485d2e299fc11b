"""The shop's clock: how busy each hour is, and the time change that puts events on the calendar.

Customers buy at a constant rate in *operational time*: one operational day is one average day of shop
traffic. :class:`Calendar` accumulates the hourly intensity (weekly x yearly x Christmas x hour of day) into
``cum`` and maps operational time to calendar hours and back by linear interpolation, so a homogeneous Poisson
process in operational time becomes one with the planted seasonality on the calendar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.synthetic.config import DemandShape

# Share of a day's orders placed in each hour (sums to 1): quiet nights, a lunch and an evening peak.
HOUR_PROFILE = np.array([
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.6, 2.0, 2.3, 2.4,
    2.5, 2.3, 2.1, 2.0, 2.0, 2.1, 2.3, 2.6, 2.7, 2.3, 1.5, 0.7,
])  # fmt: skip
HOUR_PROFILE = HOUR_PROFILE / HOUR_PROFILE.sum()


def yearly_factor(
    day_of_year: np.ndarray, month: np.ndarray, day: np.ndarray, demand: DemandShape
) -> np.ndarray:
    """Yearly seasonality (cosine + Christmas bump, nearly closed 24-26 December), before normalisation."""
    two_pi = 2 * np.pi / 365.25
    doy = day_of_year.astype(float)
    factor = 1 + demand.yearly_amplitude * np.cos(two_pi * (doy - demand.yearly_peak_day))
    gap = (doy - demand.christmas_peak_day + 182.625) % 365.25 - 182.625
    factor = factor + demand.christmas_boost * np.exp(-0.5 * (gap / demand.christmas_width) ** 2)
    closed = (month == 12) & (day >= 24) & (day <= 26)
    return np.where(closed, factor * demand.closed_factor, factor)


@dataclass(frozen=True)
class Calendar:
    """Daily intensity over the history and the operational-time mapping.

    Attributes
    ----------
    start
        First instant of the history.
    days
        Number of days.
    weekly, yearly
        Per-day weekly and yearly factors; ``daily = weekly * yearly`` averages 1 over a calendar year.
    cum
        Cumulative intensity (operational days) at each hour boundary, ``days * 24 + 1`` values.
    """

    start: pd.Timestamp
    days: int
    weekly: np.ndarray
    yearly: np.ndarray
    cum: np.ndarray

    @classmethod
    def build(cls, start: pd.Timestamp, days: int, demand: DemandShape) -> Calendar:
        dates = pd.date_range(start, periods=days, freq="D")
        weekly_profile = np.asarray(demand.weekly, dtype=float)
        weekly_profile = weekly_profile / weekly_profile.mean()
        # Normalise the yearly factor over a reference (non-leap) year so that rates mean "per average day".
        ref = pd.date_range("2001-01-01", periods=365, freq="D")
        norm = yearly_factor(
            ref.day_of_year.to_numpy(), ref.month.to_numpy(), ref.day.to_numpy(), demand
        ).mean()
        yearly = yearly_factor(
            dates.day_of_year.to_numpy(), dates.month.to_numpy(), dates.day.to_numpy(), demand
        )
        yearly = yearly / norm
        weekly = weekly_profile[dates.day_of_week.to_numpy()]
        hourly = (weekly * yearly)[:, None] * HOUR_PROFILE[None, :]
        cum = np.concatenate([[0.0], np.cumsum(hourly.ravel())])
        return cls(start=pd.Timestamp(start), days=days, weekly=weekly, yearly=yearly, cum=cum)

    @property
    def daily(self) -> np.ndarray:
        """Relative order intensity of each day (1 = an average day)."""
        return self.weekly * self.yearly

    @property
    def total(self) -> float:
        """Operational length of the history (sum of daily intensities)."""
        return float(self.cum[-1])

    def to_hours(self, operational: np.ndarray) -> np.ndarray:
        """Calendar hours since ``start`` of operational times in ``[0, total]``."""
        grid = np.arange(self.cum.size, dtype=float)
        return np.interp(operational, self.cum, grid)

    def to_operational(self, hours: np.ndarray) -> np.ndarray:
        """Operational time of calendar hours since ``start``."""
        grid = np.arange(self.cum.size, dtype=float)
        return np.interp(hours, grid, self.cum)

    def timestamps(self, hours: np.ndarray) -> np.ndarray:
        """``datetime64[us]`` of calendar hours since ``start``, rounded down to the second."""
        seconds = np.floor(np.asarray(hours) * 3600.0).astype(np.int64)
        seconds = np.minimum(seconds, self.days * 86_400 - 1)
        return np.datetime64(self.start.to_datetime64(), "us") + seconds * np.timedelta64(1_000_000, "us")

    def truth(self) -> pd.DataFrame:
        """Ground-truth seasonality per day: date, day_of_week (0 = Monday), weekly, yearly, intensity."""
        dates = pd.date_range(self.start, periods=self.days, freq="D")
        return pd.DataFrame(
            {
                "date": dates.as_unit("us"),
                "day_of_week": dates.day_of_week.to_numpy().astype(np.int64),
                "weekly": self.weekly,
                "yearly": self.yearly,
                "intensity": self.daily,
            }
        )
