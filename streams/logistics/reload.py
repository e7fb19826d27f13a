"""Reloading: a truck back at its depot with shift time left reloads and runs again, when that
reaches points the plan leaves out.

After the plan is solved, each truck whose run ends before its shift does gets a second run:
full again, leaving its depot when the first run is back. Those second runs are solved for the
points still unreached alone (the first runs stay as they are) and kept only where they reach
some. The plan then holds two runs for such a truck; its stops are numbered on across both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from streams.domain.dispatch import Instance, Plan, Truck


def with_reloads(plan: Plan, planned: Instance, original: Instance,
                 solve: Callable[[Instance, float], Plan], time_limit: float) -> Plan:
    """``plan`` (solved on ``planned``) plus the second runs, from the depot with a full load
    (each truck as ``original`` has it), that reach points ``plan`` leaves out."""
    left = {u.point_id for u in plan.unreached}
    full = {t.truck_id: t for t in original.trucks}
    trips = [Truck(r.truck.truck_id, r.truck.depot_id, full[r.truck.truck_id].capacity_l,
                   r.back_h, r.truck.shift_end_h)
             for r in plan.routes
             if r.truck.truck_id in full and r.back_h < r.truck.shift_end_h]
    if not left or not trips:
        return plan
    second = solve(replace(planned, needs=[n for n in planned.needs if n.point_id in left],
                           trucks=trips), time_limit)
    if not second.routes:
        return plan
    reached = {s.point_id for r in second.routes for s in r.stops}
    return replace(plan, routes=plan.routes + second.routes,
                   unreached=tuple(u for u in plan.unreached if u.point_id not in reached),
                   solve_seconds=plan.solve_seconds + second.solve_seconds)
