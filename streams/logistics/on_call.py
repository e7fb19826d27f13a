"""Drivers on call: when calling one in reaches points the plan otherwise loses, say so.

The planner solves each oblast with the trucks on shift; when that leaves points unreached and
the oblast's depots declare on-call drivers (``on_call`` in the depots file), it solves again
with them available from ``call_in_minutes`` from now. If that reaches more points, the plan
keeps its on-shift routes (nobody is called in without a person deciding) and says, in words,
whom to call in and how many points that saves; each point the call-in would reach has it in
its reason (what ``fuel_unreachable`` pages with).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from streams.domain.dispatch import Instance, Plan


@dataclass(frozen=True, slots=True)
class CallIn:
    """Whom to call in (label, truck id, depot name per driver) and what it saves."""

    drivers: tuple[tuple[str, str, str], ...]
    points_saved: int
    saves: frozenset[str]  # the points the call-in reaches that the plan does not

    def say(self) -> str:
        """"call in the night driver at Depot X to save 4 points"."""
        who = " and ".join(f"the {label} at {depot} ({truck})"
                           for label, truck, depot in self.drivers)
        points = "point" if self.points_saved == 1 else "points"
        return f"call in {who} to save {self.points_saved} {points}"


def advise(base: Plan, with_on_call: Plan, instance: Instance,
           labels: Mapping[str, str]) -> CallIn | None:
    """What calling in the on-call drivers (``labels``: truck id -> label) would save, judged
    by the plan made with them; None when it saves nothing."""
    reached = {s.point_id for r in base.routes for s in r.stops}
    reached_with = {s.point_id for r in with_on_call.routes for s in r.stops}
    saved = with_on_call.reached - base.reached
    if saved <= 0:
        return None
    drivers = tuple(
        (labels[r.truck.truck_id], r.truck.truck_id, instance.depot(r.truck.depot_id).name)
        for r in with_on_call.routes if r.truck.truck_id in labels and r.stops)
    return CallIn(drivers, saved, frozenset(reached_with - reached))


def with_advice(plan: Plan, advice: CallIn | None) -> Plan:
    """``plan`` with the call-in in the reason of each unreached point it would reach."""
    if advice is None:
        return plan
    words = advice.say()
    return replace(plan, unreached=tuple(
        replace(u, reason=f"{u.reason}; {words}") if u.point_id in advice.saves else u
        for u in plan.unreached))
