"""``make bench-dispatch``: the dispatch plan on simulated blackouts, solver against baseline.

For a few oblasts of the simulated national network, every point is on its generator after a
strike (a tank between 10 % and 80 % full, burning 3-12 l/h), and the oblast's depots and
trucks are those of the shipped depots file, at 21:00 Kyiv time (the night shift is out, the
day shift starts in the morning). Each blackout is planned by OR-Tools
(:mod:`streams.domain.dispatch_solver`) and by the greedy baseline (most urgent first, to the
truck that gets there first); the table compares points reached before they run dry, litres,
kilometres and solve time, and checks both plans against capacity, deadlines and shifts.
``reachable alone``: points some truck could reach in time if it drove only there; what the
plans leave of them is what the trucks' number, capacity and shifts cannot cover.

Targets: the solver reaches at least what the baseline reaches; one oblast solves in under
30 s on this machine; no plan breaks a rule.
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
from streams.domain.dispatch import Instance, Plan, addable, greedy, quickest, violations
from streams.domain.dispatch_solver import solve
from streams.logistics.dispatch_plan import build_instance, load_depots
from streams.logistics.refuel_plan import RefuelRow
from streams.simulate.registry import build_registry

OBLASTS = ("Харківська область", "Київська область", "Одеська область")
SOLVE_TARGET_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One blackout, planned both ways."""

    oblast: str
    points: int
    reachable_alone: int
    solver: Plan
    baseline: Plan
    broken_rules: int
    solver_addable: int  # points the solver's plan leaves out that one more stop could serve
    baseline_addable: int


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
        solver = solve(instance, time_limit)
        started = time.perf_counter()
        baseline = greedy(instance)
        baseline = Plan(baseline.method, baseline.routes, baseline.unreached,
                        time.perf_counter() - started)
        broken = len(violations(solver, instance)) + len(violations(baseline, instance))
        outcomes.append(Outcome(oblast, len(instance.needs), reachable_alone(instance), solver,
                                baseline, broken, len(addable(solver, instance)),
                                len(addable(baseline, instance))))
    return outcomes


def report(outcomes: list[Outcome]) -> tuple[str, bool]:
    """The comparison table and whether every target holds."""
    lines = [f"{'oblast':<22}{'plan':<10}{'reached':>9}{'of':>6}{'alone':>7}{'addable':>9}"
             f"{'litres':>10}{'km':>9}{'solve s':>9}"]
    ok = True
    for o in outcomes:
        for plan, left in ((o.solver, o.solver_addable), (o.baseline, o.baseline_addable)):
            lines.append(f"{o.oblast:<22}{plan.method:<10}{plan.reached:>9}{o.points:>6}"
                         f"{o.reachable_alone:>7}{left:>9}{plan.litres:>10,.0f}{plan.km:>9,.0f}"
                         f"{plan.solve_seconds:>9.1f}")
        ok &= (o.solver.reached >= o.baseline.reached and o.broken_rules == 0
               and o.solver.solve_seconds < SOLVE_TARGET_SECONDS and o.solver_addable == 0)
    lines.append(f"targets: solver reaches >= baseline and leaves no addable point, solve < "
                 f"{SOLVE_TARGET_SECONDS:g} s, no broken rule: {'PASS' if ok else 'FAIL'}")
    return "\n".join(lines), ok


def _progress(message: str) -> None:
    print(f"[bench-dispatch {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _as_json(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return [{"oblast": o.oblast, "points": o.points, "reachable_alone": o.reachable_alone,
             "broken_rules": o.broken_rules, "solver_addable": o.solver_addable,
             "baseline_addable": o.baseline_addable,
             **{plan.method: {"reached": plan.reached, "litres": round(plan.litres),
                              "km": round(plan.km, 1), "solve_seconds": plan.solve_seconds}
                for plan in (o.solver, o.baseline)}} for o in outcomes]


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
