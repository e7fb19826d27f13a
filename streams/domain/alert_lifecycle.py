"""The life of each alert of a point: pending, firing, updated, resolved.

Pure: the caller passes the point's latest inputs and ``now``; :func:`evaluate` runs every rule
of :data:`~streams.domain.alert_rules.RULES` and returns the new state and the events to
publish. Nothing here reads a clock, a topic or a database.

**Timing.** An alert fires after its condition held at every evaluation for ``pending_seconds``
(one reading that does not hold resets the wait), and resolves after the condition was CLEAR at
every evaluation for ``clear_seconds`` (a HOLD or FIRE resets that wait). So one noisy reading
neither fires nor resolves an alert, and a value hovering at a threshold fires at most once.
Two facts resolve at once: a detected refuel resolves the rules it clears, a report resolves
point_silent (its default ``clear_seconds`` is 0).

**Escalation.** fuel_low and fuel_critical are two alerts, because that is what lets
Alertmanager inhibit the warning while the critical one fires: fuel_low keeps firing (the tank
*is* low) and Alertmanager mutes it; escalating emits fuel_critical ``firing`` and a fuel_low
``updated`` carrying ``escalated_to: fuel_critical``, so the alert history shows both. A refuel
resolves both in the same evaluation, so Alertmanager sends both resolutions.

**Identity.** An alert is one alertname on one point; its fingerprint is derived from those two
only, and its labels are fixed when it fires, so Alertmanager sees the same alert from firing to
resolution even if the registry changes meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from streams.domain.alert_model import (
    AlertEvent,
    PointInputs,
    RuleSpec,
    RuleState,
    Verdict,
    fingerprint,
)
from streams.domain.alert_rules import (
    ALERTNAMES,
    ESCALATED_TO,
    PLAN_ANNOTATIONS,
    PLANNED_TRUCK,
    RULE_BY_NAME,
    RULES,
    AlertRule,
    AlertRules,
    RuleContext,
)
from streams.domain.timestamps import iso


@dataclass(frozen=True, slots=True)
class AlertState:
    """The alerts of one point (keyed by alertname) and when they were last evaluated.

    Small (typically empty) and JSON-serialisable: it lives in a table keyed by point_id.
    """

    alerts: Mapping[str, RuleState] = field(default_factory=dict)
    evaluated_at: float | None = None

    def firing(self) -> list[AlertEvent]:
        """The last event of every firing alert: what to re-offer to the notifier."""
        return [
            s.event for s in self.alerts.values() if s.phase == "firing" and s.event is not None
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible copy."""
        return {
            "alerts": {name: s.to_dict() for name, s in self.alerts.items()},
            "evaluated_at": self.evaluated_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertState:
        """Inverse of :meth:`to_dict`; alerts of rules this version does not know are dropped."""
        alerts = {
            name: RuleState.from_dict(s)
            for name, s in data.get("alerts", {}).items()
            if name in ALERTNAMES
        }
        return cls(alerts=alerts, evaluated_at=data.get("evaluated_at"))


# --- evaluation ---------------------------------------------------------------------------


def evaluate_alerts(
    state: AlertState | None,
    inputs: PointInputs,
    now: float,
    rules: AlertRules,
    *,
    timer: bool = False,
) -> tuple[AlertState, list[AlertEvent]]:
    """Judge one point at ``now`` (epoch s); return its new alert state and the events.

    ``now`` is the time the inputs are judged at: a deadline's own time on a timer,
    or the message ``ts`` when evaluating on a message. Time never runs backwards for a
    point: an earlier ``now`` than the last evaluation counts as that evaluation's time.
    """
    previous = state if state is not None else AlertState()
    if previous.evaluated_at is not None:
        now = max(now, previous.evaluated_at)
    ctx = RuleContext(
        inputs,
        rules.thresholds_for(inputs.point.kind, inputs.point.oblast),
        rules,
        now,
        {},
    )
    events: list[AlertEvent] = []
    for rule in RULES:
        name, spec = rule.name, rules.rules[rule.name]
        if timer and not rule.on_timer:
            # The timer knows the point's liveness only: a rule that judges its reports keeps
            # its state (a HOLD would end a pending wait the reports are still filling).
            if name in previous.alerts:
                ctx.alerts[name] = previous.alerts[name]
            continue
        verdict = rule.condition(ctx) if spec.enabled else Verdict.CLEAR
        at_once = not spec.enabled or _refuelled(rule, ctx)
        new, event = _step(rule, previous.alerts.get(name), verdict, at_once, spec, ctx)
        if new is not None:
            ctx.alerts[name] = new
        if event is not None:
            events.append(event)
    return AlertState(alerts=ctx.alerts, evaluated_at=now), events


def past_episode(
    state: AlertState | None,
    inputs: PointInputs,
    name: str,
    starts_at: float,
    ends_at: float,
    rules: AlertRules,
) -> list[AlertEvent]:
    """The firing and resolved events of an episode found only after it ended, with its true
    times (an activation order read after the reports that show the point opened late); empty
    when the rule is off, the episode is empty, or the alert fires already. The point's state
    is not changed: the episode is over."""
    spec = rules.rules[name]
    if not spec.enabled or ends_at <= starts_at:
        return []
    if state is not None and name in state.alerts:
        return []
    thresholds = rules.thresholds_for(inputs.point.kind, inputs.point.oblast)
    fired = _fired(name, spec, starts_at, RuleContext(inputs, thresholds, rules, starts_at, {}))
    ended = RuleContext(inputs, thresholds, rules, ends_at, {})
    return [fired, _resolved(name, fired, ends_at, ended)]


def end_episode(
    state: AlertState, inputs: PointInputs, name: str, ends_at: float, rules: AlertRules
) -> tuple[AlertState, list[AlertEvent]]:
    """Resolve ``name``'s firing alert at ``ends_at``, when a message says its condition ended
    then (a stand-down ends an overdue wait), even if the point's alerts were evaluated later
    meanwhile: the resolution carries the true end as its time, as a backlog read in order
    would. No change when it is not firing."""
    current = state.alerts.get(name)
    if current is None or current.phase != "firing" or current.event is None:
        return state, []
    thresholds = rules.thresholds_for(inputs.point.kind, inputs.point.oblast)
    ctx = RuleContext(inputs, thresholds, rules, max(ends_at, current.event.ts), {})
    ended = _resolved(name, current.event, ends_at, ctx)
    alerts = {other: s for other, s in state.alerts.items() if other != name}
    evaluated_at = ctx.now if state.evaluated_at is None else max(ctx.now, state.evaluated_at)
    return AlertState(alerts=alerts, evaluated_at=evaluated_at), [ended]


def _step(
    rule: AlertRule,
    current: RuleState | None,
    verdict: Verdict,
    at_once: bool,
    spec: RuleSpec,
    ctx: RuleContext,
) -> tuple[RuleState | None, AlertEvent | None]:
    """One rule's state machine: inactive -> pending -> firing -> (clearing) -> resolved."""
    name, now = rule.name, ctx.now
    if current is None or current.phase == "pending" or current.event is None:
        if verdict is not Verdict.FIRE:
            return None, None  # the pending wait needs the condition at every evaluation
        onset = rule.onset(ctx) if current is None else None
        since = now if current is None else current.since
        if onset is not None and onset < since:
            since = onset  # found late: it fires from when it began, as it would have live
        if now - since < spec.pending_seconds:
            return RuleState("pending", since), None
        # Found late, it is stored as fired when it would have fired live.
        fired_at = since + spec.pending_seconds if onset is not None else now
        event = _fired(name, spec, since, ctx, min(fired_at, now))
        return RuleState("firing", since, event=event), event
    last = current.event
    if verdict is Verdict.CLEAR:
        clear_since = current.clear_since if current.clear_since is not None else now
        if at_once or now - clear_since >= spec.clear_seconds:
            return None, _resolved(name, last, clear_since, ctx)
        return replace(current, clear_since=clear_since), None
    still_firing = current if current.clear_since is None else replace(current, clear_since=None)
    if verdict is Verdict.HOLD:
        return still_firing, None
    summary, annotations = rule.describe(ctx)
    if not _update_due(last, summary, annotations, ctx):
        return still_firing, None
    event = replace(
        last,
        status="updated",
        ts=now,
        summary=summary,
        annotations=_annotations(name, summary, annotations, ctx),
    )
    return RuleState("firing", current.since, event=event), event


def _update_due(
    last: AlertEvent, summary: str, annotations: Mapping[str, str], ctx: RuleContext
) -> bool:
    # An escalation changes at once; wording (hours left, people inside) at most every
    # update_interval_seconds, so a figure wobbling between two roundings is not news.
    if last.annotations.get(ESCALATED_TO) != annotations.get(ESCALATED_TO):
        return True
    # A page must name the truck that now comes (or say none does) as soon as the plan says
    # so; a re-planned arrival or amount of litres is news at the pace of the wording.
    if last.annotations.get(PLANNED_TRUCK) != annotations.get(PLANNED_TRUCK):
        return True
    changed = summary != last.summary or any(
        last.annotations.get(key) != annotations.get(key) for key in PLAN_ANNOTATIONS)
    return changed and ctx.now - last.ts >= ctx.rules.update_interval_seconds


def _fired(
    name: str, spec: RuleSpec, starts_at: float, ctx: RuleContext, ts: float | None = None
) -> AlertEvent:
    """The firing event; ``ts`` when it fired, the evaluation's time unless given."""
    point = ctx.inputs.point
    summary, annotations = RULE_BY_NAME[name].describe(ctx)
    labels = {
        "alertname": name,
        "severity": spec.severity,
        "point_id": point.point_id,
        "oblast": point.oblast,
        "point_kind": point.kind,
    }
    return AlertEvent(
        fingerprint=fingerprint(name, point.point_id),
        alertname=name,
        status="firing",
        severity=spec.severity,
        point_id=point.point_id,
        oblast=point.oblast,
        point_kind=point.kind,
        ts=ctx.now if ts is None else ts,
        starts_at=starts_at,
        ends_at=None,
        summary=summary,
        labels=labels,
        annotations=_annotations(name, summary, annotations, ctx),
    )


def _resolved(name: str, last: AlertEvent, ends_at: float, ctx: RuleContext) -> AlertEvent:
    # A rule switched off says nothing new: the inputs do not tell why it ended.
    said = RULE_BY_NAME[name].resolution(last, ctx) if ctx.rules.rules[name].enabled else None
    summary = said or last.summary
    annotations = {**last.annotations, "summary": summary}
    annotations.pop(ESCALATED_TO, None)
    return replace(
        last,
        status="resolved",
        ts=ctx.now,
        ends_at=max(ends_at, last.starts_at),
        summary=summary,
        annotations=annotations,
    )


def _annotations(
    name: str, summary: str, specific: Mapping[str, str], ctx: RuleContext
) -> dict[str, str]:
    point = ctx.inputs.point
    common = {
        "summary": summary,
        "point_name": point.name,
        "runbook_url": f"{ctx.rules.runbook_url}#{name}",
    }
    if point.hromada:
        common["hromada"] = point.hromada
    if ctx.inputs.report is not None:
        common["last_seen"] = iso(ctx.inputs.report.ts)
    return {**common, **specific}


def _refuelled(rule: AlertRule, ctx: RuleContext) -> bool:
    forecast = ctx.inputs.forecast
    return rule.refuel_clears and forecast is not None and forecast.refuel_detected
