"""The experiment's recommendation: ship, do not ship, keep running, or invalid, and why.

Rules, applied in order:

1. **invalid** when the sample-ratio check flags the split: no lift can be trusted.
2. **keep running** when the test is fixed-horizon and ``planned_units`` has not been reached: reading a
   fixed-horizon test early inflates false positives (use ``sequential`` to be allowed to stop early).
3. **ship** the treatment arm that has at least one goal metric that won (significant after correction, in
   its good direction), no goal that lost, and every guardrail held (non-inferiority shown). With several
   such arms, the one with the largest relative lift on its first winning goal.
4. **do not ship** when every arm lost a goal or failed a guardrail, or when the planned sample is reached
   without a shippable arm (no detectable effect, or guardrails not shown to hold).
5. **keep running** otherwise: no goal is conclusive yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from experiments.comparison import Comparison
    from experiments.srm import SrmResult

Recommendation = Literal["ship", "do not ship", "keep running", "invalid"]


@dataclass(frozen=True)
class ArmVerdict:
    """Which goals an arm won or lost and how its guardrails fared."""

    arm: str
    goals_won: list[str] = field(default_factory=list)
    goals_lost: list[str] = field(default_factory=list)
    guardrails_held: list[str] = field(default_factory=list)
    guardrails_failed: list[str] = field(default_factory=list)
    guardrails_unclear: list[str] = field(default_factory=list)

    @property
    def shippable(self) -> bool:
        """At least one win, no loss, every guardrail held."""
        return bool(self.goals_won) and not self.goals_lost and not self.guardrails_failed and not self.guardrails_unclear

    @property
    def rejected(self) -> bool:
        """A goal lost or a guardrail failed."""
        return bool(self.goals_lost or self.guardrails_failed)


@dataclass(frozen=True)
class Decision:
    """The recommendation, the arm it concerns (if any), the per-arm verdicts and the reasons in words."""

    recommendation: Recommendation
    arm: str | None
    verdicts: list[ArmVerdict]
    reasons: list[str]

    def __str__(self) -> str:
        target = f" {self.arm}" if self.arm else ""
        return f"{self.recommendation}{target}: " + " ".join(self.reasons)


def _verdict(arm: str, comparisons: Sequence[Comparison]) -> ArmVerdict:
    verdict = ArmVerdict(arm)
    for c in comparisons:
        if c.arm != arm:
            continue
        if c.role == "goal":
            if c.outcome == "win":
                verdict.goals_won.append(c.metric)
            elif c.outcome == "loss":
                verdict.goals_lost.append(c.metric)
        else:
            {"held": verdict.guardrails_held, "failed": verdict.guardrails_failed}.get(
                c.guardrail, verdict.guardrails_unclear
            ).append(c.metric)
    return verdict


def _describe(v: ArmVerdict) -> str:
    parts = []
    if v.goals_won:
        parts.append(f"won {', '.join(v.goals_won)}")
    if v.goals_lost:
        parts.append(f"lost {', '.join(v.goals_lost)}")
    if not v.goals_won and not v.goals_lost:
        parts.append("no conclusive goal")
    if v.guardrails_failed:
        parts.append(f"guardrail(s) failed: {', '.join(v.guardrails_failed)}")
    if v.guardrails_unclear:
        parts.append(f"guardrail(s) not yet shown to hold: {', '.join(v.guardrails_unclear)}")
    if v.guardrails_held and not v.guardrails_failed and not v.guardrails_unclear:
        parts.append("all guardrails held")
    return f"{v.arm}: " + "; ".join(parts) + "."


def decide(
    treatments: Sequence[str],
    comparisons: Sequence[Comparison],
    srm: SrmResult,
    sequential: bool,
    total_units: int,
    planned_units: int | None,
) -> Decision:
    """Apply the rules of the module docstring."""
    verdicts = [_verdict(arm, comparisons) for arm in treatments]
    reasons = [_describe(v) for v in verdicts]
    if srm.flagged:
        return Decision(
            "invalid",
            None,
            verdicts,
            [f"sample ratio mismatch (chi-square p = {srm.p_value:.2g} < {srm.threshold}): observed "
             f"{srm.observed} vs expected {({k: round(e) for k, e in srm.expected.items()})}; fix assignment or "
             "logging before reading any lift."],
        )
    reached = planned_units is not None and total_units >= planned_units
    if not sequential and planned_units is not None and not reached:
        return Decision(
            "keep running",
            None,
            verdicts,
            [f"fixed-horizon test at {total_units} of {planned_units} planned units; reading it early inflates "
             "false positives (use sequential testing to stop early)."] + reasons,
        )
    shippable = [v for v in verdicts if v.shippable]
    if shippable:
        def best_lift(v: ArmVerdict) -> float:
            goal = v.goals_won[0]
            c = next(c for c in comparisons if c.arm == v.arm and c.metric == goal)
            lift = c.relative_lift if c.relative_lift is not None else c.absolute_lift
            return c.sign * lift

        best = max(shippable, key=best_lift)
        return Decision("ship", best.arm, verdicts, reasons)
    if all(v.rejected for v in verdicts):
        return Decision("do not ship", None, verdicts, reasons)
    if reached:
        return Decision(
            "do not ship", None, verdicts, reasons + ["planned sample reached without a shippable arm."]
        )
    note = (
        "no shippable arm yet; keep collecting data."
        if sequential
        else "no shippable arm yet; if the planned sample is reached, do not ship (set planned_units to decide)."
    )
    return Decision("keep running", None, verdicts, reasons + [note])
