"""What the dispatch plan tells the fuel alerts: per point, the truck that comes (its depot,
arrival and litres at arrival), or why none can (the rules' ``PointInputs.plan``)."""

from __future__ import annotations

from collections.abc import Mapping

from streams.domain.alert_model import PlannedRefuel
from streams.domain.dispatch import Instance, Plan


def planned_refuels(
    plan: Plan, instance: Instance, planned_at: float,
) -> Mapping[str, PlannedRefuel]:
    """Each point of ``plan`` (made at epoch ``planned_at``; its hours count from then) as the
    fuel alerts read it."""
    found: dict[str, PlannedRefuel] = {}
    for r in plan.routes:
        depot = instance.depot(r.truck.depot_id).name
        for stop in r.stops:
            found[stop.point_id] = PlannedRefuel(
                r.truck.truck_id, depot, planned_at + stop.arrive_h * 3600.0, stop.litres)
    for left in plan.unreached:
        found[left.point_id] = PlannedRefuel(unreachable_reason=left.reason)
    return found
