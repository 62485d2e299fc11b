"""A/B test statistics and deterministic variant assignment.

The facade:

* :func:`evaluate` an :class:`ExperimentSpec` (sufficient statistics, or raw rows) into an
  :class:`ExperimentResult` with ``.summary()``, ``.decision`` and ``.to_dict()``;
* :func:`plan_sample_size`, :func:`minimum_detectable_effect` and :func:`power_at` for planning;
* :func:`customer_value_covariate` (CUPAC with shopml's predicted customer value) and
  :func:`prediction_covariate` (any fitted model) to build variance-reduction covariates;
* :func:`assign` a unit to a variant (and :func:`assign_many` for batches);
* :func:`forest_plot` and :func:`sequential_plot` for pictures.

Methods, formulas and conventions are documented in ``docs/experiments.md`` and in each module.
"""

from typing import TYPE_CHECKING

from shopml.lazy import lazy_exports

if TYPE_CHECKING:
    from experiments.analysis import ExperimentResult, evaluate, evaluate_over_time
    from experiments.assignment import Assignment, AssignmentSpec, HoldoutSpec, assign, assign_many
    from experiments.comparison import Comparison
    from experiments.cupac import (
        CovariateReport,
        customer_value_covariate,
        prediction_covariate,
    )
    from experiments.decision import Decision
    from experiments.errors import ExperimentError
    from experiments.metrics import MetricSpec, MetricStats
    from experiments.plots import forest_plot, sequential_plot
    from experiments.power import (
        Plan,
        PlanRequest,
        minimum_detectable_effect,
        plan_sample_size,
        power_at,
        unit_sd_from_stats,
    )
    from experiments.spec import AnalysisSettings, ExperimentSpec, PriorSpec, VariantSpec

__getattr__ = lazy_exports(__name__, {
    "ExperimentResult": "experiments.analysis",
    "evaluate": "experiments.analysis",
    "evaluate_over_time": "experiments.analysis",
    "Assignment": "experiments.assignment",
    "AssignmentSpec": "experiments.assignment",
    "HoldoutSpec": "experiments.assignment",
    "assign": "experiments.assignment",
    "assign_many": "experiments.assignment",
    "Comparison": "experiments.comparison",
    "CovariateReport": "experiments.cupac",
    "customer_value_covariate": "experiments.cupac",
    "prediction_covariate": "experiments.cupac",
    "Decision": "experiments.decision",
    "ExperimentError": "experiments.errors",
    "MetricSpec": "experiments.metrics",
    "MetricStats": "experiments.metrics",
    "forest_plot": "experiments.plots",
    "sequential_plot": "experiments.plots",
    "Plan": "experiments.power",
    "PlanRequest": "experiments.power",
    "minimum_detectable_effect": "experiments.power",
    "plan_sample_size": "experiments.power",
    "power_at": "experiments.power",
    "unit_sd_from_stats": "experiments.power",
    "AnalysisSettings": "experiments.spec",
    "ExperimentSpec": "experiments.spec",
    "PriorSpec": "experiments.spec",
    "VariantSpec": "experiments.spec",
})

__all__ = [
    "AnalysisSettings",
    "Assignment",
    "AssignmentSpec",
    "Comparison",
    "CovariateReport",
    "Decision",
    "ExperimentError",
    "ExperimentResult",
    "ExperimentSpec",
    "HoldoutSpec",
    "MetricSpec",
    "MetricStats",
    "Plan",
    "PlanRequest",
    "PriorSpec",
    "VariantSpec",
    "assign",
    "assign_many",
    "customer_value_covariate",
    "evaluate",
    "evaluate_over_time",
    "forest_plot",
    "minimum_detectable_effect",
    "plan_sample_size",
    "power_at",
    "prediction_covariate",
    "sequential_plot",
    "unit_sd_from_stats",
]
