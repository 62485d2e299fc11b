"""Evaluate an experiment: every (metric, treatment arm) comparison, the checks, and the decision.

Conventions
-----------
* Lifts are treatment minus control (absolute) and treatment / control - 1 (relative), in the metric's own
  units; ``direction`` only decides which sign is a win.
* The default relative-lift interval is Fieller's (see :mod:`experiments.frequentist` for why); the
  p-value of the relative lift is the p-value of the absolute difference (the same null hypothesis).
* ``test = "one-sided"`` tests for an improvement in each metric's good direction; its intervals are open on
  the other side.
* Goal comparisons (metrics x arms) form one family for the multiple-comparison correction; guardrails are
  non-inferiority tests at ``alpha`` each: held when the one-sided ``1 - alpha`` bound of the relative lift
  (in the good direction) is above ``-margin``; failed when it is significantly worse and its point estimate
  is worse than ``-margin``; inconclusive otherwise.
* CUPED's relative lift divides the adjusted difference by the unadjusted control mean (see
  :mod:`experiments.cuped`); ``control_mean`` and ``treatment_mean`` of a CUPED comparison are that control
  mean and the treatment mean at the control's covariate mean, so their difference is the adjusted lift.
* Degenerate input never yields a silent default: zero variance in both arms gives NaN statistics and a
  warning; an arm with fewer than 2 units gives its point estimate, NaN statistics and a warning (no variance
  can be estimated); a control mean <= 0 leaves the relative lift empty with a warning; impossible statistics,
  unknown variants or metrics, and weights not summing to one raise
  :class:`~experiments.errors.ExperimentError`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from experiments.bayesian import BayesianResult, bayesian_summary
from experiments.comparison import Comparison
from experiments.corrections import adjust, interval_alpha
from experiments.cuped import cuped_adjust
from experiments.decision import Decision, decide
from experiments.errors import ExperimentError
from experiments.frequentist import (
    Alternative,
    RelativeMethod,
    absolute_interval,
    critical_value,
    delta_relative,
    one_sided,
    relative_interval,
    welch_test,
)
from experiments.metrics import ArmEstimate, MetricSpec, arm_estimate, covariate_moments, point_estimate
from experiments.sequential import sequential_critical_value, sequential_p_value
from experiments.spec import AnalysisSettings, ExperimentSpec
from experiments.srm import SrmResult, srm_test

logger = logging.getLogger(__name__)


@dataclass
class ExperimentResult:
    """All comparisons of an experiment with its sample-ratio check and decision."""

    name: str
    control: str
    settings: AnalysisSettings
    srm: SrmResult
    comparisons: list[Comparison]
    decision: Decision
    warnings: list[str]

    @property
    def trustworthy(self) -> bool:
        """False when the sample-ratio check failed."""
        return not self.srm.flagged

    def comparison(self, metric: str, arm: str) -> Comparison:
        """The comparison of ``metric`` in ``arm``."""
        for c in self.comparisons:
            if c.metric == metric and c.arm == arm:
                return c
        raise ExperimentError(f"no comparison for metric {metric!r} and arm {arm!r}")

    def summary(self):
        """One row per comparison, as a pandas DataFrame, for people to read."""
        import pandas as pd

        rows = [
            {
                "metric": c.metric,
                "arm": c.arm,
                "role": c.role,
                "control": c.control_mean,
                "treatment": c.treatment_mean,
                "abs_lift": c.absolute_lift,
                "abs_ci": (c.absolute_lower, c.absolute_upper),
                "rel_lift": c.relative_lift,
                "rel_ci": (c.relative_lower, c.relative_upper),
                "p_value": c.p_value,
                "adj_p_value": c.adjusted_p_value,
                "chance_to_win": c.bayesian.chance_to_win if c.bayesian else None,
                "verdict": c.outcome if c.role == "goal" else c.guardrail,
            }
            for c in self.comparisons
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (infinite or NaN numbers become ``None``) for files and the service."""

        def clean(value: Any) -> Any:
            if isinstance(value, float | np.floating):
                return float(value) if math.isfinite(value) else None
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [clean(v) for v in value]
            return value

        return clean(
            {
                "name": self.name,
                "control": self.control,
                "trustworthy": self.trustworthy,
                "settings": self.settings.model_dump(),
                "srm": {**asdict(self.srm), "flagged": self.srm.flagged},
                "comparisons": [asdict(c) for c in self.comparisons],
                "decision": {
                    "recommendation": self.decision.recommendation,
                    "arm": self.decision.arm,
                    "reasons": self.decision.reasons,
                    "verdicts": [asdict(v) for v in self.decision.verdicts],
                },
                "warnings": self.warnings,
            }
        )


def _alternative(settings: AnalysisSettings, metric: MetricSpec) -> Alternative:
    if settings.test == "two-sided":
        return "two-sided"
    return "greater" if metric.sign > 0 else "less"


def _critical(settings: AnalysisSettings, alpha: float, df: float, n_total: int, alternative: Alternative) -> float:
    if settings.sequential:
        return float(sequential_critical_value(n_total, alpha, settings.sequential_tuning, alternative))
    return float(critical_value(alpha, df, alternative))


@dataclass(frozen=True)
class _Estimates:
    """The two arms for the absolute difference and its test, and the pair the relative lift divides.

    Without CUPED both pairs are the arms' own estimates (independent, ``rel_cov = 0``); with CUPED see
    :class:`~experiments.cuped.CupedAdjustment`.
    """

    control: ArmEstimate
    treatment: ArmEstimate
    rel_control: ArmEstimate
    rel_treatment: ArmEstimate
    rel_cov: float = 0.0
    reduction: float | None = None

    def relative(self, method: RelativeMethod, crit: float) -> tuple[float, float, float]:
        c, t = self.rel_control, self.rel_treatment
        return relative_interval(method, c.mean, c.var, t.mean, t.var, crit, self.rel_cov)


def _intervals(
    est: _Estimates, crit: float, method: RelativeMethod, alternative: Alternative
) -> tuple[float, float, float | None, float | None]:
    diff = est.treatment.mean - est.control.mean
    se = math.sqrt(est.control.var + est.treatment.var)
    lower, upper = one_sided(*absolute_interval(diff, se, crit), alternative)
    if est.rel_control.mean <= 0 or (method == "log" and est.rel_treatment.mean <= 0):
        return float(lower), float(upper), None, None
    _, rel_lower, rel_upper = est.relative(method, crit)
    rel_lower, rel_upper = one_sided(rel_lower, rel_upper, alternative)
    return float(lower), float(upper), float(rel_lower), float(rel_upper)


def _estimates(spec: ExperimentSpec, metric: MetricSpec, arm: str, warnings: list[str]) -> _Estimates:
    data = spec.data
    assert data is not None
    control = spec.control
    est_c = arm_estimate(data[control][metric.name], metric, control)
    est_t = arm_estimate(data[arm][metric.name], metric, arm)
    if metric.cuped:
        adjustment = cuped_adjust(
            covariate_moments(data[control][metric.name], metric, control),
            covariate_moments(data[arm][metric.name], metric, arm),
        )
        if adjustment is None:
            warnings.append("the CUPED covariate has zero variance, so the metric is reported unadjusted")
        else:
            a = adjustment
            return _Estimates(a.control, a.treatment, a.relative_control, a.relative_treatment,
                              a.relative_covariance, a.variance_reduction)
    return _Estimates(est_c, est_t, est_c, est_t)


def _too_small(spec: ExperimentSpec, metric: MetricSpec, arm: str) -> Comparison | None:
    """The comparison of an arm pair where one arm has fewer than 2 units: point estimates, NaN statistics and
    a warning (a variance needs 2 units), as the reference engines answer rather than refuse."""
    assert spec.data is not None
    stats = {name: spec.data[name][metric.name] for name in (spec.control, arm)}
    small = {name: s.n for name, s in stats.items() if s.n < 2}
    if not small:
        return None
    mean_c, mean_t = (point_estimate(stats[name], metric, name) for name in (spec.control, arm))
    warnings = [
        f"arm {name!r} has {n} unit{'' if n == 1 else 's'}: a variance needs at least 2, so no test or interval "
        "is possible yet (statistics are NaN); keep the test running"
        for name, n in small.items()
    ]
    nan = math.nan
    rel_lift = mean_t / mean_c - 1 if math.isfinite(mean_c) and math.isfinite(mean_t) and mean_c > 0 else None
    return Comparison(
        metric=metric.name, metric_type=metric.type, role=metric.role, direction=metric.direction, arm=arm,
        control=spec.control, n_control=stats[spec.control].n, n_treatment=stats[arm].n, control_mean=mean_c,
        treatment_mean=mean_t, absolute_lift=mean_t - mean_c, absolute_lower=nan, absolute_upper=nan,
        standard_error=nan, statistic=nan, df=nan, p_value=nan, relative_lift=rel_lift, relative_lower=None,
        relative_upper=None, relative_method=spec.settings.relative_interval, sequential=spec.settings.sequential,
        guardrail="unknown" if metric.role == "guardrail" else None, warnings=warnings,
    )


def _compare(spec: ExperimentSpec, metric: MetricSpec, arm: str, cache: dict) -> Comparison:
    settings = spec.settings
    untestable = _too_small(spec, metric, arm)
    if untestable is not None:
        return untestable
    warnings: list[str] = []
    est = cache[metric.name, arm] = _estimates(spec, metric, arm, warnings)
    est_c, est_t, reduction = est.control, est.treatment, est.reduction
    rel_c, rel_t = est.rel_control, est.rel_treatment
    alternative = _alternative(settings, metric)
    n_total = est_c.n + est_t.n
    if metric.type == "proportion":
        for name, arm_est in ((spec.control, est_c), (arm, est_t)):
            if arm_est.mean in (0.0, 1.0):
                warnings.append(
                    f"arm {name!r} has {'no' if arm_est.mean == 0 else 'only'} conversions; the normal approximation "
                    "is unreliable here"
                )
    if rel_c.mean <= 0:
        warnings.append(
            f"control mean is {rel_c.mean:.4g} <= 0, so the relative lift is undefined; read the absolute lift"
        )
    diff, se, stat, df, p = (float(x) for x in welch_test(
        est_c.mean, est_c.var, est_c.n, est_t.mean, est_t.var, est_t.n, alternative, df_free=est_c.df_free
    ))
    base = dict(
        metric=metric.name, metric_type=metric.type, role=metric.role, direction=metric.direction, arm=arm,
        control=spec.control, n_control=est_c.n, n_treatment=est_t.n, control_mean=rel_c.mean,
        treatment_mean=rel_t.mean, relative_method=settings.relative_interval, sequential=settings.sequential,
        cuped_variance_reduction=reduction,
    )
    rel_lift = rel_t.mean / rel_c.mean - 1 if rel_c.mean > 0 else None
    if se == 0:
        warnings.append("both arms have zero variance, so no test or interval is possible (statistics are NaN)")
        nan = math.nan
        return Comparison(
            **base, absolute_lift=diff, absolute_lower=nan, absolute_upper=nan, standard_error=0.0, statistic=nan,
            df=nan, p_value=nan, relative_lift=rel_lift, relative_lower=None, relative_upper=None,
            guardrail="unknown" if metric.role == "guardrail" else None, warnings=warnings,
        )
    if settings.sequential:
        p = float(sequential_p_value(stat, n_total, settings.alpha, settings.sequential_tuning, alternative))
    crit = _critical(settings, settings.alpha, df, n_total, alternative)
    lower, upper, rel_lower, rel_upper = _intervals(est, crit, settings.relative_interval, alternative)
    if settings.relative_interval == "log" and rel_c.mean > 0 >= rel_t.mean:
        warnings.append("the log-ratio interval needs a positive treatment mean; no relative interval reported")
    if rel_lower is not None and math.isinf(rel_lower) and math.isinf(rel_upper):
        warnings.append(
            "the Fieller interval is unbounded: the control mean is not distinguishable from zero at this alpha"
        )
    comparison = Comparison(
        **base, absolute_lift=diff, absolute_lower=lower, absolute_upper=upper, standard_error=se, statistic=stat,
        df=df, p_value=p, relative_lift=rel_lift, relative_lower=rel_lower, relative_upper=rel_upper,
        warnings=warnings,
    )
    comparison.bayesian = _bayesian(settings, metric, est, warnings)
    if metric.role == "guardrail":
        comparison.guardrail = _guardrail(settings, metric, est, df, n_total, rel_lift)
    return comparison


def _bayesian(settings, metric, est: _Estimates, warnings) -> BayesianResult | None:
    if settings.bayesian_scale == "relative":
        c, t = est.rel_control, est.rel_treatment
        if c.mean <= 0:
            warnings.append("no Bayesian summary: a relative prior needs a positive control mean (use bayesian_scale='absolute')")
            return None
        lift, _, _, se = delta_relative(c.mean, c.var, t.mean, t.var, 0.0, est.rel_cov)
    else:
        lift, se = est.treatment.mean - est.control.mean, math.sqrt(est.control.var + est.treatment.var)
    if not se > 0:  # e.g. a treatment with no conversions and no variance: the relative lift is exactly -100 %
        warnings.append("no Bayesian summary: the lift's standard error is 0 on this scale")
        return None
    return bayesian_summary(
        float(lift), float(se), metric.sign, settings.alpha, settings.bayesian_scale, settings.prior.mean, settings.prior.sd
    )


def _guardrail(settings, metric, est: _Estimates, df, n_total, rel_lift) -> str:
    if rel_lift is None:
        return "unknown"
    good: Alternative = "greater" if metric.sign > 0 else "less"
    crit = _critical(settings, settings.alpha, df, n_total, good)  # one-sided 1 - alpha, both bounds
    _, lower, upper = est.relative(settings.relative_interval, crit)
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return "inconclusive"
    worst, best = (lower, upper) if metric.sign > 0 else (-upper, -lower)
    if worst > -metric.margin:
        return "held"
    if best < 0 and metric.sign * rel_lift < -metric.margin:
        return "failed"
    return "inconclusive"


def _correct(spec: ExperimentSpec, comparisons: list[Comparison], cache: dict) -> None:
    settings = spec.settings
    goals = [c for c in comparisons if c.role == "goal" and math.isfinite(c.p_value)]
    if not goals:
        return
    adjusted = adjust([c.p_value for c in goals], settings.correction)
    alpha_ci = interval_alpha(adjusted, settings.alpha, settings.correction)
    metrics = {m.name: m for m in spec.metrics}
    for c, p in zip(goals, adjusted, strict=True):
        c.adjusted_p_value = float(p)
        metric = metrics[c.metric]
        est = cache.get((c.metric, c.arm)) or _estimates(spec, metric, c.arm, [])
        alternative = _alternative(settings, metric)
        crit = _critical(settings, alpha_ci, c.df, c.n_control + c.n_treatment, alternative)
        (c.adjusted_absolute_lower, c.adjusted_absolute_upper, c.adjusted_relative_lower,
         c.adjusted_relative_upper) = _intervals(est, crit, settings.relative_interval, alternative)
        if c.adjusted_p_value <= settings.alpha:
            c.outcome = "win" if c.sign * c.absolute_lift > 0 else "loss"


def evaluate(spec: ExperimentSpec | dict, rows=None, unit_column: str = "unit_id", variant_column: str = "variant") -> ExperimentResult:
    """Evaluate ``spec`` from its sufficient statistics, or from raw per-unit ``rows`` (DataFrame or Parquet path).

    Returns an :class:`ExperimentResult` with one :class:`Comparison` per (metric, treatment arm), the
    sample-ratio check and the :class:`~experiments.decision.Decision`.
    """
    if not isinstance(spec, ExperimentSpec):
        spec = ExperimentSpec.model_validate(spec)
    if rows is not None:
        from experiments.aggregate import aggregate_spec

        spec = aggregate_spec(spec, rows, unit_column=unit_column, variant_column=variant_column)
    if spec.data is None:
        raise ExperimentError(
            f"experiment {spec.name!r} has no \"data\": give per-variant statistics in the spec or pass raw rows"
        )
    units = spec.units or {v: max(s.n for s in spec.data[v].values()) for v in spec.weights}
    srm = srm_test(units, spec.weights, spec.settings.srm_threshold)
    cache: dict[tuple[str, str], _Estimates] = {}  # each comparison's estimates, reused by the correction
    comparisons = [_compare(spec, metric, arm, cache) for metric in spec.metrics for arm in spec.treatments]
    _correct(spec, comparisons, cache)
    warnings = [f"{c.metric} / {c.arm}: {w}" for c in comparisons for w in c.warnings]
    if srm.flagged:
        warnings.insert(0, f"sample ratio mismatch (p = {srm.p_value:.2g}): the results are not trustworthy")
    for name in srm.skipped:
        warnings.insert(0, (
            f"variant {name!r} has weight 0, so the sample-ratio check leaves it out"
            + (f" although it has {srm.observed[name]} units (if it was switched off during the test, they are "
               "from before; otherwise the assignment is sending units to a closed arm)" if srm.observed[name] else "")
        ))
    if not math.isfinite(srm.p_value):
        warnings.insert(0, "the sample-ratio check needs two variants of positive weight; it was not run")
    for w in warnings:
        logger.warning("%s: %s", spec.name, w)
    decision = decide(
        spec.treatments, comparisons, srm, spec.settings.sequential, sum(units.values()), spec.planned_units
    )
    return ExperimentResult(spec.name, spec.control, spec.settings, srm, comparisons, decision, warnings)


def evaluate_over_time(
    spec: ExperimentSpec | dict, rows, period_column: str, unit_column: str = "unit_id", variant_column: str = "variant"
) -> list[tuple[Any, ExperimentResult]]:
    """Evaluate the cumulative data at the end of each period (e.g. each day), for sequential monitoring."""
    from experiments.aggregate import aggregate_by_period

    if not isinstance(spec, ExperimentSpec):
        spec = ExperimentSpec.model_validate(spec)
    return [
        (period, evaluate(cumulative))
        for period, cumulative in aggregate_by_period(spec, rows, period_column, unit_column, variant_column)
    ]
