"""Metric specs, per-arm sufficient statistics, and the estimate each metric type derives from them.

Every metric type reduces, per arm, to an :class:`ArmEstimate`: a point estimate, the variance of that
estimate, and the number of units. The tests in :mod:`experiments.frequentist` and
:mod:`experiments.bayesian` only ever see these, so they treat all metric types alike.

Formulas
--------
* mean and proportion: sample mean and the unbiased sample variance over ``n`` (Welch 1947).
* ratio (e.g. revenue per session with the user as the unit): the delta method for ``mean(num) / mean(den)``,
  ``Var(R) ~ (s_N^2 / D^2 - 2 N s_ND / D^3 + N^2 s_D^2 / D^4) / n`` (Deng, Knoblich & Lu 2018, "Applying the
  Delta Method in Metric Analytics", KDD).
* quantile: the distribution-free order-statistic interval (Conover 1999, "Practical Nonparametric
  Statistics", 3.2) turned into a standard error, ``se = (x_(u) - x_(l)) / (2 z)``, as in Price & Bonett
  (2001) and GrowthBook's quantile metrics.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from experiments.errors import ExperimentError

logger = logging.getLogger(__name__)

MetricType = Literal["proportion", "mean", "ratio", "quantile"]

MAX_UNITS = 10**9
"""Most units in one arm (or planned in total): a billion, beyond any shop's traffic."""
MAX_VALUE = 1e9
"""Largest absolute per-unit value of a metric (a billion in the shop currency); bounds baselines, spreads
and quantile estimates. Sums are bounded by ``MAX_UNITS * MAX_VALUE`` and sums of squares by
``MAX_UNITS * MAX_VALUE**2``, so every statistic stays finite and exact enough in doubles."""
MAX_SUM = MAX_UNITS * MAX_VALUE
MAX_SUM_SQ = MAX_UNITS * MAX_VALUE**2
MOMENT_TOLERANCE = 1e-9
"""Relative slack for moment checks (a variance below zero, a correlation above one) against rounding."""

Sum = Annotated[float, Field(ge=-MAX_SUM, le=MAX_SUM, allow_inf_nan=False)]
SumSq = Annotated[float, Field(ge=0, le=MAX_SUM_SQ, allow_inf_nan=False)]
Value = Annotated[float, Field(ge=-MAX_VALUE, le=MAX_VALUE, allow_inf_nan=False)]


class MetricSpec(BaseModel):
    """What a metric is, which way is good, and what role it plays in the decision.

    ``column`` (and ``denominator_column`` for ratios, ``covariate_column`` for CUPED/CUPAC) name the
    columns of raw per-unit rows; they are ignored when sufficient statistics are given.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    type: MetricType
    direction: Literal["higher", "lower"] = Field("higher", description="Which way is better.")
    role: Literal["goal", "guardrail"] = "goal"
    margin: float | None = Field(
        None, gt=0, lt=1, description="Guardrail non-inferiority margin, relative (0.02 = at most 2% worse)."
    )
    quantile: float | None = Field(None, gt=0, lt=1, description="For quantile metrics: 0.5 is the median.")
    cuped: bool = Field(False, description="Adjust with the pre-period covariate (CUPED) or a prediction (CUPAC).")
    column: str | None = None
    denominator_column: str | None = None
    covariate_column: str | None = None
    cap_quantile: float | None = Field(
        None, gt=0.5, lt=1, description="Winsorize raw values at this pooled percentile (e.g. 0.99)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> MetricSpec:
        if self.role == "guardrail" and self.margin is None:
            raise ValueError(f"guardrail {self.name!r} needs a non-inferiority margin, e.g. \"margin\": 0.02")
        if self.type == "quantile" and self.quantile is None:
            raise ValueError(f"quantile metric {self.name!r} needs \"quantile\", e.g. 0.5 for the median")
        if self.type != "quantile" and self.quantile is not None:
            raise ValueError(f"metric {self.name!r}: \"quantile\" only applies to quantile metrics")
        if self.cuped and self.type in ("ratio", "quantile"):
            raise ValueError(f"metric {self.name!r}: CUPED is supported for mean and proportion metrics only")
        return self

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is better."""
        return 1 if self.direction == "higher" else -1


class MetricStats(BaseModel):
    """Sufficient statistics of one metric in one arm; which fields are needed depends on the metric type.

    mean / proportion: ``n``, ``sum``, ``sum_sq`` (for a proportion ``sum`` is the number of conversions and
    ``sum_sq`` may be omitted). ratio: ``sum``/``sum_sq`` of the numerator, ``den_sum``/``den_sum_sq`` of the
    denominator and ``cross_sum`` = sum of numerator x denominator. CUPED adds ``cov_sum``, ``cov_sum_sq`` and
    ``cov_cross_sum`` = sum of metric x covariate. quantile: ``estimate`` and the order-statistic interval
    ``lower``/``upper`` at ``level``.

    Every field is bounded (:data:`MAX_UNITS`, :data:`MAX_VALUE`) and finite, and the moments must be
    possible for real data: no negative variance (``sum_sq >= sum**2 / n``, likewise for the denominator and
    the covariate) and no correlation above one (``cross_sum``, ``cov_cross_sum``). Impossible statistics
    would otherwise be clipped into a zero variance and a confident, wrong decision.
    """

    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=0, le=MAX_UNITS)
    sum: Sum | None = None
    sum_sq: SumSq | None = None
    den_sum: Sum | None = None
    den_sum_sq: SumSq | None = None
    cross_sum: Sum | None = None
    cov_sum: Sum | None = None
    cov_sum_sq: SumSq | None = None
    cov_cross_sum: Sum | None = None
    estimate: Value | None = None
    lower: Value | None = None
    upper: Value | None = None
    level: float = Field(0.95, gt=0, lt=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _possible_moments(self) -> MetricStats:
        n = self.n
        if n == 0:
            return self
        centered = {}
        for total, squares in (("sum", "sum_sq"), ("den_sum", "den_sum_sq"), ("cov_sum", "cov_sum_sq")):
            s, ss = getattr(self, total), getattr(self, squares)
            if s is None or ss is None:
                continue
            deviation = ss - s * s / n
            if deviation < -MOMENT_TOLERANCE * max(ss, s * s / n, 1e-300):
                raise ValueError(
                    f"{squares}={ss:g} is below {total}**2/n={s * s / n:g}, which means a negative variance; "
                    f"{squares} must be the sum of the squared per-unit values"
                )
            centered[total] = max(deviation, 0.0)
        for cross, (a, b) in (("cross_sum", ("sum", "den_sum")), ("cov_cross_sum", ("sum", "cov_sum"))):
            value = getattr(self, cross)
            if value is None or a not in centered or b not in centered:
                continue
            covariance = value - getattr(self, a) * getattr(self, b) / n
            limit = math.sqrt(centered[a] * centered[b])
            scale = max(abs(value), abs(getattr(self, a) * getattr(self, b) / n), 1e-300)
            if abs(covariance) > limit + MOMENT_TOLERANCE * scale:
                raise ValueError(
                    f"{cross}={value:g} implies a correlation beyond [-1, 1] with the given sums of squares; "
                    f"{cross} must be the sum of the per-unit products"
                )
        return self


@dataclass(frozen=True)
class ArmEstimate:
    """A metric's point estimate in one arm, the variance of that estimate, and the units behind it."""

    mean: float
    var: float
    n: int
    df_free: bool = False  # True when the variance is asymptotic only (quantiles): use the normal, not Welch's t

    @property
    def unit_var(self) -> float:
        """Per-unit variance, ``var * n``."""
        return self.var * self.n


@dataclass(frozen=True)
class CovariateMoments:
    """Per-arm moments of a metric ``y`` and its covariate ``x`` that CUPED needs."""

    n: int
    mean_y: float
    mean_x: float
    ss_y: float  # sum of squared deviations of y
    ss_x: float
    sp_xy: float  # sum of cross-products of deviations


def _need(stats: MetricStats, metric: MetricSpec, arm: str, *fields: str) -> None:
    missing = [f for f in fields if getattr(stats, f) is None]
    if missing:
        raise ExperimentError(
            f"metric {metric.name!r}, arm {arm!r}: a {metric.type} metric needs {', '.join(missing)} "
            f"in its statistics"
        )


def _centered(sum_: float, sum_sq: float, n: int) -> float:
    """Sum of squared deviations from sums, clipped at 0 against rounding."""
    return max(sum_sq - sum_ * sum_ / n, 0.0)


def arm_estimate(stats: MetricStats, metric: MetricSpec, arm: str) -> ArmEstimate:
    """The point estimate and its variance for ``metric`` in ``arm`` (see the module docstring)."""
    n = stats.n
    if n < 2:
        raise ExperimentError(
            f"metric {metric.name!r}, arm {arm!r}: n={n}; a variance needs at least 2 units per arm"
        )
    if metric.type == "quantile":
        _need(stats, metric, arm, "estimate", "lower", "upper")
        if not stats.lower <= stats.estimate <= stats.upper:
            raise ExperimentError(
                f"metric {metric.name!r}, arm {arm!r}: need lower <= estimate <= upper, got "
                f"{stats.lower}, {stats.estimate}, {stats.upper}"
            )
        from scipy.stats import norm

        se = (stats.upper - stats.lower) / (2 * norm.ppf(0.5 + stats.level / 2))
        return ArmEstimate(stats.estimate, se * se, n, df_free=True)
    _need(stats, metric, arm, "sum")
    if metric.type == "proportion":
        conversions = stats.sum
        if not (0 <= conversions <= n) or conversions != math.floor(conversions):
            raise ExperimentError(
                f"metric {metric.name!r}, arm {arm!r}: conversions (sum) must be a whole number in [0, n={n}], "
                f"got {conversions}"
            )
        p = conversions / n
        if stats.sum_sq is not None and stats.sum_sq > conversions * (1 + MOMENT_TOLERANCE) + MOMENT_TOLERANCE:
            raise ExperimentError(
                f"metric {metric.name!r}, arm {arm!r}: sum_sq={stats.sum_sq:g} exceeds the conversions "
                f"(sum={conversions:g}), a variance above p(1-p), impossible for 0/1 outcomes; omit sum_sq or "
                f"give the number of conversions"
            )
        return ArmEstimate(p, p * (1 - p) * n / (n - 1) / n, n)
    _need(stats, metric, arm, "sum_sq")
    if metric.type == "mean":
        var = _centered(stats.sum, stats.sum_sq, n) / (n - 1)
        return ArmEstimate(stats.sum / n, var / n, n)
    # ratio
    _need(stats, metric, arm, "sum_sq", "den_sum", "den_sum_sq", "cross_sum")
    if stats.den_sum == 0:
        raise ExperimentError(
            f"metric {metric.name!r}, arm {arm!r}: the denominator sums to 0, so the ratio is undefined"
        )
    num, den = stats.sum / n, stats.den_sum / n
    var_num = _centered(stats.sum, stats.sum_sq, n) / (n - 1)
    var_den = _centered(stats.den_sum, stats.den_sum_sq, n) / (n - 1)
    cov = (stats.cross_sum - stats.sum * stats.den_sum / n) / (n - 1)
    var_ratio = var_num / den**2 - 2 * num * cov / den**3 + num**2 * var_den / den**4
    return ArmEstimate(num / den, max(var_ratio, 0.0) / n, n)


def covariate_moments(stats: MetricStats, metric: MetricSpec, arm: str) -> CovariateMoments:
    """The metric/covariate moments of one arm for CUPED."""
    _need(stats, metric, arm, "sum", "cov_sum", "cov_sum_sq", "cov_cross_sum")
    n = stats.n
    sum_sq = stats.sum if metric.type == "proportion" and stats.sum_sq is None else stats.sum_sq
    if sum_sq is None:
        _need(stats, metric, arm, "sum_sq")
    return CovariateMoments(
        n=n,
        mean_y=stats.sum / n,
        mean_x=stats.cov_sum / n,
        ss_y=_centered(stats.sum, sum_sq, n),
        ss_x=_centered(stats.cov_sum, stats.cov_sum_sq, n),
        sp_xy=stats.cov_cross_sum - stats.sum * stats.cov_sum / n,
    )
