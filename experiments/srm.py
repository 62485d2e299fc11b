"""Sample ratio mismatch: are units split as the design intended?

Pearson's chi-square goodness-of-fit test of the observed units per arm against ``N * weight``
(Fabijan et al. 2019, "Diagnosing Sample Ratio Mismatch in Online Controlled Experiments", KDD). A p-value
below the threshold (0.001 by default, as Microsoft's ExP and GrowthBook use) means the assignment or the
logging is broken, and no lift from the experiment can be trusted.

Arms with weight 0 (a variant switched off, or kept for its earlier units) are left out of the test, which
then compares the other arms against their weights renormalised to one, as GrowthBook does; the result lists
them in ``skipped``. With fewer than two arms of positive weight there is nothing to test: the p-value is NaN
and nothing is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from experiments.errors import ExperimentError


@dataclass(frozen=True)
class SrmResult:
    """Observed and expected units per arm, the chi-square test, and whether it flags a mismatch.

    ``skipped`` lists arms of weight 0, left out of the test (their ``expected`` is 0).
    """

    observed: dict[str, int]
    expected: dict[str, float]
    chi2: float
    p_value: float
    threshold: float
    skipped: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """True when the split is implausible under the intended weights."""
        return self.p_value < self.threshold


def srm_test(observed: dict[str, int], weights: dict[str, float], threshold: float = 0.001) -> SrmResult:
    """Chi-square test of ``observed`` units against the intended ``weights`` (which must sum to one).

    Arms of weight 0 are skipped (see the module docstring).
    """
    unknown = sorted(set(observed) - set(weights))
    if unknown:
        raise ExperimentError(f"SRM: units for unknown variant(s) {unknown}; known: {sorted(weights)}")
    total_weight = sum(weights.values())
    if abs(total_weight - 1) > 1e-6:
        raise ExperimentError(f"SRM: variant weights sum to {total_weight}, not 1; fix the weights")
    if any(w < 0 for w in weights.values()):
        raise ExperimentError(f"SRM: weights must not be negative, got {weights}")
    names = [name for name, w in weights.items() if w > 0]
    skipped = [name for name, w in weights.items() if w == 0]
    counts = np.array([observed.get(name, 0) for name in names], float)
    total = counts.sum()
    if total <= 0:
        raise ExperimentError("SRM: no units in any variant of positive weight")
    shares = np.array([weights[name] for name in names])
    expected = total * shares / shares.sum()
    if len(names) < 2:
        chi2, p = float("nan"), float("nan")
    else:
        chi2 = float(np.sum((counts - expected) ** 2 / expected))
        p = float(stats.chi2.sf(chi2, len(names) - 1))
    return SrmResult(
        observed={**{n: int(c) for n, c in zip(names, counts, strict=True)},
                  **{n: int(observed.get(n, 0)) for n in skipped}},
        expected={**{n: float(e) for n, e in zip(names, expected, strict=True)}, **dict.fromkeys(skipped, 0.0)},
        chi2=chi2,
        p_value=p,
        threshold=threshold,
        skipped=skipped,
    )
