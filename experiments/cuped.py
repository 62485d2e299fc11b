"""CUPED and CUPAC: variance reduction with a pre-period covariate or a model's prediction.

CUPED (Deng, Xu, Kohavi & Walker 2013, "Improving the Sensitivity of Online Controlled Experiments by
Utilizing Pre-Experiment Data", WSDM) analyses ``y - theta (x - mean(x))`` instead of ``y``, with
``theta = cov(y, x) / var(x)``. We pool the within-arm (co)variances of the two arms compared, so a treatment
effect on ``y`` cannot leak into ``theta``. The adjusted variance of an arm's mean is
``(s_y^2 - 2 theta s_xy + theta^2 s_x^2) / n``, i.e. about ``(1 - r^2)`` of the unadjusted one.

CUPAC (Tang et al. 2020, DoorDash) uses as ``x`` a prediction of ``y`` from pre-experiment features, e.g.
shopml's predicted 90-day customer value. Any covariate is valid as long as it is unaffected by the
treatment: compute it from data before the experiment started. :mod:`experiments.cupac` builds such covariates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from experiments.metrics import ArmEstimate, CovariateMoments

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CupedAdjustment:
    """Adjusted estimates of control and treatment, ``theta``, and the variance reduction achieved."""

    control: ArmEstimate
    treatment: ArmEstimate
    theta: float
    variance_reduction: float  # 1 - var(adjusted difference) / var(unadjusted difference)


def cuped_adjust(control: CovariateMoments, treatment: CovariateMoments) -> CupedAdjustment | None:
    """CUPED-adjusted arm estimates; ``None`` when the covariate has no variance (nothing to adjust with)."""
    ss_x = control.ss_x + treatment.ss_x
    if ss_x <= 0:
        return None
    theta = (control.sp_xy + treatment.sp_xy) / ss_x
    n_all = control.n + treatment.n
    mean_x = (control.n * control.mean_x + treatment.n * treatment.mean_x) / n_all

    def adjusted(m: CovariateMoments) -> tuple[ArmEstimate, float]:
        unit_var = max(m.ss_y - 2 * theta * m.sp_xy + theta**2 * m.ss_x, 0.0) / (m.n - 1)
        raw = ArmEstimate(m.mean_y, m.ss_y / (m.n - 1) / m.n, m.n)
        return ArmEstimate(m.mean_y - theta * (m.mean_x - mean_x), unit_var / m.n, m.n), raw.var

    adj_c, raw_c = adjusted(control)
    adj_t, raw_t = adjusted(treatment)
    raw_total = raw_c + raw_t
    reduction = 1 - (adj_c.var + adj_t.var) / raw_total if raw_total > 0 else 0.0
    return CupedAdjustment(adj_c, adj_t, float(theta), float(reduction))
