"""Where a customer stands among the shop's customers at a cutoff: percentiles against the population.

Raw recency or order counts mean different things at different cutoffs: early in the data no customer can be
more than a few weeks silent, later many are. Stacked training cutoffs mix both, so a few features also enter
as their percentile within the population at the cutoff. The population is summarised by a quantile grid
saved with the model, so a single customer scored online gets the same percentile as in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

RELATIVE_SOURCES: tuple[str, ...] = ("days_since_last_order", "spend_90d", "orders_total")
RELATIVE_FEATURES: dict[str, str] = {
    f"{name}_pct": f"percentile of {name} among the customers with history at the cutoff" for name in RELATIVE_SOURCES
}
GRID_POINTS = 1001


@dataclass(frozen=True, eq=False)
class PopulationReference:
    """Quantile grids (``GRID_POINTS`` evenly spaced probabilities) of :data:`RELATIVE_SOURCES`."""

    grids: dict[str, np.ndarray]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PopulationReference):
            return NotImplemented
        return self.grids.keys() == other.grids.keys() and all(
            np.array_equal(grid, other.grids[name]) for name, grid in self.grids.items())

    __hash__ = None  # grids are arrays: equal by value, not hashable

    @classmethod
    def fit(cls, features: pd.DataFrame) -> PopulationReference:
        probabilities = np.linspace(0.0, 1.0, GRID_POINTS)
        grids = {}
        for name in RELATIVE_SOURCES:
            values = features[name].to_numpy("float64")
            values = values[np.isfinite(values)]
            grids[name] = np.quantile(values, probabilities) if len(values) else np.zeros(GRID_POINTS)
        return cls(grids)

    def percentiles(self, features: pd.DataFrame) -> dict[str, np.ndarray]:
        """Mid-rank percentile in [0, 1] of every value (ties share the middle of their range; NaN stays NaN)."""
        out = {}
        for name in RELATIVE_SOURCES:
            grid = self.grids[name]
            values = features[name].to_numpy("float64")
            low = np.searchsorted(grid, values, side="left")
            high = np.searchsorted(grid, values, side="right")
            out[f"{name}_pct"] = np.where(np.isfinite(values), (low + high) / (2.0 * len(grid)), np.nan)
        return out

    def to_dict(self) -> dict[str, list[float]]:
        return {name: grid.tolist() for name, grid in self.grids.items()}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> PopulationReference:
        return cls({name: np.asarray(values, dtype="float64") for name, values in data.items()})
