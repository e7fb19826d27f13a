"""The plan dispatchers get: both solvers within one time budget, the better plan kept.

Measured on ``make bench-dispatch``'s instances (docs/oncall.md), VROOM reaches more points
than OR-Tools on most and solves in a few seconds; OR-Tools is sometimes the better one on
kilometres or a point. Running VROOM first and giving OR-Tools what is left of the budget costs
no more time than OR-Tools alone did, and the plan kept is never worse than either
(:meth:`streams.domain.dispatch.Plan.better_than`: weight reached, then points, then km).
"""

from __future__ import annotations

import time

from streams.domain import dispatch_solver, dispatch_vroom
from streams.domain.dispatch import Instance, Plan

# OR-Tools gets at least this long even when VROOM used the whole budget.
_MIN_SECONDS = 1.0


def solve(instance: Instance, time_limit_seconds: float = 10.0) -> Plan:
    """The better of VROOM's and OR-Tools' plans, both within ``time_limit_seconds``."""
    started = time.perf_counter()
    first = dispatch_vroom.solve(instance, time_limit_seconds)
    left = max(_MIN_SECONDS, time_limit_seconds - (time.perf_counter() - started))
    second = dispatch_solver.solve(instance, left)
    return choose(first, second, instance, time.perf_counter() - started)


def choose(a: Plan, b: Plan, instance: Instance, seconds: float) -> Plan:
    """The better of two plans (``a`` on a tie), timed ``seconds`` and named after its solver."""
    best = b if b.better_than(a, instance) else a
    return Plan(best.method, best.routes, best.unreached, seconds)
