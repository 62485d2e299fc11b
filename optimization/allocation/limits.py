"""Domain limits of every number an allocation or replenishment request may carry.

One owner for the bounds that the request schema (and so the OpenAPI document) shows and that
:func:`optimization.allocation.problem.build_problem` enforces on frames from Python callers. They are far
beyond any shop's period, and they keep the solvers exact: the min-cost flow scales costs into int64 (see
``network._cost_scale``), the LP and MIP solve in doubles, and the checker compares totals with a relative
tolerance. Without them one demand of 1e300 overflowed the integer demand curves and came back as an
"optimal" plan with an objective of -3.29e300 (issue 15).
"""

from __future__ import annotations

MAX_UNITS = 1_000_000_000
"""Largest stock, demand (point or quantile), warehouse capacity, lot or order in units: a billion units of one
SKU in one place. Its demand curves stay well inside int64 and a plan's unit totals stay exact in doubles."""
MAX_UNIT_COST = 1_000_000.0
"""Largest cost per unit (shipping, transfer, shortage penalty, holding, handling) and lane fixed cost, in the
shop currency. With :data:`MAX_UNITS` the objective stays below 1e15 per row, exact to a cent in doubles."""
MAX_RATE_PER_KM = 1_000.0
"""Largest default rate per unit-km; half the Earth's circumference at this rate is still below
:data:`MAX_UNIT_COST` times 20."""
