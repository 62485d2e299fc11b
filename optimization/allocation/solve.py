"""``allocate``: choose the solver a request needs, solve, and check the plan independently.

The choice follows the structure of the problem, not a guess: without a constraint that couples SKUs the
problem is one min-cost flow per SKU (fast, whole units, proven optimal); when transfers could fill a
warehouse beyond its capacity the SKUs share rows and the LP solves them jointly; minimum lots and fixed
lane costs need binaries and go to the MIP. Every plan is run through the checker before it is returned, and one
that fails it raises :class:`~shopml.errors.VerificationError` instead.
"""

from __future__ import annotations

import logging

from optimization.allocation.errors import AllocationInputError
from optimization.allocation.plan import AllocationPlan
from optimization.allocation.problem import AllocationProblem
from optimization.allocation.request import AllocationRequest
from shopml.errors import VerificationError

log = logging.getLogger(__name__)

METHODS = ("auto", "flow", "lp", "mip")


def choose_method(problem: AllocationProblem) -> str:
    """The solver ``auto`` picks: ``mip`` for lots / lane costs, ``lp`` when capacity couples SKUs, else ``flow``."""
    opts = problem.options
    if opts.has_discrete_rules:
        return "mip"
    if problem.capacity_may_bind:
        return "lp"
    return "flow"


def allocate(request: AllocationRequest | AllocationProblem, *, method: str | None = None) -> AllocationPlan:
    """Solve an allocation request and return a plan that has been through the independent checker.

    Parameters
    ----------
    request : AllocationRequest or AllocationProblem
        A validated request (JSON boundary) or a problem built with :func:`build_problem` from frames,
        including the forecaster's quantile frame.
    method : str, optional
        Override ``options.method``: ``auto``, ``flow``, ``lp`` or ``mip``.

    Returns
    -------
    AllocationPlan
        With ``verification`` set and passed.

    Raises
    ------
    VerificationError
        When the plan fails the independent checker (a bug in a solver or the bookkeeping, never a valid
        answer); ``findings`` lists the checker's violations and the service answers 422 with them.
    """
    problem = request.to_problem() if isinstance(request, AllocationRequest) else request
    if not isinstance(problem, AllocationProblem):
        raise AllocationInputError(
            f"allocate() takes an AllocationRequest or an AllocationProblem, not {type(request).__name__}"
        )
    chosen = method or problem.options.method
    if chosen not in METHODS:
        raise AllocationInputError(f"method {chosen!r} is unknown; use one of {', '.join(METHODS)}")
    if chosen == "auto":
        chosen = choose_method(problem)
    if chosen == "flow" and problem.options.has_discrete_rules:
        raise AllocationInputError("min_lot / lane_fixed_cost need the MIP; use method 'mip' or 'auto'")
    if chosen == "lp" and problem.options.has_discrete_rules:
        raise AllocationInputError("min_lot / lane_fixed_cost need the MIP; use method 'mip' or 'auto'")
    if chosen == "flow" and problem.capacity_may_bind:
        raise AllocationInputError(
            "warehouse capacity may bind after transfers, which couples SKUs; use method 'lp' (or 'auto'), "
            "or set allow_transfers to false"
        )
    if chosen == "flow":
        from optimization.allocation.network import solve_flow

        plan = solve_flow(problem)
    elif chosen == "lp":
        from optimization.allocation.lp import solve_lp

        plan = solve_lp(problem)
    else:
        from optimization.allocation.mip import solve_mip

        plan = solve_mip(problem)
    report = plan.check()
    plan.verification = report
    if not report.ok:
        log.error("allocation plan failed its check: %s", "; ".join(report.violations))
        raise VerificationError(
            f"the {chosen} allocation plan failed its independent check ({len(report.violations)} violation(s), "
            f"first: {report.violations[0]}); this is a bug in the solver, not in the request: please report it",
            report.violations,
        )
    return plan
