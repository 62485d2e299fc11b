"""Drift: how far today's scoring population has moved from the one a model was trained on.

Two measures per column, because each misses what the other sees:

* the **population stability index** (PSI) over ten bins cut at the reference's deciles: the sum over bins of
  ``(current share - reference share) x ln(current share / reference share)``, shares floored at 1e-4. It
  grows with the size of the shift, not with the sample, so its thresholds mean the same for 500 customers and
  for 5 million: below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one (the credit-scoring
  convention, kept here);
* the **two-sample Kolmogorov-Smirnov test** for numeric columns (chi-square on the category counts for
  categorical ones): whether the two samples could come from one distribution at all. With many rows it
  finds differences too small to matter, so a column is flagged by it only when the PSI also shows a
  moderate shift.

A column **drifts** when ``psi >= psi_alert`` (0.25), or when ``p_value < p_value`` (0.01) and
``psi >= psi_warn`` (0.1). Columns constant in the reference, or with fewer than ``min_rows`` rows on a side,
are reported but never flagged. Definitions: ``docs/monitoring.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from shopml.errors import DataValidationError

SHARE_FLOOR = 1e-4
"""Empty bins get this share, so a bin empty on one side adds a large but finite term."""


@dataclass(frozen=True)
class DriftSettings:
    """Thresholds of :func:`drift_table` (documented in ``docs/monitoring.md``)."""

    psi_warn: float = 0.1
    psi_alert: float = 0.25
    p_value: float = 0.01
    bins: int = 10
    min_rows: int = 50

    def __post_init__(self) -> None:
        if not 0 < self.psi_warn <= self.psi_alert:
            raise DataValidationError(f"drift thresholds need 0 < psi_warn <= psi_alert, got {self.psi_warn} and "
                                      f"{self.psi_alert}.")
        if not 0 < self.p_value < 1:
            raise DataValidationError(f"drift p_value must be in (0, 1), got {self.p_value}.")
        if self.bins < 2 or self.min_rows < 2:
            raise DataValidationError(f"drift bins and min_rows must be at least 2, got {self.bins} and {self.min_rows}.")


@dataclass(frozen=True)
class ColumnDrift:
    """One column's comparison (``status``: ``stable``, ``moderate``, ``drift`` or ``not judged``)."""

    column: str
    kind: str
    reference_rows: int
    current_rows: int
    psi: float | None
    test: str
    statistic: float | None
    p_value: float | None
    reference_mean: float | None
    current_mean: float | None
    status: str
    note: str = ""

    @property
    def drifted(self) -> bool:
        return self.status == "drift"


@dataclass(frozen=True)
class DriftResult:
    """Every column's :class:`ColumnDrift`, the settings they were judged with, and which columns count
    towards :attr:`drifted` (all by default; the others are reported only)."""

    columns: list[ColumnDrift]
    settings: DriftSettings = field(default_factory=DriftSettings)
    counted: tuple[str, ...] | None = None

    @property
    def drifted(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted and (self.counted is None or c.column in self.counted)]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(c) for c in self.columns])

    def to_dict(self) -> dict[str, object]:
        return {"settings": asdict(self.settings), "drifted": self.drifted,
                "not_counted": [c.column for c in self.columns if self.counted is not None and c.column not in self.counted],
                "columns": [asdict(c) for c in self.columns]}


def population_stability_index(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of ``current`` against ``reference``, over bins at the reference's quantiles (numeric values)."""
    reference = np.asarray(reference, dtype="float64")
    current = np.asarray(current, dtype="float64")
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if not len(reference) or not len(current):
        raise DataValidationError("population_stability_index needs finite values on both sides.")
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    actual = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1)
    return _psi(expected / expected.sum(), actual / actual.sum())


def categorical_stability_index(reference: pd.Series, current: pd.Series) -> float:
    """PSI over the categories seen on either side."""
    expected = reference.astype("string").value_counts(normalize=True, dropna=False)
    actual = current.astype("string").value_counts(normalize=True, dropna=False)
    categories = expected.index.union(actual.index)
    return _psi(expected.reindex(categories, fill_value=0).to_numpy(), actual.reindex(categories, fill_value=0).to_numpy())


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.maximum(expected, SHARE_FLOOR)
    actual = np.maximum(actual, SHARE_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift_table(reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str] | None = None,
                settings: DriftSettings | None = None, counted: Sequence[str] | None = None) -> DriftResult:
    """Compare every column of ``columns`` (default: those in both frames) between the two populations;
    only ``counted`` columns (default: all) make :attr:`DriftResult.drifted`."""
    settings = settings or DriftSettings()
    if columns is None:
        columns = [c for c in reference.columns if c in current.columns]
    missing = [c for c in columns if c not in reference.columns or c not in current.columns]
    if missing:
        raise DataValidationError(f"drift: column(s) {missing} are not in both populations; compare the columns "
                                  "both have.")
    return DriftResult([_column(reference[c], current[c], c, settings) for c in columns], settings,
                       None if counted is None else tuple(counted))


def _column(reference: pd.Series, current: pd.Series, name: str, settings: DriftSettings) -> ColumnDrift:
    numeric = pd.api.types.is_numeric_dtype(reference) and not pd.api.types.is_bool_dtype(reference)
    ref, cur = reference.dropna(), current.dropna()
    base = dict(column=name, kind="numeric" if numeric else "categorical", reference_rows=len(ref),
                current_rows=len(cur))
    if len(ref) < settings.min_rows or len(cur) < settings.min_rows:
        return ColumnDrift(**base, psi=None, test="", statistic=None, p_value=None, reference_mean=None,
                           current_mean=None, status="not judged",
                           note=f"fewer than {settings.min_rows} rows on a side")
    if numeric:
        ref_values, cur_values = ref.to_numpy("float64"), cur.to_numpy("float64")
        means = float(ref_values.mean()), float(cur_values.mean())
        if np.ptp(ref_values) == 0 and np.ptp(cur_values) == 0 and ref_values[0] == cur_values[0]:
            return ColumnDrift(**base, psi=0.0, test="ks", statistic=0.0, p_value=1.0, reference_mean=means[0],
                               current_mean=means[1], status="stable", note="constant on both sides")
        psi = population_stability_index(ref_values, cur_values, settings.bins)
        test = stats.ks_2samp(ref_values, cur_values)
        statistic, p_value, test_name = float(test.statistic), float(test.pvalue), "ks"
    else:
        means = (None, None)
        psi = categorical_stability_index(ref, cur)
        counts = pd.concat([ref.astype("string").value_counts(), cur.astype("string").value_counts()], axis=1).fillna(0)
        if len(counts) < 2:
            statistic, p_value = 0.0, 1.0
        else:
            chi = stats.chi2_contingency(counts.to_numpy("float64").T)
            statistic, p_value = float(chi.statistic), float(chi.pvalue)
        test_name = "chi2"
    if psi >= settings.psi_alert or (p_value < settings.p_value and psi >= settings.psi_warn):
        status = "drift"
    elif psi >= settings.psi_warn:
        status = "moderate"
    else:
        status = "stable"
    return ColumnDrift(**base, psi=psi, test=test_name, statistic=statistic, p_value=p_value,
                       reference_mean=means[0], current_mean=means[1], status=status)
