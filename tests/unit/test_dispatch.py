"""The dispatch plan: solver and greedy baseline keep capacity, deadlines and shifts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain import dispatch_best, dispatch_vroom
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
from streams.domain.dispatch_alerts import planned_refuels
from streams.domain.dispatch_solver import solve

DEPOT = Depot("D", "Depot", Place(50.0, 30.0))
# 1.0 detour, 60 km/h, no stop time: an hour is 60 km of great circle.
TRAVEL = Travel(detour_factor=1.0, average_speed_kmh=60.0, stop_minutes=0.0)
KM_PER_DEG_LAT = great_circle_km(Place(50.0, 30.0), Place(51.0, 30.0))


def north(km: float) -> Place:
    return Place(50.0 + km / KM_PER_DEG_LAT, 30.0)


def need(point_id: str, km: float, deadline_h: float, litres: float = 100.0,
         burn_lph: float = 0.0, tank_l: float = 10_000.0) -> Need:
    return Need(point_id, point_id, north(km), litres, deadline_h + 1.0, deadline_h, burn_lph,
                tank_l)


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
    st.tuples(st.floats(-80, 80), st.floats(-1.0, 6.0), st.floats(50, 4000), st.floats(0, 300)),
    min_size=1, max_size=8,
)
_trucks = st.lists(
    st.tuples(st.floats(1000, 9000), st.floats(-2.0, 4.0), st.floats(2.0, 12.0)),
    min_size=1, max_size=3,
)


@settings(max_examples=25, deadline=None)
@given(needs=_needs, trucks=_trucks)
def test_no_plan_ever_breaks_capacity_deadlines_or_shifts(
    needs: list[tuple[float, float, float, float]], trucks: list[tuple[float, float, float]],
) -> None:
    problem = instance(
        [need(f"p{i}", km, deadline, litres, burn, tank_l=litres + 2000)
         for i, (km, deadline, litres, burn) in enumerate(needs)],
        [truck(f"t{i}", capacity, start, start + hours)
         for i, (capacity, start, hours) in enumerate(trucks)],
    )
    for plan in (solve(problem, time_limit_seconds=0.2), greedy(problem),
                 dispatch_vroom.solve(problem, time_limit_seconds=1)):
        assert violations(plan, problem) == []
        reached = {s.point_id for r in plan.routes for s in r.stops}
        assert reached.isdisjoint(u.point_id for u in plan.unreached)
        assert len(reached) + len(plan.unreached) == len(needs)


def test_a_stop_delivers_what_the_tank_needs_when_the_truck_arrives() -> None:
    # 60 km away: the truck arrives after 1 h; the generator burns 50 l/h meanwhile.
    problem = instance([need("p", 60, 5.0, litres=100, burn_lph=50)], [truck()])
    plan = solve(problem, time_limit_seconds=1)
    stop = plan.routes[0].stops[0]
    assert stop.arrive_h == pytest.approx(1.0, rel=0.01)
    assert stop.litres_at_plan == 100
    assert stop.litres == pytest.approx(150, rel=0.01)
    assert plan.litres == pytest.approx(150, rel=0.01) and plan.litres_at_plan == 100


def test_litres_at_arrival_never_exceed_the_tank() -> None:
    assert Need("p", "p", None, 100, 10, 9, burn_lph=50, tank_l=180).litres_at(5) == 180
    assert Need("p", "p", None, 100, 10, 9, burn_lph=50, tank_l=180).litres_at(1) == 150
    assert Need("p", "p", None, 100, 10, 9, burn_lph=50, tank_l=180).litres_at(-1) == 100


def test_capacity_counts_the_litres_at_arrival() -> None:
    # Each fills 3000 l now and burns 1000 l/h; both reached after ~1 h need ~4000 l each:
    # at plan time they would fit in 7000 l, at arrival they do not.
    needs = [need("a", 55, 1.5, litres=3000, burn_lph=1000),
             need("b", 60, 1.5, litres=3000, burn_lph=1000)]
    problem = instance(needs, [truck(capacity=7000)])
    for plan in (solve(problem, time_limit_seconds=1), dispatch_vroom.solve(problem),
                 greedy(problem)):
        assert violations(plan, problem) == []
        assert plan.reached == 1


def test_vroom_and_the_chosen_plan_reach_what_or_tools_reaches() -> None:
    problem = instance([need("c", -30, 1.5), need("a", 60, 2.1), need("b", 30, 2.2)],
                       [truck()])
    plan = dispatch_vroom.solve(problem, time_limit_seconds=1)
    assert violations(plan, problem) == [] and plan.reached == 3
    best = dispatch_best.solve(problem, time_limit_seconds=1)
    assert best.reached == 3 and best.method in ("vroom", "or-tools")


def test_a_heavier_point_wins_when_only_one_can_be_reached() -> None:
    light = need("light", 10, 5, litres=6000)
    heavy = Need("heavy", "heavy", north(20), 6000, 6.0, 5.0, weight=3.0)
    problem = instance([light, heavy], [truck(capacity=8000)])
    for plan in (solve(problem, time_limit_seconds=1), dispatch_vroom.solve(problem)):
        assert [s.point_id for r in plan.routes for s in r.stops] == ["heavy"]


def test_the_alerts_read_the_truck_that_comes_or_why_none_can() -> None:
    instance = Instance([need("near", 60, 5), need("far", 600, 2)], [DEPOT], [truck("T1")],
                        TRAVEL)
    plan = solve(instance)
    refuels = planned_refuels(plan, instance, planned_at=1000.0)
    near = refuels["near"]
    assert (near.truck, near.depot, near.unreachable_reason) == ("T1", "Depot", None)
    assert near.arrive_at == pytest.approx(1000.0 + 3600.0, rel=0.01)
    assert near.litres == pytest.approx(100.0)
    far = refuels["far"]
    assert far.truck is None
    assert far.unreachable_reason is not None and "would arrive in 10.0 h" in far.unreachable_reason
