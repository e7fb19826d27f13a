"""The dispatch plan by OR-Tools' vehicle routing solver: capacities, deadlines, shifts.

The model: a node per depot and per point that needs fuel; each truck starts and ends at its
depot. A *time* dimension (seconds: driving plus the stop at each point) bounds each point's
arrival by its deadline and each truck's run by its shift; a *litres* dimension bounds what a
truck carries by its capacity. Every point may be dropped at a penalty far above any distance,
so the solver reaches as many points as it can and, among such plans, drives the fewest
kilometres. Travel seconds are rounded up, so the routes re-timed exactly
(:func:`streams.domain.dispatch.route`) keep every deadline the solver kept.
"""

from __future__ import annotations

import math
import time

from ortools.constraint_solver import pywrapcp, routing_enums_pb2  # type: ignore[import-untyped]

from streams.domain.dispatch import Instance, Need, Plan, Route, route, unreached

# Dropping a point costs more than any plan's kilometres (in metres): reaching one more point
# always beats driving less.
_DROP_PENALTY = 10**10


def solve(instance: Instance, time_limit_seconds: float = 10.0) -> Plan:
    """The plan the solver finds within ``time_limit_seconds`` (a solution is kept as soon as
    one is found; more time improves it)."""
    started = time.perf_counter()
    candidates = [n for n in instance.needs if n.place is not None and n.deadline_h > 0]
    if not candidates or not instance.trucks:
        return Plan("or-tools", (), unreached(list(instance.needs), instance),
                    time.perf_counter() - started)
    depots = list(instance.depots)
    places = [d.place for d in depots] + [n.place for n in candidates if n.place is not None]
    depot_index = {d.depot_id: i for i, d in enumerate(depots)}
    travel = instance.travel
    n_depots = len(depots)
    metres = [[round(travel.km(a, b) * 1000) for b in places] for a in places]
    seconds = [[math.ceil(travel.hours(a, b) * 3600) for b in places] for a in places]
    stop_seconds = math.ceil(travel.stop_minutes * 60)
    trucks = list(instance.trucks)
    starts = [depot_index[t.depot_id] for t in trucks]
    manager = pywrapcp.RoutingIndexManager(len(places), len(trucks), starts, starts)
    routing = pywrapcp.RoutingModel(manager)

    def distance(i: int, j: int) -> int:
        return int(metres[manager.IndexToNode(i)][manager.IndexToNode(j)])

    def duration(i: int, j: int) -> int:
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        return int(seconds[a][b] + (stop_seconds if a >= n_depots else 0))

    def litres(i: int) -> int:
        node = manager.IndexToNode(i)
        return 0 if node < n_depots else math.ceil(instance.load(candidates[node - n_depots]))

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance))
    horizon = math.ceil(max(t.shift_end_h for t in trucks) * 3600) + 1
    routing.AddDimension(routing.RegisterTransitCallback(duration), horizon, horizon, False,
                         "time")
    clock = routing.GetDimensionOrDie("time")
    routing.AddDimensionWithVehicleCapacity(
        routing.RegisterUnaryTransitCallback(litres), 0,
        [math.floor(t.capacity_l) for t in trucks], True, "litres")
    for k, need in enumerate(candidates):
        index = manager.NodeToIndex(n_depots + k)
        clock.CumulVar(index).SetRange(0, math.floor(need.deadline_h * 3600))
        routing.AddDisjunction([index], _DROP_PENALTY)
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
                order.append(candidates[manager.IndexToNode(index) - n_depots])
                index = solution.Value(routing.NextVar(index))
            if order:
                routes.append(route(instance, truck, order))
                served.update(n.point_id for n in order)
    left_out = [n for n in instance.needs if n.point_id not in served]
    return Plan("or-tools", tuple(routes), unreached(left_out, instance),
                time.perf_counter() - started)
