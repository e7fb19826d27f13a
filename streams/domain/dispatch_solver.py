"""The dispatch plan by OR-Tools' vehicle routing solver: capacities, deadlines, shifts.

The model: a node per depot and per point that needs fuel (:mod:`streams.domain.dispatch_matrix`);
each truck starts and ends at its depot. A *time* dimension (seconds: driving plus the stop at
each point) bounds each point's arrival by its deadline and each truck's run by its shift; a
*litres* dimension bounds what a truck carries by its capacity (each stop reserves the tank's
fill at its deadline, the most it can need). Every point may be dropped at a penalty far above
any distance, times its weight, so the solver reaches as much as it can and, among such plans,
drives the fewest kilometres.
"""

from __future__ import annotations

import math
import time

from ortools.constraint_solver import pywrapcp, routing_enums_pb2  # type: ignore[import-untyped]

from streams.domain.dispatch import Instance, Need, Plan, Route, route, unreached
from streams.domain.dispatch_matrix import matrices

METHOD = "or-tools"
# Dropping a point costs more than any plan's kilometres (in metres): reaching one more point
# always beats driving less.
_DROP_PENALTY = 10**10


def solve(instance: Instance, time_limit_seconds: float = 10.0) -> Plan:
    """The plan the solver finds within ``time_limit_seconds`` (a solution is kept as soon as
    one is found; more time improves it)."""
    started = time.perf_counter()
    m = matrices(instance)
    if not m.candidates or not instance.trucks:
        return Plan(METHOD, (), unreached(list(instance.needs), instance),
                    time.perf_counter() - started)
    trucks = list(instance.trucks)
    starts = [m.start(t) for t in trucks]
    ends = [m.depot_nodes[t.depot_id] for t in trucks]
    manager = pywrapcp.RoutingIndexManager(len(m.metres), len(trucks), starts, ends)
    routing = pywrapcp.RoutingModel(manager)

    def distance(i: int, j: int) -> int:
        return int(m.metres[manager.IndexToNode(i)][manager.IndexToNode(j)])

    def duration(i: int, j: int) -> int:
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        return int(m.seconds[a][b] + (m.stop_seconds if m.is_point(a) else 0))

    def litres(i: int) -> int:
        node = manager.IndexToNode(i)
        return math.ceil(instance.load(m.need(node))) if m.is_point(node) else 0

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance))
    horizon = math.ceil(max(t.shift_end_h for t in trucks) * 3600) + 1
    routing.AddDimension(routing.RegisterTransitCallback(duration), horizon, horizon, False,
                         "time")
    clock = routing.GetDimensionOrDie("time")
    routing.AddDimensionWithVehicleCapacity(
        routing.RegisterUnaryTransitCallback(litres), 0,
        [math.floor(t.capacity_l) for t in trucks], True, "litres")
    for k, need in enumerate(m.candidates):
        index = manager.NodeToIndex(m.n_depots + k)
        clock.CumulVar(index).SetRange(0, math.floor(need.deadline_h * 3600))
        routing.AddDisjunction([index], round(_DROP_PENALTY * need.weight))
    for v, truck in enumerate(trucks):
        shift_end = math.floor(truck.shift_end_h * 3600)
        clock.CumulVar(routing.Start(v)).SetRange(math.ceil(truck.leaves_h * 3600), shift_end)
        clock.CumulVar(routing.End(v)).SetMax(shift_end)

    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION)
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
    parameters.time_limit.FromMilliseconds(max(1, round(time_limit_seconds * 1000)))
    solution = routing.SolveWithParameters(parameters)

    routes: list[Route] = []
    served: set[str] = set()
    if solution is not None:
        for v, truck in enumerate(trucks):
            order: list[Need] = []
            index = solution.Value(routing.NextVar(routing.Start(v)))
            while not routing.IsEnd(index):
                order.append(m.need(manager.IndexToNode(index)))
                index = solution.Value(routing.NextVar(index))
            if order:
                routes.append(route(instance, truck, order))
                served.update(n.point_id for n in order)
    left_out = [n for n in instance.needs if n.point_id not in served]
    return Plan(METHOD, tuple(routes), unreached(left_out, instance),
                time.perf_counter() - started)
