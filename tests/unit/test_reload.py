"""Reloading: a truck back at its depot with shift left runs again for the points left out."""

from __future__ import annotations

from streams.domain import dispatch_best
from streams.domain.dispatch import violations
from streams.logistics.reload import with_reloads
from tests.unit.test_dispatch import instance, need, truck


def test_a_truck_back_early_reloads_and_reaches_the_points_its_first_run_could_not() -> None:
    # 250 l in the truck, four points of 100 l 10-40 km out, all due within 8 h.
    problem = instance([need(f"P{i}", 10.0 * i, 8.0) for i in range(1, 5)],
                       [truck("T", capacity=250.0)])
    first = dispatch_best.solve(problem, 1.0)
    assert first.reached == 2
    plan = with_reloads(first, problem, problem, dispatch_best.solve, 1.0)
    assert plan.reached == 4 and plan.unreached == ()
    runs = [r for r in plan.routes if r.truck.truck_id == "T"]
    assert len(runs) == 2 and runs[1].leaves_h == runs[0].back_h  # reloaded, then out again
    assert all(sum(s.litres for s in r.stops) <= 250.0 for r in runs)
    assert all(s.arrive_h <= s.deadline_h for r in runs for s in r.stops)
    assert violations(first, problem) == []


def test_no_second_run_when_nothing_is_left_out() -> None:
    problem = instance([need("P1", 10.0, 8.0)], [truck("T")])
    first = dispatch_best.solve(problem, 1.0)
    assert with_reloads(first, problem, problem, dispatch_best.solve, 1.0) is first
