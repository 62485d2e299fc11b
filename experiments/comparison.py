"""One metric in one treatment arm against control: the record that analysis fills and the decision reads.

Its own module so that :mod:`experiments.analysis` (which builds comparisons) and :mod:`experiments.decision`
(which reads them) both import it and neither imports the other's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from experiments.bayesian import BayesianResult


@dataclass
class Comparison:
    """One metric in one treatment arm against control: estimates, lifts, intervals, tests and verdict."""

    metric: str
    metric_type: str
    role: str
    direction: str
    arm: str
    control: str
    n_control: int
    n_treatment: int
    control_mean: float
    treatment_mean: float
    absolute_lift: float
    absolute_lower: float
    absolute_upper: float
    standard_error: float
    statistic: float
    df: float
    p_value: float
    relative_lift: float | None
    relative_lower: float | None
    relative_upper: float | None
    relative_method: str
    sequential: bool
    adjusted_p_value: float = math.nan
    adjusted_absolute_lower: float = math.nan
    adjusted_absolute_upper: float = math.nan
    adjusted_relative_lower: float | None = None
    adjusted_relative_upper: float | None = None
    outcome: str = "inconclusive"  # goals: win | loss | inconclusive
    guardrail: str | None = None  # guardrails: held | failed | inconclusive | unknown
    cuped_variance_reduction: float | None = None
    bayesian: BayesianResult | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def sign(self) -> int:
        """+1 when higher is better."""
        return 1 if self.direction == "higher" else -1
