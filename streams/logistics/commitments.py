"""Re-planning respects what is under way: a truck that has left keeps its committed stops.

Each re-plan reads the oblast's current plan. A truck whose run has begun (it has left for its
first stop) is committed to the stops of that run not yet delivered (``dispatch_deliveries``):
the new plan keeps them, in their order, and plans the truck only from its last committed stop,
once that is done, with the litres it still carries. The points of committed stops are not
planned again. A truck whose run has not begun is free: the new plan may reshuffle it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg

from streams.domain.dispatch import (
    Instance,
    Need,
    Place,
    Plan,
    Route,
    Stop,
    Travel,
    Truck,
    route,
)


@dataclass(frozen=True, slots=True)
class CommittedStop:
    """A stop of a run under way, as the plan that made it wrote it."""

    point_id: str
    name: str
    place: Place
    litres: float
    arrives_at: datetime
    deadline: datetime
    runs_dry_at: datetime
    km_from_previous: float


@dataclass(frozen=True, slots=True)
class Commitment:
    """A truck out on its run: the stops still ahead and the litres it set out with."""

    truck_id: str
    stops: tuple[CommittedStop, ...]
    loaded_l: float  # what the run's stops take, delivered ones included
    left_at: datetime  # when it left its depot


_RUNS = """
SELECT s.truck_id, s.stop_order, s.point_id, s.point_name, p.lat, p.lon, s.litres, s.arrives_at,
       s.deadline, s.runs_dry_at, s.km_from_previous,
       EXISTS (SELECT 1 FROM dispatch_deliveries AS d
               WHERE d.point_id = s.point_id AND d.delivered_at >= s.computed_at) AS delivered
FROM dispatch_stops_latest AS s JOIN points AS p USING (point_id)
WHERE s.oblast = %s
ORDER BY s.truck_id, s.stop_order
"""


def read_commitments(conn: psycopg.Connection[Any], oblast: str, now: datetime,
                     travel: Travel) -> dict[str, Commitment]:
    """The trucks of ``oblast``'s current plan that have left by ``now``: truck id -> the
    stops of its run not yet delivered."""
    runs: dict[str, list[tuple[Any, ...]]] = {}
    for row in conn.execute(_RUNS, [oblast]).fetchall():
        runs.setdefault(row[0], []).append(row)
    found: dict[str, Commitment] = {}
    for truck_id, rows in runs.items():
        first = rows[0]
        left_at = first[7] - timedelta(hours=first[10] / travel.average_speed_kmh)
        if left_at > now:
            continue  # not on the road yet: free to re-plan
        ahead = tuple(CommittedStop(r[2], r[3], Place(r[4], r[5]), r[6], r[7], r[8], r[9], r[10])
                      for r in rows if not r[11] and r[4] is not None)
        if ahead:
            found[truck_id] = Commitment(truck_id, ahead, sum(r[6] for r in rows), left_at)
    return found


def hours(at: datetime, now: datetime) -> float:
    """``at`` in hours from ``now``."""
    return (at - now).total_seconds() / 3600


def apply(instance: Instance, committed: Mapping[str, Commitment], now: datetime) -> Instance:
    """``instance`` with each committed truck starting from its last committed stop once that
    is done, carrying what it has left, and without the points of committed stops."""
    if not committed:
        return instance
    taken = {s.point_id for c in committed.values() for s in c.stops}
    trucks: list[Truck] = []
    for t in instance.trucks:
        c = committed.get(t.truck_id)
        if c is None:
            trucks.append(t)
            continue
        last = c.stops[-1]
        free_h = max(hours(last.arrives_at, now) + instance.travel.stop_hours, t.shift_start_h,
                     0.0)
        trucks.append(replace(t, capacity_l=max(t.capacity_l - c.loaded_l, 0.0),
                              shift_start_h=free_h, start=last.place))
    needs: Sequence[Need] = [n for n in instance.needs if n.point_id not in taken]
    return replace(instance, needs=needs, trucks=trucks)


def keep(plan: Plan, planned: Instance, original: Instance,
         committed: Mapping[str, Commitment], now: datetime) -> Plan:
    """``plan`` (solved on ``planned``) with each committed truck's stops put back in front of
    its new ones, on the truck as ``original`` has it."""
    if not committed:
        return plan
    trucks = {t.truck_id: t for t in original.trucks}
    planned_trucks = {t.truck_id: t for t in planned.trucks}
    first: dict[str, Route] = {}
    for r in plan.routes:  # a truck's first run continues its committed one; a reload follows
        first.setdefault(r.truck.truck_id, r)
    routes: list[Route] = []
    for truck_id, c in committed.items():
        if truck_id not in trucks:
            continue  # no longer in the depots file
        ahead = tuple(Stop(s.point_id, hours(s.arrives_at, now), s.litres,
                           hours(s.deadline, now), hours(s.runs_dry_at, now), s.km_from_previous,
                           s.litres) for s in c.stops)
        onward = first.get(truck_id) or route(planned, planned_trucks[truck_id], [])
        routes.append(Route(trucks[truck_id], hours(c.left_at, now), ahead + onward.stops,
                            onward.back_h, sum(s.km_from_previous for s in ahead) + onward.km))
    routes += [r for r in plan.routes
               if r.truck.truck_id not in committed or first[r.truck.truck_id] is not r]
    return replace(plan, routes=tuple(routes))


def names(committed: Mapping[str, Commitment]) -> dict[str, str]:
    """point_id -> name of every committed stop."""
    return {s.point_id: s.name for c in committed.values() for s in c.stops}


def places(committed: Mapping[str, Commitment]) -> dict[str, Place]:
    """point_id -> place of every committed stop."""
    return {s.point_id: s.place for c in committed.values() for s in c.stops}

