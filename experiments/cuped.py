"""CUPED and CUPAC: variance reduction with a pre-period covariate or a model's prediction.

CUPED (Deng, Xu, Kohavi & Walker 2013, "Improving the Sensitivity of Online Controlled Experiments by
Utilizing Pre-Experiment Data", WSDM) analyses ``y - theta (x - mean(x))`` instead of ``y``, with
``theta = cov(y, x) / var(x)``. We pool the within-arm (co)variances of the two arms compared, so a treatment
effect on ``y`` cannot leak into ``theta``. The adjusted variance of an arm's mean is
``(s_y^2 - 2 theta s_xy + theta^2 s_x^2) / n``, i.e. about ``(1 - r^2)`` of the unadjusted one.

Relative lift: the adjusted difference divided by the *unadjusted* control mean,
``(m_t - m_c - theta (x_t - x_c)) / m_c``, as GrowthBook's gbstats and the CUPED literature do (Deng et al.
2013, section 3.3 reports percent changes against the control's observed mean). Written as a ratio of
``T = m_t - theta (x_t - x_c)`` (the treatment mean at the control's covariate mean) to ``C = m_c``, the two
share the control's sample, ``Cov(T, C) = theta s_xy,c / n_c``, which the relative intervals take into
account (delta method with ``theta`` held fixed). gbstats ignores that covariance and scales the adjusted
control variance by ``(m_t / m_c)^2`` instead; the two agree when the lift is zero.

Ratio metrics (revenue per order with the customer as the unit) use the linearised ratio
``z_i = (N_i - R D_i) / mean(D)`` as the outcome (Deng, Knoblich & Lu 2018, KDD, section 3.3: the delta
method as a per-unit variable), so everything above applies with ``y`` = ``z`` and ``m`` = the arm's ratio;
:func:`experiments.metrics.covariate_moments` builds these moments (a ratio needs ``den_cov_cross_sum``, the
sum of denominator x covariate, besides the covariate fields). One covariate is used: the pre-period numerator
(e.g. revenue before the test), a prediction (CUPAC), or GrowthBook's choice, the linearised pre-period ratio
``N_pre - R_pre D_pre`` computed per unit with the pre-period's pooled ratio ``R_pre``.

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
    """Adjusted estimates of control and treatment, ``theta``, the variance reduction achieved, and the pair
    the relative lift divides (see the module docstring).

    ``control``/``treatment`` are centred at the pooled covariate mean and carry the adjusted per-arm variances
    (the absolute difference and Welch's test use them); ``relative_control`` is the unadjusted control mean,
    ``relative_treatment`` the treatment mean at the control's covariate mean, ``relative_covariance`` the
    covariance of the two. ``relative_treatment.mean - relative_control.mean`` is the adjusted difference.
    """

    control: ArmEstimate
    treatment: ArmEstimate
    theta: float
    variance_reduction: float  # 1 - var(adjusted difference) / var(unadjusted difference)
    relative_control: ArmEstimate
    relative_treatment: ArmEstimate
    relative_covariance: float


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
    n_c = control.n
    shared_x = theta**2 * control.ss_x / (n_c - 1) / n_c  # Var(theta x_c), the control term T carries
    relative_t = ArmEstimate(
        treatment.mean_y - theta * (treatment.mean_x - control.mean_x), adj_t.var + shared_x, treatment.n
    )
    covariance = theta * control.sp_xy / (n_c - 1) / n_c
    return CupedAdjustment(
        adj_c, adj_t, float(theta), float(reduction), ArmEstimate(control.mean_y, raw_c, n_c), relative_t,
        float(covariance),
    )
