"""A point's alerts advanced report by report, in event time, with the deadlines in between.

Pure. The alert rules (``alert_rules.evaluate``) judge one point at one time; this module
decides *which* times: every report of the point, in ``ts`` order, and every deadline that
event time passed between two reports, so what the rules see does not depend on how reports
were split into batches or how far behind the worker was.

Deadlines found between two reports:

- **silence**: the previous report plus the kind's threshold. A gap longer than that is a
  silence episode: ``point_silent`` fires at (previous report + threshold) and the new report
  resolves it at its own ``ts``, whether the gap is seen live or in a backlog.
- **activation**: an order at T with no ``open`` report by T + deadline is overdue at
  T + deadline, whichever batch finds it.

The liveness timer still judges silences and deadlines that are *still going on* (no report
has ended them yet); it does so on the lag guard's reference time, so a worker that is behind
raises no false silences. Between reports, the report itself is the proof of event time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from streams.domain.alert_lifecycle import AlertState, evaluate_alerts
from streams.domain.alert_model import AlertEvent, PlannedRefuel, PointInputs, Report
from streams.domain.alert_rules import AlertRules
from streams.domain.fuel_forecast import Forecast
from streams.domain.occupancy import OccupancySnapshot
from streams.domain.points import PointInfo
from streams.domain.staleness import LivenessState, PointLiveness, StalenessConfig, judge_liveness


@dataclass(frozen=True, slots=True)
class ReportStep:
    """One report of a point with what it changed: the point's liveness before and after it,
    the fuel forecast it produced (None: no fuel sensor) and the occupancy as of its ts."""

    report: Report
    before: LivenessState
    after: LivenessState
    forecast: Forecast | None = None
    occupancy: OccupancySnapshot | None = None
    plan: PlannedRefuel | None = None  # the point in its oblast's current dispatch plan


def deadlines_between(
    before: LivenessState, ts: float, config: StalenessConfig
) -> list[tuple[float, PointLiveness]]:
    """The deadlines event time passed before a report at ``ts``, each with the verdict at
    that moment, in time order (empty when the report came in time)."""
    found: list[tuple[float, PointLiveness]] = []
    if before.last_seen_ts is not None:
        silent_at = before.last_seen_ts + config.silence_threshold(before.kind)
        if silent_at < ts:
            # At the threshold itself the point is silent (the wall-clock check does not apply:
            # event time alone says so), so the episode starts exactly there.
            verdict = judge_liveness(before, math.inf, silent_at, config)
            found.append((silent_at, replace(verdict, liveness="silent", category="silent")))
    if before.activation_requested_at is not None:
        due = before.activation_requested_at + config.activation_deadline_seconds
        if due < ts:
            verdict = judge_liveness(before, math.inf, due, config)
            found.append((due, replace(verdict, activation_overdue=True)))
    found.sort(key=lambda pair: pair[0])
    return found


def judged_steps(verdict: PointLiveness) -> list[tuple[float, PointLiveness]]:
    """The timer's verdict on a point, as the moments its deadlines passed and then the
    judgement itself: a silence starts at (last report + threshold) and an activation is
    overdue at its deadline, not when the timer happened to look."""
    reference = verdict.reference_ts
    if reference is None:
        return []
    silent_at = None
    if verdict.liveness == "silent" and verdict.since is not None:
        silent_at = verdict.since + verdict.silence_threshold_seconds
    due = verdict.activation_deadline_ts if verdict.activation_overdue else None
    moments = sorted({t for t in (silent_at, due) if t is not None and t < reference})
    steps = [
        (
            t,
            replace(
                verdict,
                liveness="silent" if silent_at is not None and silent_at <= t else "ok",
                category="silent" if silent_at is not None and silent_at <= t
                else verdict.category,
                activation_overdue=due is not None and due <= t,
                reference_ts=t,
            ),
        )
        for t in moments
    ]
    steps.append((reference, verdict))
    return steps


def advance(
    state: AlertState | None,
    point: PointInfo,
    step: ReportStep,
    config: StalenessConfig,
    rules: AlertRules,
) -> tuple[AlertState, list[AlertEvent]]:
    """Apply one report (after the deadlines that passed before it) to a point's alerts."""
    events: list[AlertEvent] = []
    current = state
    for at, verdict in deadlines_between(step.before, step.report.ts, config):
        current, found = evaluate_alerts(current, PointInputs(point, liveness=verdict), at, rules,
                                        timer=True)
        events.extend(found)
    ts = step.report.ts
    liveness = judge_liveness(step.after, math.inf, ts, config)
    inputs = PointInputs(point, step.report, step.forecast, liveness, step.occupancy, step.plan)
    new_state, found = evaluate_alerts(current, inputs, ts, rules)
    events.extend(found)
    return new_state, events
