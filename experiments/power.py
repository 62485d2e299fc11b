"""Planning: sample size, power and minimum detectable effect, with CUPED and sequential testing.

For a comparison of control (traffic share ``w_c``) with a treatment (``w_t``) out of ``N`` units in the
experiment, the difference has standard error ``se(N) = sqrt(s_c^2 / (N w_c) + s_t^2 / (N w_t))``, where
``s^2`` is the per-unit variance of the metric: ``p (1 - p)`` for a proportion (at the control rate and at
the treated rate), the unit variance for a mean, the delta-method unit variance for a ratio, and
``p (1 - p) / f(q)^2`` (``n`` times the squared standard error) for a quantile. Two-sided power at an
absolute effect ``delta`` is ``Phi(delta / se - c) + Phi(-delta / se - c)`` (Chow, Shao & Wang 2008,
"Sample Size Calculations in Clinical Research", 3.2), with ``c = z_{1 - alpha / 2}`` for a fixed horizon,
or the confidence-sequence critical value at the comparison's units for sequential tests (so the sequential
sample is the one at which the always-valid interval excludes zero with the requested power).

* CUPED multiplies every unit variance by ``1 - r^2``, ``r`` the metric/covariate correlation (Deng et al.
  2013).
* Several treatments: the alpha is split Bonferroni-style over the comparisons (the worst case of Holm).
* Duration: ``ceil(N / daily units)``, assuming each day brings new units.

Sequential power is the chance that the always-valid interval excludes zero *at* ``N`` (one look at the
planned sample). Looking more often can only stop earlier, so a team that reads the test every day has more
power by ``N`` than this (a plan for 80 % gives 0.85 with 20 daily looks): the plan is conservative for them.
GrowthBook's power calculator instead inflates the standard error by ``c / z`` and keeps ``z`` as the
critical value, ``Phi(z (delta / se) / c - z)``; a Monte Carlo of the test (issue 21,
``bench/experiments.py --only sequential_power_reference``) gives 0.080 at one look where shopml says 0.079
and GrowthBook 0.207 (rate 0.2, +2 %, 160,000 units), and 0.799 where shopml says 0.800 and GrowthBook 0.664.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import optimize, stats

from experiments.errors import ExperimentError
from experiments.metrics import MAX_UNITS, MAX_VALUE, MetricType
from experiments.sequential import sequential_critical_value
from experiments.spec import MAX_ARMS, MAX_TUNING_UNITS

MAX_MDE = 100.0
"""Largest relative effect to plan for (a 100-fold change); beyond it no experiment is needed."""


class PlanRequest(BaseModel):
    """What to plan for: the metric's baseline and spread, the effect to detect, the design."""

    model_config = ConfigDict(extra="forbid")

    metric_type: MetricType = "proportion"
    baseline: float = Field(
        ge=-MAX_VALUE,
        le=MAX_VALUE,
        allow_inf_nan=False,
        description="Control mean (a rate in (0, 1) for a proportion).",
    )
    unit_sd: float | None = Field(
        None, gt=0, le=MAX_VALUE, allow_inf_nan=False, description="Per-unit standard deviation; not for proportions."
    )
    mde: float | None = Field(
        None, gt=0, le=MAX_MDE, allow_inf_nan=False, description="Relative minimum detectable effect, 0.05 = 5%."
    )
    alpha: float = Field(0.05, gt=0, lt=0.5, allow_inf_nan=False)
    power: float = Field(0.8, gt=0.5, lt=1, allow_inf_nan=False)
    weights: list[Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]] = Field(
        [0.5, 0.5], min_length=2, max_length=MAX_ARMS, description="Control first."
    )
    test: Literal["two-sided", "one-sided"] = "two-sided"
    correction: Literal["bonferroni", "none"] = "bonferroni"
    cuped_r2: float = Field(
        0.0, ge=0, lt=1, allow_inf_nan=False, description="Squared correlation of metric and covariate."
    )
    sequential: bool = False
    sequential_tuning: float = Field(5000, gt=0, le=MAX_TUNING_UNITS, allow_inf_nan=False)
    daily_units: float | None = Field(
        None, gt=0, le=MAX_UNITS, allow_inf_nan=False, description="New units entering the experiment per day."
    )

    @model_validator(mode="after")
    def _consistent(self) -> PlanRequest:
        if abs(sum(self.weights) - 1) > 1e-6:
            raise ValueError(f"weights sum to {sum(self.weights):.6g}, not 1; rescale them")
        if any(w <= 0 for w in self.weights):
            raise ValueError("every weight must be positive")
        if self.metric_type == "proportion":
            if not 0 < self.baseline < 1:
                raise ValueError(
                    f"baseline={self.baseline}: a proportion's baseline is a rate in (0, 1), e.g. 0.05 for 5%"
                )
        elif self.unit_sd is None:
            raise ValueError(f"a {self.metric_type} metric needs unit_sd, its per-unit standard deviation")
        if self.baseline == 0:
            raise ValueError("baseline must not be 0: a relative effect of a zero mean is undefined")
        return self

    @property
    def comparison_alpha(self) -> float:
        """Alpha per comparison after the correction."""
        k = len(self.weights) - 1
        return self.alpha / k if self.correction == "bonferroni" else self.alpha


@dataclass(frozen=True)
class Plan:
    """Units needed (total and per arm), the effect and power they give, and the duration."""

    total_units: int
    units_per_arm: list[int]
    mde: float
    power: float
    days: int | None

    def __str__(self) -> str:
        days = f", about {self.days} days" if self.days is not None else ""
        return (
            f"{self.total_units} units in total ({', '.join(map(str, self.units_per_arm))} per arm) detect a "
            f"{100 * self.mde:.3g}% relative effect with {100 * self.power:.3g}% power{days}"
        )


def _variances(req: PlanRequest, mde: float) -> tuple[float, float]:
    if req.metric_type == "proportion":
        p_c, p_t = req.baseline, req.baseline * (1 + mde)
        if not 0 < p_t < 1:
            raise ExperimentError(f"a {100 * mde:.3g}% lift on a rate of {req.baseline} leaves (0, 1); lower the mde")
        var_c, var_t = p_c * (1 - p_c), p_t * (1 - p_t)
    else:
        var_c = var_t = req.unit_sd**2
    shrink = 1 - req.cuped_r2
    return var_c * shrink, var_t * shrink


def power_at(req: PlanRequest, total_units: float, mde: float) -> float:
    """Power to detect the relative effect ``mde`` with ``total_units`` in the experiment."""
    w_c, w_t = req.weights[0], min(req.weights[1:])
    var_c, var_t = _variances(req, mde)
    se = math.sqrt(var_c / (total_units * w_c) + var_t / (total_units * w_t))
    delta = abs(req.baseline * mde)
    alpha = req.comparison_alpha
    if req.sequential:
        alternative = "two-sided" if req.test == "two-sided" else "greater"
        crit = float(sequential_critical_value(total_units * (w_c + w_t), alpha, req.sequential_tuning, alternative))
    else:
        crit = stats.norm.isf(alpha / 2 if req.test == "two-sided" else alpha)
    power = stats.norm.cdf(delta / se - crit)
    if req.test == "two-sided":
        power += stats.norm.cdf(-delta / se - crit)
    return float(power)


def _plan(req: PlanRequest, total: float, mde: float) -> Plan:
    total_units = math.ceil(total)
    per_arm = [math.ceil(total * w) for w in req.weights]
    days = math.ceil(total_units / req.daily_units) if req.daily_units else None
    power = power_at(req, total_units, mde)
    if not math.isfinite(power):  # bounded inputs make this unreachable; a NaN must never read as an answer
        raise ExperimentError(f"the power for {total_units} units came out as {power}; check baseline and unit_sd")
    return Plan(total_units, per_arm, mde, power, days)


def plan_sample_size(request: PlanRequest | None = None, **kwargs) -> Plan:
    """Units needed to detect ``request.mde`` with ``request.power`` (keyword arguments build the request)."""
    req = request or PlanRequest(**kwargs)
    if req.mde is None:
        raise ExperimentError("sample size needs mde, the relative effect to detect (e.g. 0.05 for 5%)")
    f = lambda log_n: power_at(req, math.exp(log_n), req.mde) - req.power  # noqa: E731
    hi = math.log(1e13)
    if f(hi) < 0:
        raise ExperimentError(f"no sample below 1e13 units reaches {req.power} power for a {req.mde} effect")
    lo = math.log(4.0)
    total = math.exp(optimize.brentq(f, lo, hi, xtol=1e-10)) if f(lo) < 0 else 4.0
    return _plan(req, total, req.mde)


def minimum_detectable_effect(total_units: int, request: PlanRequest | None = None, **kwargs) -> Plan:
    """The smallest relative effect detectable with ``request.power`` given ``total_units``."""
    req = request or PlanRequest(**kwargs)
    if not 4 <= total_units <= MAX_UNITS * MAX_ARMS:
        raise ExperimentError(f"total_units must be in [4, {MAX_UNITS * MAX_ARMS:,}], got {total_units}")
    upper = (1 / req.baseline - 1) * 0.999999 if req.metric_type == "proportion" else 1e6
    f = lambda mde: power_at(req, total_units, mde) - req.power  # noqa: E731
    if f(upper) < 0:
        raise ExperimentError(f"{total_units} units cannot reach {req.power} power for any plausible effect")
    return _plan(req, total_units, optimize.brentq(f, 1e-12, upper, xtol=1e-12))


def unit_sd_from_stats(stats, metric) -> float:
    """Per-unit standard deviation of any metric type from a previous period's control statistics.

    ``stats`` is a :class:`~experiments.metrics.MetricStats` and ``metric`` its
    :class:`~experiments.metrics.MetricSpec`; for a quantile this is ``sqrt(n) * se`` of the estimate.
    """
    from experiments.metrics import arm_estimate

    return math.sqrt(arm_estimate(stats, metric, "pilot").unit_var)
