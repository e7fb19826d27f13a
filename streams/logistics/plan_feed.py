"""The current dispatch plans, read back from the database for the worker's fuel alerts.

The planner (``nezlam dispatch-plan --every``, a process of the stack) appends each plan to
``dispatch_plans`` / ``dispatch_stops`` / ``dispatch_unreached``; the worker reads each oblast's
newest plan here on a timer and its fuel alerts name the truck, or say why none comes. A plan
older than ``NEZLAM_DISPATCH_PLAN_MAX_AGE_SECONDS`` is not current (its planner has stopped):
the alerts then say nothing of trucks rather than something stale.
"""

from __future__ import annotations

from typing import Any

import psycopg

from streams.domain.alert_model import PlannedRefuel
from streams.domain.dispatch_alerts import PlanBook, oblast_key

_CURRENT = """
    SELECT oblast, computed_at FROM dispatch_plans_latest
    WHERE computed_at > now() - make_interval(secs => %s)
"""


async def read_plan_book(conn: psycopg.AsyncConnection[Any], max_age_seconds: float) -> PlanBook:
    """Each oblast's newest plan made within ``max_age_seconds``, as one :class:`PlanBook`."""
    current = await (await conn.execute(_CURRENT, [max_age_seconds])).fetchall()
    if not current:
        return PlanBook()
    oblasts = [row[0] for row in current]
    stops = await (await conn.execute(
        "SELECT point_id, truck_id, depot, extract(epoch FROM arrives_at)::float8, litres"
        " FROM dispatch_stops_latest WHERE oblast = ANY(%s)", [oblasts])).fetchall()
    unreached = await (await conn.execute(
        "SELECT point_id, reason FROM dispatch_unreached_latest WHERE oblast = ANY(%s)",
        [oblasts])).fetchall()
    points: dict[str, PlannedRefuel] = {
        point_id: PlannedRefuel(unreachable_reason=reason) for point_id, reason in unreached}
    points.update({point_id: PlannedRefuel(truck, depot, arrive_at, litres)
                   for point_id, truck, depot, arrive_at, litres in stops})
    return PlanBook(points, frozenset(oblast_key(o) for o in oblasts))
