"""``make bench-dispatch``: the dispatch plan on simulated blackouts, solver against baseline.

For a few oblasts of the simulated national network, every point is on its generator after a
strike (a tank between 10 % and 80 % full, burning 3-12 l/h), and the oblast's depots and
trucks are those of the shipped depots file, at 21:00 Kyiv time (the night shift is out, the
day shift starts in the morning). Each blackout is planned by OR-Tools
(:mod:`streams.domain.dispatch_solver`), by VROOM (:mod:`streams.domain.dispatch_vroom`), by
the planner's choice (both within one budget, the better kept: :mod:`streams.domain.dispatch_best`)
and by the greedy baseline (most urgent first, to the truck that gets there first); the table
compares points reached before they run dry, litres at arrival (and what the same tanks needed
when the plan was made), kilometres and solve time, and checks every plan against capacity,
deadlines and shifts. ``bound``: an upper bound on the points any plan can reach: those some
truck could reach in time driving only there (``alone``), cut to how many of their smallest
fills the oblast's trucks can carry at all; ``gap`` is how far the chosen plan is from it.

Targets: the chosen plan reaches at least what the better solver reaches and what the baseline
reaches; one oblast solves in under 30 s on this machine; no plan breaks a rule. Under each
oblast, what calling in its depots' on-call drivers would save (the plan solved again with
them, as ``nezlam dispatch-plan`` does when points are left unreached), and how many the chosen
plan reaches once trucks back before their shift ends reload and run again.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from streams.config import get_settings
from streams.domain import dispatch_best, dispatch_solver, dispatch_vroom
from streams.domain.dispatch import Instance, Plan, addable, greedy, quickest, violations
from streams.logistics.dispatch_plan import build_instance, load_depots
from streams.logistics.on_call import advise
from streams.logistics.refuel_plan import RefuelRow
from streams.logistics.reload import with_reloads
from streams.simulate.registry import build_registry

OBLASTS = ("Харківська область", "Київська область", "Одеська область")
SOLVE_TARGET_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One blackout, planned every way."""

    oblast: str
    points: int
    reachable_alone: int
    bound: int
    plans: tuple[Plan, ...]  # or-tools, vroom, the chosen one, greedy
    broken_rules: int
    addable: tuple[int, ...]  # per plan: points left out that one more stop could serve
    on_call: str  # what calling in the depots' on-call drivers would save, in words
    on_call_saved: int  # points the chosen plan reaches more with them
    reload_reached: int  # points the chosen plan reaches once trucks back early reload

    @property
    def chosen(self) -> Plan:
        """The planner's plan."""
        return self.plans[2]


def blackout(oblast: str, points: int, seed: int) -> list[RefuelRow]:
    """The oblast's simulated points, all on generators, ``points`` of them at most."""
    rng = random.Random(f"nezlam-blackout-{oblast}-{seed}")
    registry = [p for p in build_registry(seed) if p["oblast"] == oblast]
    rng.shuffle(registry)
    rows = []
    for p in registry[:points]:
        tank = float(p["fuel_tank_l"] or 200.0)
        level = tank * rng.uniform(0.1, 0.8)
        burn = rng.uniform(3.0, 12.0)
        rows.append(RefuelRow(
            p["point_id"], p["name"], oblast, p["hromada"], p["kind"], p["lat"], p["lon"], tank,
            level, tank - level, burn, level / burn, None, None, datetime.now(), 6.0))
    return rows


def reachable_alone(instance: Instance) -> int:
    """Points some truck could reach before their deadline, driving only there."""
    return sum(1 for need in instance.needs
               if need.place is not None and need.deadline_h > 0 and instance.trucks
               and quickest(instance, need.place)[1] <= need.deadline_h)


def bound(instance: Instance) -> int:
    """At most this many points can be reached: those reachable alone, as many of their
    smallest fills (at plan time, the least they can need) as all trucks together carry."""
    fills = sorted(n.litres for n in instance.needs
                   if n.place is not None and n.deadline_h > 0 and instance.trucks
                   and quickest(instance, n.place)[1] <= n.deadline_h)
    room, count = sum(t.capacity_l for t in instance.trucks), 0
    for fill in fills:
        if fill > room:
            break
        room, count = room - fill, count + 1
    return count


def run(points: int, seed: int, time_limit: float) -> list[Outcome]:
    """Plan a blackout in each oblast of :data:`OBLASTS`."""
    settings = get_settings()
    depots = load_depots(settings.depots_file)
    evening = datetime(2026, 12, 1, 21, 0, tzinfo=ZoneInfo("Europe/Kyiv"))
    outcomes = []
    for oblast in OBLASTS:
        instance = build_instance(depots, oblast, blackout(oblast, points, seed), evening,
                                  settings)
        _progress(f"{oblast}: {len(instance.needs)} generators due within "
                  f"{settings.dispatch_horizon_hours:g} h, {len(instance.trucks)} trucks; solving")
        ortools = dispatch_solver.solve(instance, time_limit)
        vroom = dispatch_vroom.solve(instance, time_limit)
        chosen = dispatch_best.solve(instance, time_limit)
        chosen = Plan(f"chosen:{chosen.method}", chosen.routes, chosen.unreached,
                      chosen.solve_seconds)
        started = time.perf_counter()
        baseline = greedy(instance)
        baseline = Plan(baseline.method, baseline.routes, baseline.unreached,
                        time.perf_counter() - started)
        plans = (ortools, vroom, chosen, baseline)
        # The same night with the on-call drivers available (the planner's second solve).
        extended = build_instance(depots, oblast, blackout(oblast, points, seed), evening,
                                  settings, on_call=True)
        labels = {c.id: c.label for d in depots.oblast(oblast)[1].depots for c in d.on_call}
        with_on_call = dispatch_best.solve(extended, time_limit)
        advice = advise(chosen, with_on_call, extended, labels) if labels else None
        outcomes.append(Outcome(
            oblast, len(instance.needs), reachable_alone(instance), bound(instance), plans,
            sum(len(violations(p, instance)) for p in plans)
            + len(violations(with_on_call, extended)),
            tuple(len(addable(p, instance)) for p in plans),
            "no on-call driver would save a point" if advice is None else advice.say(),
            0 if advice is None else advice.points_saved,
            with_reloads(chosen, instance, instance, dispatch_best.solve,
                         time_limit / 2).reached))
    return outcomes


def report(outcomes: list[Outcome]) -> tuple[str, bool]:
    """The comparison table and whether every target holds."""
    lines = [f"{'oblast':<22}{'plan':<17}{'reached':>8}{'of':>5}{'alone':>6}{'bound':>6}"
             f"{'gap':>5}{'addable':>8}{'l arrival':>10}{'l at plan':>10}{'km':>8}"
             f"{'solve s':>8}"]
    ok = True
    for o in outcomes:
        for plan, left in zip(o.plans, o.addable, strict=True):
            lines.append(f"{o.oblast:<22}{plan.method:<17}{plan.reached:>8}{o.points:>5}"
                         f"{o.reachable_alone:>6}{o.bound:>6}{o.bound - plan.reached:>5}"
                         f"{left:>8}{plan.litres:>10,.0f}{plan.litres_at_plan:>10,.0f}"
                         f"{plan.km:>8,.0f}{plan.solve_seconds:>8.1f}")
        lines.append(f"{'':<22}on call: {o.on_call}")
        lines.append(f"{'':<22}reloading: {o.reload_reached} points reached "
                     f"(+{o.reload_reached - o.chosen.reached})")
        ortools, vroom, chosen, baseline = o.plans
        ok &= (chosen.reached >= max(ortools.reached, vroom.reached, baseline.reached)
               and o.broken_rules == 0 and chosen.solve_seconds < SOLVE_TARGET_SECONDS)
    lines.append(f"targets: the chosen plan reaches >= the better solver and the baseline, "
                 f"solve < {SOLVE_TARGET_SECONDS:g} s, no broken rule: "
                 f"{'PASS' if ok else 'FAIL'}")
    return "\n".join(lines), ok


def _progress(message: str) -> None:
    print(f"[bench-dispatch {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _as_json(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return [{"oblast": o.oblast, "points": o.points, "reachable_alone": o.reachable_alone,
             "bound": o.bound, "broken_rules": o.broken_rules,
             "on_call": o.on_call, "points_saved_by_on_call": o.on_call_saved,
             "reached_with_reloads": o.reload_reached,
             **{plan.method: {"reached": plan.reached, "addable": left,
                              "litres_at_arrival": round(plan.litres),
                              "litres_at_plan": round(plan.litres_at_plan),
                              "km": round(plan.km, 1), "solve_seconds": plan.solve_seconds}
                for plan, left in zip(o.plans, o.addable, strict=True)}} for o in outcomes]


def main() -> None:
    """Run the benchmark (see the module's description); exit 1 when a target fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--points", type=int, default=400, help="points per oblast at most")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=get_settings().
                        dispatch_time_limit_seconds, help="solver seconds per oblast")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    outcomes = run(args.points, args.seed, args.time_limit)
    text, ok = report(outcomes)
    print(text)
    if args.json:
        args.json.write_bytes(orjson.dumps(_as_json(outcomes), option=orjson.OPT_INDENT_2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
