"""What the dispatch plan tells the fuel alerts: per point, the truck that comes (its depot,
arrival and litres at arrival), or why none can (the rules' ``PointInputs.plan``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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


def oblast_key(name: str) -> str:
    """An oblast's name as plans and the registry both match it: case-insensitive, with or
    without the word "область"."""
    key = name.strip().lower()
    return key.removesuffix(" область").strip()


NOT_IN_PLAN = PlannedRefuel(in_plan=False)


@dataclass(frozen=True, slots=True)
class PlanBook:
    """The current dispatch plans of the oblasts that have one, as the fuel alerts read them.

    ``points``: point_id -> its stop or its reason for being unreached; ``oblasts``: the
    :func:`oblast_key` of every oblast with a current plan. A point of such an oblast that is
    not in ``points`` does not need a truck within the plan's horizon."""

    points: Mapping[str, PlannedRefuel] = field(default_factory=dict)
    oblasts: frozenset[str] = frozenset()

    def lookup(self, point_id: str, oblast: str) -> PlannedRefuel | None:
        """The point in its oblast's current plan; None when that oblast has no current plan
        (the plan-based rules then hold)."""
        found = self.points.get(point_id)
        if found is not None:
            return found
        return NOT_IN_PLAN if oblast_key(oblast) in self.oblasts else None
