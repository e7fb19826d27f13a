"""The dispatch plan: solver and greedy baseline keep capacity, deadlines and shifts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.dispatch import (
    Depot,
    Instance,
    Need,
    Place,
    Travel,
    Truck,
    addable,
    great_circle_km,
    greedy,
    violations,
)
from streams.domain.dispatch_solver import solve

DEPOT = Depot("D", "Depot", Place(50.0, 30.0))
# 1.0 detour, 60 km/h, no stop time: an hour is 60 km of great circle.
TRAVEL = Travel(detour_factor=1.0, average_speed_kmh=60.0, stop_minutes=0.0)
KM_PER_DEG_LAT = great_circle_km(Place(50.0, 30.0), Place(51.0, 30.0))


def north(km: float) -> Place:
    return Place(50.0 + km / KM_PER_DEG_LAT, 30.0)


def need(point_id: str, km: float, deadline_h: float, litres: float = 100.0) -> Need:
    return Need(point_id, point_id, north(km), litres, deadline_h + 1.0, deadline_h)


def truck(truck_id: str = "T", capacity: float = 10_000.0, start: float = 0.0,
          end: float = 12.0) -> Truck:
    return Truck(truck_id, "D", capacity, start, end)


def instance(needs: list[Need], trucks: list[Truck]) -> Instance:
    return Instance(needs, [DEPOT], trucks, TRAVEL)


def test_two_points_on_one_road_are_one_run_out_and_back() -> None:
    problem = instance([need("far", 60, 5), need("near", 30, 0.6)], [truck()])
    plan = solve(problem, time_limit_seconds=1)
    assert violations(plan, problem) == []
    assert plan.reached == 2 and plan.unreached == ()
    assert [s.point_id for s in plan.routes[0].stops] == ["near", "far"]
    assert plan.km == pytest.approx(120, rel=0.01)  # the optimum: 60 km out, 60 back
    assert plan.routes[0].stops[1].arrive_h == pytest.approx(1.0, rel=0.01)


def test_a_truck_never_carries_more_than_its_capacity() -> None:
    problem = instance([need("a", 10, 5, litres=6000), need("b", 20, 5, litres=6000)],
                       [truck(capacity=8000)])
    for plan in (solve(problem, time_limit_seconds=1), greedy(problem)):
        assert violations(plan, problem) == []
        assert plan.reached == 1
        assert "full or busy" in plan.unreached[0].reason


def test_a_point_no_truck_reaches_before_it_runs_dry_is_listed_with_why() -> None:
    problem = instance([need("remote", 120, 1.0)], [truck()])  # two hours away, one hour left
    plan = solve(problem, time_limit_seconds=1)
    assert plan.reached == 0
    assert plan.unreached[0].point_id == "remote"
    assert "would arrive in 2.0 h" in plan.unreached[0].reason


def test_no_truck_on_shift_before_the_deadline_reaches_nobody() -> None:
    problem = instance([need("p", 30, 3.0)], [truck(start=5.0, end=17.0)])
    plan = solve(problem, time_limit_seconds=1)
    assert plan.reached == 0
    assert "would arrive in 5.5 h" in plan.unreached[0].reason


def test_a_point_already_within_the_safety_margin_is_first_and_says_so() -> None:
    problem = instance([need("ok", 10, 5.0), need("dry", 10, -0.5)], [truck()])
    plan = solve(problem, time_limit_seconds=1)
    assert [u.point_id for u in plan.unreached] == ["dry"]
    assert "safety margin" in plan.unreached[0].reason


def test_the_solver_reaches_what_the_greedy_baseline_misses() -> None:
    # Most urgent first drives south, then past "b" to "a", and cannot turn back to "b" in
    # time; the solver stops at "b" on the way to "a".
    problem = instance([need("c", -30, 1.5), need("a", 60, 2.1), need("b", 30, 2.2)],
                       [truck()])
    baseline = greedy(problem)
    assert baseline.reached == 2
    assert addable(baseline, problem) == ["b"]  # one more stop, on the way, would serve it
    plan = solve(problem, time_limit_seconds=1)
    assert violations(plan, problem) == []
    assert plan.reached == 3 and addable(plan, problem) == []
    assert [s.point_id for s in plan.routes[0].stops] == ["c", "b", "a"]


_needs = st.lists(
    st.tuples(st.floats(-80, 80), st.floats(-1.0, 6.0), st.floats(50, 4000)),
    min_size=1, max_size=8,
)
_trucks = st.lists(
    st.tuples(st.floats(1000, 9000), st.floats(-2.0, 4.0), st.floats(2.0, 12.0)),
    min_size=1, max_size=3,
)


@settings(max_examples=25, deadline=None)
@given(needs=_needs, trucks=_trucks)
def test_no_plan_ever_breaks_capacity_deadlines_or_shifts(
    needs: list[tuple[float, float, float]], trucks: list[tuple[float, float, float]],
) -> None:
    problem = instance(
        [need(f"p{i}", km, deadline, litres) for i, (km, deadline, litres) in enumerate(needs)],
        [truck(f"t{i}", capacity, start, start + hours)
         for i, (capacity, start, hours) in enumerate(trucks)],
    )
    for plan in (solve(problem, time_limit_seconds=0.2), greedy(problem)):
        assert violations(plan, problem) == []
        reached = {s.point_id for r in plan.routes for s in r.stops}
        assert reached.isdisjoint(u.point_id for u in plan.unreached)
        assert len(reached) + len(plan.unreached) == len(needs)
