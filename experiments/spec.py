"""The experiment spec: a JSON-serialisable pydantic model, also the service's request body.

A spec names the variants (one control, intended weights summing to one), the metrics, the analysis
settings, and either the per-arm sufficient statistics (``data``) or nothing, when raw per-unit rows are
passed separately to :func:`experiments.evaluate`. Limits keep one request bounded: at most
:data:`MAX_ARMS` arms and :data:`MAX_METRICS` metrics, and every number within its domain
(:data:`experiments.metrics.MAX_UNITS` units per arm, statistics bounded and possible, see
:class:`~experiments.metrics.MetricStats`); NaN and infinities are refused.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from experiments.corrections import Correction
from experiments.frequentist import RelativeMethod
from experiments.metrics import MAX_UNITS, MetricSpec, MetricStats

MAX_ARMS = 20
MAX_METRICS = 100
MAX_PRIOR_LIFT = 10.0
"""Largest prior mean or sd of a relative lift (1,000 %); beyond it a prior says nothing a flat one does not."""
MAX_TUNING_UNITS = float(MAX_UNITS) * MAX_ARMS


class VariantSpec(BaseModel):
    """One arm of the experiment and its intended share of traffic."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    weight: float = Field(
        ge=0, le=1, allow_inf_nan=False,
        description="Intended share of traffic; 0 for an arm switched off (left out of the sample-ratio check).",
    )
    control: bool = False


class PriorSpec(BaseModel):
    """Prior on the lift for the Bayesian summary; ``sd=None`` is a flat prior."""

    model_config = ConfigDict(extra="forbid")

    mean: float = Field(0.0, ge=-MAX_PRIOR_LIFT, le=MAX_PRIOR_LIFT, allow_inf_nan=False)
    sd: float | None = Field(
        0.3,
        gt=0,
        le=MAX_PRIOR_LIFT,
        allow_inf_nan=False,
        description="Prior sd of the lift (0.3 = relative lifts rarely exceed 60%).",
    )


class AnalysisSettings(BaseModel):
    """How to test: level, sidedness, relative-lift interval, correction, sequential testing, prior."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(0.05, gt=0, lt=0.5, allow_inf_nan=False)
    test: Literal["two-sided", "one-sided"] = Field(
        "two-sided", description="one-sided tests for an improvement in each metric's good direction."
    )
    relative_interval: RelativeMethod = "fieller"
    correction: Correction = "holm"
    sequential: bool = Field(False, description="Always-valid intervals and p-values (safe to peek).")
    sequential_tuning: float = Field(
        5000,
        gt=0,
        le=MAX_TUNING_UNITS,
        allow_inf_nan=False,
        description="Units at which the confidence sequence is tightest.",
    )
    bayesian_scale: Literal["relative", "absolute"] = "relative"
    prior: PriorSpec = Field(default_factory=PriorSpec)
    srm_threshold: float = Field(0.001, gt=0, lt=1, allow_inf_nan=False)


class ExperimentSpec(BaseModel):
    """A whole experiment to evaluate: variants, metrics, settings, and optionally its statistics.

    ``data[variant][metric]`` holds :class:`~experiments.metrics.MetricStats`. ``units[variant]`` are the
    units assigned (for the sample-ratio check); when omitted, each variant's largest metric ``n`` is used.
    ``planned_units`` (total across arms) lets the decision say whether a fixed-horizon test is done.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    variants: list[VariantSpec] = Field(min_length=2, max_length=MAX_ARMS)
    metrics: list[MetricSpec] = Field(min_length=1, max_length=MAX_METRICS)
    settings: AnalysisSettings = Field(default_factory=AnalysisSettings)
    data: dict[str, dict[str, MetricStats]] | None = None
    units: dict[str, Annotated[int, Field(ge=0, le=MAX_UNITS)]] | None = None
    planned_units: int | None = Field(None, gt=0, le=MAX_UNITS * MAX_ARMS)

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        controls = [v.name for v in self.variants if v.control]
        if len(controls) != 1:
            raise ValueError(f"exactly one variant must have \"control\": true, found {len(controls)}")
        total = sum(v.weight for v in self.variants)
        if abs(total - 1) > 1e-6:
            raise ValueError(f"variant weights sum to {total:.6g}, not 1; rescale them")
        metric_names = [m.name for m in self.metrics]
        if len(set(metric_names)) != len(metric_names):
            raise ValueError(f"metric names must be unique, got {metric_names}")
        for label, mapping in (("data", self.data), ("units", self.units)):
            if mapping is None:
                continue
            unknown = sorted(set(mapping) - set(names))
            if unknown:
                raise ValueError(f"{label} has unknown variant(s) {unknown}; the spec's variants are {names}")
            missing = sorted(set(names) - set(mapping))
            if missing:
                raise ValueError(f"{label} has no entry for variant(s) {missing}")
        for variant, per_metric in (self.data or {}).items():
            unknown = sorted(set(per_metric) - set(metric_names))
            if unknown:
                raise ValueError(f"data[{variant!r}] has unknown metric(s) {unknown}; declare them in \"metrics\"")
            missing = sorted(set(metric_names) - set(per_metric))
            if missing:
                raise ValueError(f"data[{variant!r}] lacks statistics for metric(s) {missing}")
        return self

    @property
    def control(self) -> str:
        """Name of the control variant."""
        return next(v.name for v in self.variants if v.control)

    @property
    def treatments(self) -> list[str]:
        """Names of the treatment variants, in spec order."""
        return [v.name for v in self.variants if not v.control]

    @property
    def weights(self) -> dict[str, float]:
        """Intended traffic share per variant."""
        return {v.name: v.weight for v in self.variants}
