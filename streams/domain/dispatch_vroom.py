"""The dispatch plan by VROOM (``pyvroom``): the same model as the OR-Tools one, solved by
VROOM's heuristics.

Same nodes and matrices (:mod:`streams.domain.dispatch_matrix`); a vehicle per truck with its
capacity and shift as its time window, from its depot and back; a job per point with the
litres it reserves as its delivery, the stop as its service and ``[0, deadline]`` as the window
in which the truck must arrive. VROOM first maximises the summed priority of the jobs it
serves (the points' weights), then their number, then minimises the cost (metres).
"""

from __future__ import annotations

import math
import time
from datetime import timedelta

import vroom  # type: ignore[import-untyped]

from streams.domain.dispatch import Instance, Need, Plan, Route, route, unreached
from streams.domain.dispatch_matrix import matrices

METHOD = "vroom"
# VROOM's job priorities are integers 0..100; a weight of 1 is priority 10.
_PRIORITY_PER_WEIGHT = 10


def solve(instance: Instance, time_limit_seconds: float = 10.0,
          exploration_level: int = 5) -> Plan:
    """The plan VROOM finds (it stops by itself, usually well within the limit)."""
    started = time.perf_counter()
    m = matrices(instance)
    if not m.candidates or not instance.trucks:
        return Plan(METHOD, (), unreached(list(instance.needs), instance),
                    time.perf_counter() - started)
    problem = vroom.Input()
    problem.set_durations_matrix("car", m.seconds)
    problem.set_costs_matrix("car", m.metres)
    trucks = list(instance.trucks)
    for v, truck in enumerate(trucks):
        problem.add_vehicle(vroom.Vehicle(
            v, start=m.start(truck), end=m.depot_nodes[truck.depot_id],
            capacity=[math.floor(truck.capacity_l)],
            time_window=vroom.TimeWindow(math.ceil(truck.leaves_h * 3600),
                                         max(math.floor(truck.shift_end_h * 3600), 0))))
    problem.add_job([
        vroom.Job(k, location=m.n_depots + k, delivery=[math.ceil(instance.load(need))],
                  default_service=m.stop_seconds,
                  priority=min(100, round(need.weight * _PRIORITY_PER_WEIGHT)),
                  time_windows=[vroom.TimeWindow(0, math.floor(need.deadline_h * 3600))])
        for k, need in enumerate(m.candidates)])
    solution = problem.solve(exploration_level=exploration_level, nb_threads=1,
                             timeout=timedelta(seconds=time_limit_seconds))
    orders: dict[int, list[Need]] = {}
    steps = solution.routes
    if "id" in steps.columns:  # absent when no truck serves anything
        for vehicle, kind, job in zip(steps["vehicle_id"], steps["type"], steps["id"],
                                      strict=True):
            if kind == "job":
                orders.setdefault(int(vehicle), []).append(m.candidates[int(job)])
    routes: list[Route] = [route(instance, trucks[v], order)
                           for v, order in sorted(orders.items())]
    served = {n.point_id for order in orders.values() for n in order}
    left_out = [n for n in instance.needs if n.point_id not in served]
    return Plan(METHOD, tuple(routes), unreached(left_out, instance),
                time.perf_counter() - started)
