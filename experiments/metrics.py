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
from typing import Annotated, Literal, NamedTuple

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
"""Relative slack for moment checks (a variance below zero, a correlation above one) against rounding: the
base of :func:`moment_tolerance`, for sums typed in or exported with about ten significant digits."""
UNIT_ROUNDOFF = 2.0**-53
"""Unit roundoff of a double; summing ``n`` values one by one (SQL, ``np.bincount``) errs by up to ``n`` of it."""

SQUARES = (("sum", "sum_sq"), ("den_sum", "den_sum_sq"), ("cov_sum", "cov_sum_sq"))
"""Each sum and its sum of squares."""
PRODUCTS = (
    ("cross_sum", ("sum", "den_sum")),
    ("cov_cross_sum", ("sum", "cov_sum")),
    ("den_cov_cross_sum", ("den_sum", "cov_sum")),
)
"""Each sum of per-unit products and the two sums it pairs."""


_ROLE = {"sum": "metric", "den_sum": "denominator", "cov_sum": "covariate"}


def moment_tolerance(n: int) -> float:
    """Relative rounding slack of centred moments from sums over ``n`` units.

    ``MOMENT_TOLERANCE + 4 n u`` (``u`` = :data:`UNIT_ROUNDOFF`), relative to the larger of the two terms
    subtracted (``sum_sq`` and ``sum**2 / n``): recursive summation of ``n`` terms errs by at most about
    ``n u`` relative (Higham 2002, 4.2), a square doubles it, and the base covers sums rounded to about ten
    significant digits. A billion units allow 4.5e-7; ten million 5.4e-9.
    """
    return MOMENT_TOLERANCE + 4 * n * UNIT_ROUNDOFF


class Centred(NamedTuple):
    """A centred second moment (sum of squared deviations or of cross-products), clipped into what is
    possible, and the rounding slack it was checked with."""

    value: float
    slack: float


MOMENT_FIELDS = tuple(f for pair in SQUARES for f in pair) + tuple(cross for cross, _ in PRODUCTS)


def centred_square(total: float, squares: float, n: int) -> tuple[float, float]:
    """``squares - total**2 / n`` unclipped, and its rounding slack (see :func:`moment_tolerance`)."""
    mean_square = total * total / n
    return squares - mean_square, moment_tolerance(n) * max(squares, mean_square, 1e-300)


def bounded_product(product: float, slack: float, a: Centred, b: Centred) -> float | None:
    """A centred cross-product clipped to Cauchy-Schwarz, ``|s_ab| <= sqrt(s_aa s_bb)``; ``None`` when it
    exceeds the bound by more than the rounding slacks allow."""
    limit = math.sqrt(a.value * b.value)
    if abs(product) > math.sqrt((a.value + a.slack) * (b.value + b.slack)) + slack:
        return None
    return max(-limit, min(limit, product))


def second_moments(values: dict[str, float | None], n: int) -> tuple[dict[str, Centred], str | None]:
    """The centred second moments of the fields present in ``values``, and the first impossibility found.

    Returns ``(moments, problem)``: ``moments`` maps each sum (``"sum"``, ``"den_sum"``, ``"cov_sum"``) and each
    product field to its :class:`Centred` moment; ``problem`` names the offending field, says why and how to fix
    it, or is ``None``. A negative variance or a correlation beyond +-1 by more than rounding
    (:func:`moment_tolerance`) is a problem; rounding-size excursions are clipped to the nearest possible value.
    """
    moments: dict[str, Centred] = {}
    for total, squares in SQUARES:
        s, ss = values.get(total), values.get(squares)
        if s is None or ss is None:
            continue
        deviation, slack = centred_square(s, ss, n)
        if deviation < -slack:
            return moments, (
                f"{squares}={ss:g} is below {total}**2/n={s * s / n:g} (centred sum of squares {deviation:.6g}, "
                f"a negative variance); {squares} must be the sum of the squared per-unit values, not of squared "
                "sums or means"
            )
        moments[total] = Centred(max(deviation, 0.0), slack)
    for cross, (a, b) in PRODUCTS:
        value = values.get(cross)
        if value is None or a not in moments or b not in moments:
            continue
        sa, sb = values[a], values[b]
        assert sa is not None and sb is not None
        product = value - sa * sb / n
        slack = moment_tolerance(n) * max(abs(value), abs(sa * sb / n), 1e-300)
        clipped = bounded_product(product, slack, moments[a], moments[b])
        if clipped is None:
            return moments, (
                f"{cross}={value:g} implies a correlation beyond [-1, 1] with the given sums of squares (centred "
                f"cross-product {product:.6g}, at most {math.sqrt(moments[a].value * moments[b].value):.6g} in "
                f"size); {cross} must be the sum of the per-unit products of {_ROLE[a]} and {_ROLE[b]} "
                "values"
            )
        moments[cross] = Centred(clipped, slack)
    return moments, None

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
        if self.cuped and self.type == "quantile":
            raise ValueError(f"metric {self.name!r}: CUPED is supported for mean, proportion and ratio metrics only")
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
    ``cov_cross_sum`` = sum of metric (a ratio's numerator) x covariate, and for a ratio ``den_cov_cross_sum`` =
    sum of denominator x covariate. quantile: ``estimate`` and the order-statistic interval
    ``lower``/``upper`` at ``level``.

    Every field is bounded (:data:`MAX_UNITS`, :data:`MAX_VALUE`) and finite, and the moments must be
    possible for real data: no negative variance (``sum_sq >= sum**2 / n``, likewise for the denominator and
    the covariate) and no correlation beyond +-1 (``cross_sum``, ``cov_cross_sum``, ``den_cov_cross_sum``), up to
    rounding (:func:`moment_tolerance`). Impossible statistics would otherwise be clipped into a zero variance
    and a confident, wrong decision.
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
    den_cov_cross_sum: Sum | None = None
    estimate: Value | None = None
    lower: Value | None = None
    upper: Value | None = None
    level: float = Field(0.95, gt=0, lt=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _possible_moments(self) -> MetricStats:
        if self.n == 0:
            return self
        _, problem = second_moments({f: getattr(self, f) for f in MOMENT_FIELDS}, self.n)
        if problem:
            raise ValueError(problem)
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


def _moments(stats: MetricStats, metric: MetricSpec, arm: str) -> dict[str, Centred]:
    """The arm's centred second moments, refused (naming metric, arm and field) when impossible.

    :class:`MetricStats` checks the same when it is built; this check also covers statistics changed after
    validation and a proportion's ``sum_sq`` (each 0/1 value is its own square, so it defaults to ``sum``).
    """
    values = {f: getattr(stats, f) for f in MOMENT_FIELDS}
    if metric.type == "proportion" and values["sum_sq"] is None:
        values["sum_sq"] = values["sum"]
    moments, problem = second_moments(values, stats.n)
    if problem:
        raise ExperimentError(f"metric {metric.name!r}, arm {arm!r}: {problem}")
    return moments


def _centered(stats: MetricStats, metric: MetricSpec, arm: str, total: str) -> float:
    """Sum of squared deviations of ``total``'s values; refused, never clipped, when negative beyond rounding."""
    return _moments(stats, metric, arm)[total].value


def _check_proportion(stats: MetricStats, metric: MetricSpec, arm: str) -> float:
    n, conversions = stats.n, stats.sum
    assert conversions is not None
    if not (0 <= conversions <= n) or conversions != math.floor(conversions):
        raise ExperimentError(
            f"metric {metric.name!r}, arm {arm!r}: conversions (sum) must be a whole number in [0, n={n}], "
            f"got {conversions}"
        )
    if stats.sum_sq is not None and abs(stats.sum_sq - conversions) > moment_tolerance(n) * max(conversions, 1.0):
        raise ExperimentError(
            f"metric {metric.name!r}, arm {arm!r}: sum_sq={stats.sum_sq:g} "
            f"{'exceeds' if stats.sum_sq > conversions else 'is below'} the conversions (sum={conversions:g}), "
            f"a variance {'above' if stats.sum_sq > conversions else 'below'} p(1-p), impossible for 0/1 outcomes "
            "(each value is its own square); omit sum_sq or give the number of conversions"
        )
    return conversions / n


def point_estimate(stats: MetricStats, metric: MetricSpec, arm: str) -> float:
    """The arm's point estimate alone (no variance), for arms too small for a test; NaN without units."""
    if stats.n == 0:
        return math.nan
    if metric.type == "quantile":
        _need(stats, metric, arm, "estimate")
        assert stats.estimate is not None
        return stats.estimate
    _need(stats, metric, arm, "sum")
    assert stats.sum is not None
    if metric.type == "proportion":
        return _check_proportion(stats, metric, arm)
    if metric.type == "ratio":
        _need(stats, metric, arm, "den_sum")
        assert stats.den_sum is not None
        return stats.sum / stats.den_sum if stats.den_sum != 0 else math.nan
    return stats.sum / stats.n


def _ratio_linearised(stats: MetricStats, moments: dict[str, Centred]) -> tuple[float, float, float]:
    """Ratio ``R = N / D``, ``D``'s mean, and the sum of squares of the linearised values
    ``z_i = (N_i - R D_i) / mean(D)`` (Deng, Knoblich & Lu 2018: the delta method as a per-unit variable)."""
    assert stats.sum is not None and stats.den_sum is not None
    ratio, den = stats.sum / stats.den_sum, stats.den_sum / stats.n
    ss_n, ss_d, sp_nd = moments["sum"].value, moments["den_sum"].value, moments["cross_sum"].value
    ss_z = (ss_n - 2 * ratio * sp_nd + ratio**2 * ss_d) / den**2
    return ratio, den, max(ss_z, 0.0)  # a quadratic form of a checked (possible) covariance: >= 0 but for rounding


def arm_estimate(stats: MetricStats, metric: MetricSpec, arm: str) -> ArmEstimate:
    """The point estimate and its variance for ``metric`` in ``arm`` (see the module docstring)."""
    n = stats.n
    if n < 2:
        raise ExperimentError(
            f"metric {metric.name!r}, arm {arm!r}: n={n}; a variance needs at least 2 units per arm"
        )
    if metric.type == "quantile":
        _need(stats, metric, arm, "estimate", "lower", "upper")
        assert stats.lower is not None and stats.estimate is not None and stats.upper is not None
        if not stats.lower <= stats.estimate <= stats.upper:
            raise ExperimentError(
                f"metric {metric.name!r}, arm {arm!r}: need lower <= estimate <= upper, got "
                f"{stats.lower}, {stats.estimate}, {stats.upper}"
            )
        from scipy.stats import norm

        se = (stats.upper - stats.lower) / (2 * norm.ppf(0.5 + stats.level / 2))
        return ArmEstimate(stats.estimate, se * se, n, df_free=True)
    _need(stats, metric, arm, "sum")
    assert stats.sum is not None
    if metric.type == "proportion":
        p = _check_proportion(stats, metric, arm)
        _moments(stats, metric, arm)  # a covariate's cross-product, if any, must be possible too
        return ArmEstimate(p, p * (1 - p) * n / (n - 1) / n, n)
    _need(stats, metric, arm, "sum_sq")
    if metric.type == "mean":
        var = _centered(stats, metric, arm, "sum") / (n - 1)
        return ArmEstimate(stats.sum / n, var / n, n)
    # ratio
    _need(stats, metric, arm, "sum_sq", "den_sum", "den_sum_sq", "cross_sum")
    if stats.den_sum == 0:
        raise ExperimentError(
            f"metric {metric.name!r}, arm {arm!r}: the denominator sums to 0, so the ratio is undefined"
        )
    ratio, _, ss_z = _ratio_linearised(stats, _moments(stats, metric, arm))
    return ArmEstimate(ratio, ss_z / (n - 1) / n, n)


def covariate_moments(stats: MetricStats, metric: MetricSpec, arm: str) -> CovariateMoments:
    """The metric/covariate moments of one arm for CUPED.

    For a ratio metric the outcome is the linearised ratio ``z_i = (N_i - R D_i) / mean(D)`` around the arm's
    ratio ``R`` (its mean is ``R`` itself in the first order), so CUPED on ``z`` adjusts the ratio; this needs
    ``den_cov_cross_sum`` = sum of denominator x covariate besides the covariate fields.
    """
    fields = ["sum", "cov_sum", "cov_sum_sq", "cov_cross_sum"]
    if metric.type == "ratio":
        fields += ["sum_sq", "den_sum", "den_sum_sq", "cross_sum", "den_cov_cross_sum"]
    elif metric.type == "mean":
        fields.append("sum_sq")
    _need(stats, metric, arm, *fields)
    n = stats.n
    moments = _moments(stats, metric, arm)
    assert stats.sum is not None and stats.cov_sum is not None
    x = moments["cov_sum"]
    if metric.type != "ratio":
        return CovariateMoments(
            n=n, mean_y=stats.sum / n, mean_x=stats.cov_sum / n, ss_y=moments["sum"].value, ss_x=x.value,
            sp_xy=moments["cov_cross_sum"].value,
        )
    if stats.den_sum == 0:
        raise ExperimentError(
            f"metric {metric.name!r}, arm {arm!r}: the denominator sums to 0, so the ratio is undefined"
        )
    ratio, den, ss_z = _ratio_linearised(stats, moments)
    num_x, den_x = moments["cov_cross_sum"], moments["den_cov_cross_sum"]
    sp_zx = (num_x.value - ratio * den_x.value) / den
    slack_z = (moments["sum"].slack + 2 * abs(ratio) * moments["cross_sum"].slack
               + ratio**2 * moments["den_sum"].slack) / den**2
    clipped = bounded_product(sp_zx, (num_x.slack + abs(ratio) * den_x.slack) / abs(den), Centred(ss_z, slack_z), x)
    if clipped is None:
        raise ExperimentError(
            f"metric {metric.name!r}, arm {arm!r}: cov_cross_sum and den_cov_cross_sum imply a correlation beyond "
            "[-1, 1] between the ratio and the covariate; they must be the sums of the per-unit products of the "
            "numerator and of the denominator with the covariate"
        )
    return CovariateMoments(n=n, mean_y=ratio, mean_x=stats.cov_sum / n, ss_y=ss_z, ss_x=x.value, sp_xy=clipped)
