"""One point's life, message by message and deadline by deadline: ``step`` and ``advance``.

Pure. The worker's stream task (:mod:`streams.worker.task`) hands each point its messages in
event-time order and tells it how far the task's stream time has come; everything else lives
here, in the point's one record (:class:`~streams.domain.point_state.PointState`):

- :func:`step` applies one message: a telemetry report (liveness, fuel forecast, headcount,
  then the alert rules on the report), a visit (occupancy) or an activation order (the wait for
  the point to open, and the end of an overdue episode).
- :func:`advance` moves the point to a stream time: every deadline passed on the way (silence,
  activation due, a timer rule's pending or clearing wait) is judged at its own time.
- :func:`next_deadline` says when the point next needs :func:`advance`: the task keeps it in
  its timer queue.

``at`` is the task's stream time when a message is applied (its own ts, or later for a message
read behind newer ones): a point is *heard* then. It is silent once the stream time passes
``max(heard, last report) + threshold``, so a point whose reports keep coming is never silent
however far behind their timestamps run, and one whose reports stop is silent at the same
stream time live or on a backlog.

Records are changed in place (the occupancy model updates its state in place) and returned:
the caller owns the record it passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from streams.domain.alert_lifecycle import (
    AlertState,
    end_episode,
    evaluate_alerts,
    past_episode,
)
from streams.domain.alert_model import AlertEvent, PlannedRefuel, PointInputs, Report
from streams.domain.alert_rules import ACTIVATION_OVERDUE, RULE_BY_NAME, AlertRules
from streams.domain.fuel_forecast import Forecast, FuelReading, update
from streams.domain.occupancy import (
    OccupancyConfig,
    OccupancySnapshot,
    OccupancyState,
    Visit,
    apply_headcount,
    apply_visit,
    snapshot,
)
from streams.domain.point_state import PointState
from streams.domain.points import PointInfo
from streams.domain.staleness import (
    LivenessState,
    StalenessConfig,
    activation_due,
    liveness_at,
    on_activation,
    on_registry,
    on_report,
    silence_deadline,
)
from streams.domain.timestamps import iso

InputKind = Literal["telemetry", "visit", "activation"]

FORECAST_METHOD = "kalman-running-time-v1"


@dataclass(frozen=True, slots=True)
class PointSetup:
    """What a point's step needs besides its record: the registry's facts and the settings."""

    info: PointInfo
    rules: AlertRules
    staleness: StalenessConfig
    occupancy: OccupancyConfig
    plan: PlannedRefuel | None = None  # the point in its oblast's current dispatch plan


@dataclass(slots=True)
class PointOutputs:
    """What one step or advance produced, as messages shaped like their topics' (and rows)."""

    forecasts: list[dict[str, Any]] = field(default_factory=list)  # points.fuel_forecast
    occupancy: list[dict[str, Any]] = field(default_factory=list)  # points.occupancy
    state_changes: list[dict[str, Any]] = field(default_factory=list)  # points.state
    alerts: list[AlertEvent] = field(default_factory=list)


# --- step -----------------------------------------------------------------------------------


def step(
    record: PointState, kind: InputKind, message: dict[str, Any], at: float, setup: PointSetup
) -> tuple[PointState, PointOutputs]:
    """Apply one validated message (``_ts`` set) at stream time ``at``. The caller has advanced
    the point to the message's ts first (:func:`advance`)."""
    out = PointOutputs()
    liveness = _liveness(record, setup, message["_ts"])
    if kind == "telemetry":
        _report(record, liveness, message, at, setup, out)
    elif kind == "visit":
        record.liveness = liveness
        _visit(record, message, setup, out)
    else:
        _order(record, liveness, message, setup, out)
    # Deadlines up to the message's own ts were judged by it; later ones are still to come.
    ts = float(message["_ts"])
    record.judged_at = ts if record.judged_at is None else max(record.judged_at, ts)
    _publish_state(record, at, setup, out)
    return record, out


def _liveness(record: PointState, setup: PointSetup, ts: float) -> LivenessState:
    state = record.liveness or LivenessState()
    if state.kind != setup.info.kind:
        state = on_registry(state, setup.info.kind, ts)
    return state


def _report(
    record: PointState, before: LivenessState, message: dict[str, Any], at: float,
    setup: PointSetup, out: PointOutputs,
) -> None:
    ts = float(message["_ts"])
    after, _ = on_report(before, ts, message["status"], at)
    record.liveness = after
    forecast = _forecast(record, message, setup, out)
    seen = _headcount(record, message, setup, out)
    inputs = PointInputs(setup.info, Report.from_telemetry(message), forecast,
                         liveness_at(after, ts, setup.staleness), seen, setup.plan)
    record.alerts, events = evaluate_alerts(record.alerts, inputs, ts, setup.rules)
    out.alerts.extend(events)


def _forecast(
    record: PointState, message: dict[str, Any], setup: PointSetup, out: PointOutputs
) -> Forecast | None:
    tank = setup.info.fuel_tank_l
    if tank is None or (record.fuel is None and message["fuel_level_l"] is None):
        return None  # no fuel sensor (yet): nothing to forecast
    reading = FuelReading(message["_ts"], message["fuel_level_l"], message["generator_running"])
    record.fuel, forecast = update(record.fuel, reading, tank)
    if forecast.level_l is not None:
        out.forecasts.append(forecast_message(setup.info.point_id, forecast))
    return forecast


def forecast_message(point_id: str, forecast: Forecast) -> dict[str, Any]:
    """A ``points.fuel_forecast`` message (also the ``fuel_forecast`` row)."""
    return {
        "point_id": point_id,
        "ts": iso(forecast.ts),
        "fuel_level_l": forecast.level_l,
        "burn_rate_lph": forecast.burn_rate_lph,
        "hours_to_empty": forecast.hours_to_empty,
        "empty_at": None if forecast.empty_at is None else iso(forecast.empty_at),
        "confidence": forecast.confidence,
        "generator_running": forecast.generator_running,
        "refuel_detected": forecast.refuel_detected,
        "method": FORECAST_METHOD,
    }


def _headcount(
    record: PointState, message: dict[str, Any], setup: PointSetup, out: PointOutputs
) -> OccupancySnapshot | None:
    """Apply the report's headcount; the occupancy as of the report (None: nothing known)."""
    ts = float(message["_ts"])
    if message["headcount"] is not None:
        if record.occupancy is None:
            record.occupancy = OccupancyState()
        apply_headcount(record.occupancy, int(message["headcount"]), ts, setup.occupancy)
        _occupancy_message(record.occupancy, setup, out)
    state = record.occupancy
    if state is None:
        return None
    return snapshot(state, max(ts, state.high_ts or ts), setup.info.capacity_people,
                    setup.occupancy)


def _visit(record: PointState, message: dict[str, Any], setup: PointSetup,
           out: PointOutputs) -> None:
    if record.occupancy is None:
        record.occupancy = OccupancyState()
    visit = Visit(message["event_id"], message["_ts"], message["kind"], int(message["people"]))
    apply_visit(record.occupancy, visit, setup.occupancy)
    _occupancy_message(record.occupancy, setup, out)


def _occupancy_message(state: OccupancyState, setup: PointSetup, out: PointOutputs) -> None:
    """The point's occupancy as of its newest event, after a visit or a headcount."""
    if state.high_ts is None:
        return
    info = setup.info
    snap = snapshot(state, state.high_ts, info.capacity_people, setup.occupancy)
    out.occupancy.append({
        "point_id": info.point_id,
        "ts": iso(snap.at_ts),
        "oblast": info.oblast,
        "people_inside": snap.people_inside,
        "visits_15m": snap.visits_15m,
        "visits_1h": snap.visits_1h,
        "visits_24h": snap.visits_24h,
        "capacity_people": info.capacity_people,
        "utilisation": snap.utilisation if snap.utilisation is not None else 0.0,
    })


def _order(
    record: PointState, before: LivenessState, message: dict[str, Any], setup: PointSetup,
    out: PointOutputs,
) -> None:
    ts = float(message["_ts"])
    record.liveness, ended = on_activation(before, message["action"], ts)
    if ended is None:
        return
    config = setup.staleness
    due = ended.requested_at + config.activation_deadline_seconds
    if ended.resolved_at <= due:
        return  # ended in time: nothing was or will be overdue
    waiting = replace(before, activation_requested_at=ended.requested_at)
    verdict = replace(liveness_at(waiting, due, config), activation_overdue=True)
    inputs = PointInputs(setup.info, liveness=verdict)
    current = record.alerts
    if current is not None and ACTIVATION_OVERDUE in current.alerts:
        # The order's end resolves the episode at its own ts, whenever it is read.
        record.alerts, events = end_episode(current, inputs, ACTIVATION_OVERDUE,
                                            ended.resolved_at, setup.rules)
    else:
        # Ended before its deadline was judged (an order read after the reports that show the
        # point opened late): the whole episode, over already.
        events = past_episode(current, inputs, ACTIVATION_OVERDUE, due, ended.resolved_at,
                              setup.rules)
    out.alerts.extend(events)


# --- advance --------------------------------------------------------------------------------


def next_deadline(record: PointState, setup: PointSetup) -> float | None:
    """When the point next needs :func:`advance`: its earliest deadline after ``judged_at``
    (silence, activation due, a timer rule's pending or clearing wait); None: none pending."""
    liveness = record.liveness
    if liveness is None:
        return None
    config = setup.staleness
    after = record.judged_at
    earliest = None
    # Runs after every message: a loop over the few candidates, no list sorted.
    for t in (silence_deadline(liveness, config), activation_due(liveness, config),
              *_rule_waits(record.alerts, setup.rules)):
        if t is not None and (after is None or t > after) and (earliest is None or t < earliest):
            earliest = t
    return earliest


def _rule_waits(state: AlertState | None, rules: AlertRules) -> list[float]:
    """The ends of timer rules' pending and clearing waits."""
    if state is None or not state.alerts:
        return []
    waits = []
    for name, current in state.alerts.items():
        if not RULE_BY_NAME[name].on_timer:
            continue
        spec = rules.rules[name]
        if current.phase == "pending":
            waits.append(current.since + spec.pending_seconds)
        elif current.clear_since is not None:
            waits.append(current.clear_since + spec.clear_seconds)
    return waits


def advance(record: PointState, until: float, setup: PointSetup
            ) -> tuple[PointState, PointOutputs]:
    """Judge the point's timer rules at every deadline up to ``until`` (stream time)."""
    out = PointOutputs()
    while (at := next_deadline(record, setup)) is not None and at <= until:
        assert record.liveness is not None  # a deadline needs a liveness
        verdict = liveness_at(record.liveness, at, setup.staleness)
        record.alerts, events = evaluate_alerts(
            record.alerts, PointInputs(setup.info, liveness=verdict, plan=setup.plan), at,
            setup.rules, timer=True)
        out.alerts.extend(events)
        record.judged_at = at
        _publish_state(record, at, setup, out)
    return record, out


def shown_state(liveness: LivenessState, at: float, config: StalenessConfig
                ) -> tuple[str, bool]:
    """What a network count shows of a point at ``at``: its category and whether its
    activation is overdue (what :func:`liveness_at` says, without building the verdict: this
    runs after every message)."""
    silent_at, due = silence_deadline(liveness, config), activation_due(liveness, config)
    if silent_at is not None and at >= silent_at:
        category = "silent"
    elif liveness.last_status in ("open", "standby", "closed"):
        category = liveness.last_status
    else:
        category = "unknown"
    return category, due is not None and at >= due


def _publish_state(record: PointState, at: float, setup: PointSetup, out: PointOutputs) -> None:
    """A ``points.state`` message when the point's category or overdue flag changed."""
    liveness = record.liveness
    if liveness is None:
        return
    config = setup.staleness
    current = shown_state(liveness, at, config)
    previous = record.published
    if previous == current:
        return
    verdict = liveness_at(liveness, at, config)
    info = setup.info
    silent = verdict.category == "silent"
    out.state_changes.append({
        "point_id": info.point_id,
        "ts": iso(at),
        "state": verdict.category,
        "previous_state": None if previous is None else previous[0],
        "activation_overdue": verdict.activation_overdue,
        "since": None if verdict.since is None else iso(verdict.since),
        "silent_for_seconds": verdict.age_seconds if silent else None,
        "oblast": info.oblast,
        "kind": info.kind,
    })
    record.published = current
