"""Alert rules for one point, and the life of each alert: pending, firing, updated, resolved.

Pure: the caller passes the point's latest inputs and ``now``; :func:`evaluate` returns the new
state and the events to publish. Nothing here reads a clock, a topic or a database.

**Conditions.** Each rule judges the inputs as FIRE (the condition holds), CLEAR (it is over)
or HOLD (in the dead band between the two thresholds, or the data to judge is missing or stale:
keep whatever state the alert is in). Two thresholds per rule give value hysteresis: fuel_low
fires below twice the delivery lead time but clears only above that plus a margin.

**Timing.** An alert fires after its condition held at every evaluation for ``pending_seconds``
(one reading that does not hold resets the wait), and resolves after the condition was CLEAR at
every evaluation for ``clear_seconds`` (a HOLD or FIRE resets that wait). So one noisy reading
neither fires nor resolves an alert, and a value hovering at a threshold fires at most once.
Two facts resolve at once: a detected refuel resolves the fuel alerts, a report resolves
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

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal

from streams.domain import alert_text as text
from streams.domain.alert_text import Language
from streams.domain.fuel_forecast import Forecast
from streams.domain.occupancy import OccupancySnapshot
from streams.domain.points import PointInfo
from streams.domain.staleness import PointLiveness

Severity = Literal["info", "warning", "critical"]
EventStatus = Literal["firing", "updated", "resolved"]
Phase = Literal["pending", "firing"]

SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
PointKind = Literal["permanent", "standby", "mobile"]
KINDS: tuple[PointKind, ...] = ("permanent", "standby", "mobile")

FUEL_CRITICAL = "fuel_critical"
FUEL_LOW = "fuel_low"
POINT_SILENT = "point_silent"
ACTIVATION_OVERDUE = "activation_overdue"
OVER_CAPACITY = "over_capacity"
NO_POWER = "no_power"
HEATING_OFF = "heating_off"
INTERNET_DOWN = "internet_down"

#: Every rule, in evaluation order: fuel_critical before fuel_low, whose details say whether
#: it is escalated.
ALERTNAMES: tuple[str, ...] = (
    FUEL_CRITICAL,
    FUEL_LOW,
    POINT_SILENT,
    ACTIVATION_OVERDUE,
    OVER_CAPACITY,
    NO_POWER,
    HEATING_OFF,
    INTERNET_DOWN,
)
FUEL_ALERTS = frozenset({FUEL_LOW, FUEL_CRITICAL})
ESCALATED_TO = "escalated_to"


class Verdict(Enum):
    """What a rule makes of the inputs at one evaluation."""

    FIRE = "fire"
    CLEAR = "clear"
    HOLD = "hold"


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """How one rule alerts: its severity and its pending and clearing periods (seconds)."""

    severity: Severity
    pending_seconds: float
    clear_seconds: float
    enabled: bool = True


DEFAULT_RULES: Mapping[str, RuleSpec] = {
    FUEL_CRITICAL: RuleSpec("critical", pending_seconds=300, clear_seconds=900),
    FUEL_LOW: RuleSpec("warning", pending_seconds=300, clear_seconds=900),
    POINT_SILENT: RuleSpec("warning", pending_seconds=0, clear_seconds=0),
    ACTIVATION_OVERDUE: RuleSpec("critical", pending_seconds=0, clear_seconds=0),
    OVER_CAPACITY: RuleSpec("warning", pending_seconds=600, clear_seconds=900),
    NO_POWER: RuleSpec("critical", pending_seconds=300, clear_seconds=300),
    HEATING_OFF: RuleSpec("warning", pending_seconds=900, clear_seconds=600),
    INTERNET_DOWN: RuleSpec("info", pending_seconds=900, clear_seconds=600),
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The thresholds of one (point kind, oblast); see ``config/alert_rules.yaml``."""

    fuel_lead_time_hours: float = 6.0  # how long a fuel delivery takes, order to tank
    fuel_low_factor: float = 2.0  # fuel_low below this many lead times of fuel
    fuel_critical_factor: float = 1.0  # fuel_critical below this many lead times
    fuel_clear_margin: float = 0.1  # fuel alerts clear this share above their threshold
    fuel_min_confidence: float = 0.3  # a forecast less sure than this neither fires nor clears
    over_capacity_utilisation: float = 1.0  # fires above this utilisation
    over_capacity_clear_utilisation: float = 0.9  # clears below this one
    cold_below_c: float = 12.0  # heating_off fires below this indoor temperature
    warm_above_c: float = 14.0  # ... and clears at or above this one

    @property
    def fuel_low_hours(self) -> float:
        """Hours of fuel below which fuel_low fires."""
        return self.fuel_lead_time_hours * self.fuel_low_factor

    @property
    def fuel_critical_hours(self) -> float:
        """Hours of fuel below which fuel_critical fires."""
        return self.fuel_lead_time_hours * self.fuel_critical_factor

    def problems(self) -> list[str]:
        """What is inconsistent in these thresholds, one sentence each (empty: none)."""
        found = [
            f"{name} must be greater than 0 (got {value})"
            for name, value in (
                ("fuel_lead_time_hours", self.fuel_lead_time_hours),
                ("fuel_critical_factor", self.fuel_critical_factor),
                ("over_capacity_utilisation", self.over_capacity_utilisation),
            )
            if not value > 0
        ]
        if not self.fuel_low_factor > self.fuel_critical_factor:
            found.append(
                f"fuel_low_factor ({self.fuel_low_factor}) must be greater than "
                f"fuel_critical_factor ({self.fuel_critical_factor}): fuel_low warns first"
            )
        if not 0 <= self.fuel_clear_margin <= 1:
            found.append(f"fuel_clear_margin must be within 0..1 (got {self.fuel_clear_margin})")
        if not 0 <= self.fuel_min_confidence <= 1:
            found.append(
                f"fuel_min_confidence must be within 0..1 (got {self.fuel_min_confidence})"
            )
        if not 0 < self.over_capacity_clear_utilisation <= self.over_capacity_utilisation:
            found.append(
                f"over_capacity_clear_utilisation ({self.over_capacity_clear_utilisation}) "
                f"must be above 0 and at most over_capacity_utilisation "
                f"({self.over_capacity_utilisation})"
            )
        if not self.cold_below_c <= self.warm_above_c:
            found.append(
                f"warm_above_c ({self.warm_above_c}) must be at least cold_below_c "
                f"({self.cold_below_c})"
            )
        return found


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Everything :func:`evaluate` needs to know about the rules (built by ``alert_config``).

    Thresholds resolve from the most specific entry: ``oblast_thresholds[(oblast, kind)]``,
    then ``kind_thresholds[kind]``, then ``thresholds``; the loader stores every entry fully
    resolved, so one lookup answers.
    """

    rules: Mapping[str, RuleSpec] = field(default_factory=lambda: dict(DEFAULT_RULES))
    thresholds: Thresholds = field(default_factory=Thresholds)
    kind_thresholds: Mapping[str, Thresholds] = field(default_factory=dict)
    oblast_thresholds: Mapping[tuple[str, str], Thresholds] = field(default_factory=dict)
    runbook_url: str = "docs/oncall.md"  # '#<alertname>' is appended
    language: Language = "en"
    timezone: str = "Europe/Kyiv"
    update_interval_seconds: float = 900.0  # least time between two updates of an alert

    def __post_init__(self) -> None:
        missing = [name for name in ALERTNAMES if name not in self.rules]
        if missing:
            raise ValueError(f"rules missing for {', '.join(missing)}")

    def thresholds_for(self, kind: str, oblast: str) -> Thresholds:
        """The thresholds that apply to a point of ``kind`` in ``oblast``."""
        found = self.oblast_thresholds.get((oblast, kind))
        if found is not None:
            return found
        return self.kind_thresholds.get(kind, self.thresholds)


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Report:
    """A point's latest telemetry report (``ts`` in epoch seconds)."""

    ts: float
    status: str
    power: str
    generator_running: bool
    heating_on: bool | None = None
    internet_up: bool | None = None
    indoor_temp_c: float | None = None
    headcount: int | None = None

    @classmethod
    def from_telemetry(cls, message: Mapping[str, Any]) -> Report:
        """From a ``points.telemetry`` message as ``Contract.validate`` returns it (``_ts`` set)."""
        return cls(
            ts=float(message["_ts"]),
            status=message["status"],
            power=message["power"],
            generator_running=bool(message["generator_running"]),
            heating_on=message.get("heating_on"),
            internet_up=message.get("internet_up"),
            indoor_temp_c=message.get("indoor_temp_c"),
            headcount=message.get("headcount"),
        )


@dataclass(frozen=True, slots=True)
class PointInputs:
    """The latest of everything known about one point; any part may be missing (None).

    A missing part makes the rules that need it HOLD: they neither fire nor resolve.
    """

    point: PointInfo
    report: Report | None = None
    forecast: Forecast | None = None  # the latest fuel forecast of the point's generator
    liveness: PointLiveness | None = None  # staleness.evaluate at the same reference time
    occupancy: OccupancySnapshot | None = None


# --- events and state ---------------------------------------------------------------------


def fingerprint(alertname: str, point_id: str) -> str:
    """The stable id of one alertname on one point: 16 hex digits of a SHA-1."""
    return hashlib.sha1(f"{alertname}\x00{point_id}".encode()).hexdigest()[:16]


def iso(ts: float) -> str:
    """Epoch seconds as an RFC 3339 UTC date-time with milliseconds."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One state change of one alert: what the ``alerts`` topic carries (times in epoch s)."""

    fingerprint: str
    alertname: str
    status: EventStatus
    severity: Severity
    point_id: str
    oblast: str
    point_kind: str
    ts: float
    starts_at: float
    ends_at: float | None
    summary: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]

    def to_message(self) -> dict[str, Any]:
        """The ``alerts`` topic message (``schemas/alerts.schema.json``)."""
        return {
            "fingerprint": self.fingerprint,
            "alertname": self.alertname,
            "status": self.status,
            "severity": self.severity,
            "point_id": self.point_id,
            "oblast": self.oblast,
            "point_kind": self.point_kind,
            "ts": iso(self.ts),
            "starts_at": iso(self.starts_at),
            "ends_at": None if self.ends_at is None else iso(self.ends_at),
            "summary": self.summary,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible copy with epoch-second times (for the state table)."""
        data = asdict(self)
        data["labels"] = dict(self.labels)
        data["annotations"] = dict(self.annotations)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvent:
        """Inverse of :meth:`to_dict`."""
        return cls(
            **{**data, "labels": dict(data["labels"]), "annotations": dict(data["annotations"])}
        )


@dataclass(frozen=True, slots=True)
class RuleState:
    """One alert of one point that is pending or firing (inactive alerts are not stored).

    ``since``: when the condition began (pending) or the alert's ``starts_at`` (firing);
    ``clear_since``: since when a firing alert's condition has been clear; ``event``: the
    last event sent for a firing alert (what an update is compared with, and re-sent).
    """

    phase: Phase
    since: float
    clear_since: float | None = None
    event: AlertEvent | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible copy."""
        return {
            "phase": self.phase,
            "since": self.since,
            "clear_since": self.clear_since,
            "event": None if self.event is None else self.event.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleState:
        """Inverse of :meth:`to_dict`."""
        event = data.get("event")
        return cls(
            phase=data["phase"],
            since=float(data["since"]),
            clear_since=data.get("clear_since"),
            event=None if event is None else AlertEvent.from_dict(event),
        )


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


def evaluate(
    state: AlertState | None, inputs: PointInputs, now: float, rules: AlertRules
) -> tuple[AlertState, list[AlertEvent]]:
    """Judge one point at ``now`` (epoch s); return its new alert state and the events.

    ``now`` is the time the inputs are judged at: the lag guard's reference time on a timer,
    or the message ``ts`` when evaluating on a message. Time never runs backwards for a
    point: an earlier ``now`` than the last evaluation counts as that evaluation's time.
    """
    previous = state if state is not None else AlertState()
    if previous.evaluated_at is not None:
        now = max(now, previous.evaluated_at)
    ctx = _Context(
        inputs,
        rules.thresholds_for(inputs.point.kind, inputs.point.oblast),
        rules,
        now,
        {},
    )
    events: list[AlertEvent] = []
    for name in ALERTNAMES:
        spec = rules.rules[name]
        verdict = _VERDICTS[name](ctx) if spec.enabled else Verdict.CLEAR
        at_once = not spec.enabled or _clears_at_once(name, ctx)
        new, event = _step(name, previous.alerts.get(name), verdict, at_once, spec, ctx)
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
    fired = _fired(name, spec, starts_at, _Context(inputs, thresholds, rules, starts_at, {}))
    ended = _Context(inputs, thresholds, rules, ends_at, {})
    return [fired, _resolved(name, fired, ends_at, ended)]


@dataclass(slots=True)
class _Context:
    inputs: PointInputs
    thresholds: Thresholds
    rules: AlertRules
    now: float
    alerts: dict[str, RuleState]  # the new state, filled in evaluation order


def _step(
    name: str,
    current: RuleState | None,
    verdict: Verdict,
    at_once: bool,
    spec: RuleSpec,
    ctx: _Context,
) -> tuple[RuleState | None, AlertEvent | None]:
    """One rule's state machine: inactive -> pending -> firing -> (clearing) -> resolved."""
    now = ctx.now
    if current is None or current.phase == "pending" or current.event is None:
        if verdict is not Verdict.FIRE:
            return None, None  # the pending wait needs the condition at every evaluation
        since = now if current is None else current.since
        if now - since < spec.pending_seconds:
            return RuleState("pending", since), None
        event = _fired(name, spec, since, ctx)
        return RuleState("firing", since, event=event), event
    last = current.event
    if verdict is Verdict.CLEAR:
        clear_since = current.clear_since if current.clear_since is not None else now
        if at_once or now - clear_since >= spec.clear_seconds:
            return None, _resolved(name, last, clear_since, ctx)
        return replace(current, clear_since=clear_since), None
    if verdict is Verdict.HOLD:
        return replace(current, clear_since=None), None
    summary, annotations = _describe(name, ctx)
    if not _update_due(last, summary, annotations, ctx):
        return replace(current, clear_since=None), None
    event = replace(
        last,
        status="updated",
        ts=now,
        summary=summary,
        annotations=_annotations(name, summary, annotations, ctx),
    )
    return RuleState("firing", current.since, event=event), event


def _update_due(
    last: AlertEvent, summary: str, annotations: Mapping[str, str], ctx: _Context
) -> bool:
    # An escalation changes at once; wording (hours left, people inside) at most every
    # update_interval_seconds, so a figure wobbling between two roundings is not news.
    if last.annotations.get(ESCALATED_TO) != annotations.get(ESCALATED_TO):
        return True
    return summary != last.summary and ctx.now - last.ts >= ctx.rules.update_interval_seconds


def _fired(name: str, spec: RuleSpec, starts_at: float, ctx: _Context) -> AlertEvent:
    point = ctx.inputs.point
    summary, annotations = _describe(name, ctx)
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
        ts=ctx.now,
        starts_at=starts_at,
        ends_at=None,
        summary=summary,
        labels=labels,
        annotations=_annotations(name, summary, annotations, ctx),
    )


def _resolved(name: str, last: AlertEvent, ends_at: float, ctx: _Context) -> AlertEvent:
    summary = _resolution_summary(name, last, ctx) or last.summary
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
    name: str, summary: str, specific: Mapping[str, str], ctx: _Context
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


def _clears_at_once(name: str, ctx: _Context) -> bool:
    forecast = ctx.inputs.forecast
    return name in FUEL_ALERTS and forecast is not None and forecast.refuel_detected


# --- the rules: verdicts ------------------------------------------------------------------


def _silent(ctx: _Context) -> bool:
    liveness = ctx.inputs.liveness
    return liveness is not None and liveness.liveness == "silent"


def _fuel_verdict(fire_below_hours: Callable[[Thresholds], float]) -> Callable[[_Context], Verdict]:
    def verdict(ctx: _Context) -> Verdict:
        forecast = ctx.inputs.forecast
        if forecast is None or forecast.hours_to_empty is None:
            return Verdict.HOLD
        t = ctx.thresholds
        left = forecast.hours_to_empty
        fire_below = fire_below_hours(t)
        clear_above = fire_below * (1.0 + t.fuel_clear_margin)
        if forecast.refuel_detected and left > clear_above:
            return Verdict.CLEAR  # a refuel is a fact, whatever the new forecast's confidence
        if forecast.confidence < t.fuel_min_confidence or _silent(ctx):
            return Verdict.HOLD
        if left < fire_below:
            # A stopped generator burns nothing: no new alert while it is off, but an alert
            # already firing stays until the tank is refilled.
            return Verdict.FIRE if forecast.generator_running else Verdict.HOLD
        return Verdict.CLEAR if left > clear_above else Verdict.HOLD

    return verdict


def _point_silent(ctx: _Context) -> Verdict:
    liveness = ctx.inputs.liveness
    if liveness is None or liveness.liveness == "unknown":
        return Verdict.HOLD  # the pipeline cannot judge now: keep the previous state
    return Verdict.FIRE if liveness.liveness == "silent" else Verdict.CLEAR


def _activation_overdue(ctx: _Context) -> Verdict:
    liveness = ctx.inputs.liveness
    if liveness is None or liveness.reference_ts is None:
        return Verdict.HOLD
    return Verdict.FIRE if liveness.activation_overdue else Verdict.CLEAR


def _over_capacity(ctx: _Context) -> Verdict:
    occupancy = ctx.inputs.occupancy
    if occupancy is None or occupancy.utilisation is None:
        return Verdict.HOLD
    if occupancy.utilisation > ctx.thresholds.over_capacity_utilisation:
        return Verdict.FIRE
    if occupancy.utilisation < ctx.thresholds.over_capacity_clear_utilisation:
        return Verdict.CLEAR
    return Verdict.HOLD


def _open_report(ctx: _Context) -> Report | Verdict:
    """The report a rule about an open point judges, or the verdict when there is none."""
    report = ctx.inputs.report
    if report is None or _silent(ctx):
        return Verdict.HOLD  # no news, or stale news: point_silent speaks for the point now
    if report.status != "open":
        return Verdict.CLEAR  # a closed or standby point needs no power, heat or internet
    return report


def _no_power(ctx: _Context) -> Verdict:
    report = _open_report(ctx)
    if isinstance(report, Verdict):
        return report
    if report.power != "grid" and not report.generator_running:
        return Verdict.FIRE
    return Verdict.CLEAR


def _heating_off(ctx: _Context) -> Verdict:
    report = _open_report(ctx)
    if isinstance(report, Verdict):
        return report
    temp, t = report.indoor_temp_c, ctx.thresholds
    if report.heating_on is False or (temp is not None and temp < t.cold_below_c):
        return Verdict.FIRE
    if report.heating_on is None and temp is None:
        return Verdict.HOLD
    if temp is not None and temp < t.warm_above_c:
        return Verdict.HOLD
    return Verdict.CLEAR


def _internet_down(ctx: _Context) -> Verdict:
    report = _open_report(ctx)
    if isinstance(report, Verdict):
        return report
    if report.internet_up is None:
        return Verdict.HOLD
    return Verdict.CLEAR if report.internet_up else Verdict.FIRE


_OPEN_POINT_ALERTS = frozenset({NO_POWER, HEATING_OFF, INTERNET_DOWN})

_VERDICTS: Mapping[str, Callable[[_Context], Verdict]] = {
    FUEL_CRITICAL: _fuel_verdict(lambda t: t.fuel_critical_hours),
    FUEL_LOW: _fuel_verdict(lambda t: t.fuel_low_hours),
    POINT_SILENT: _point_silent,
    ACTIVATION_OVERDUE: _activation_overdue,
    OVER_CAPACITY: _over_capacity,
    NO_POWER: _no_power,
    HEATING_OFF: _heating_off,
    INTERNET_DOWN: _internet_down,
}


# --- the rules: what an alert says --------------------------------------------------------


def _describe(name: str, ctx: _Context) -> tuple[str, dict[str, str]]:
    """The summary and the rule's own annotations, for an alert whose verdict is FIRE."""
    where = text.where(ctx.inputs.point.name, ctx.inputs.point.oblast)
    lang = ctx.rules.language
    if name in FUEL_ALERTS:
        return _describe_fuel(name, where, ctx)
    if name == POINT_SILENT:
        return _describe_silent(where, ctx)
    if name == ACTIVATION_OVERDUE:
        return _describe_overdue(where, ctx)
    if name == OVER_CAPACITY:
        return _describe_capacity(name, where, ctx)
    if name == HEATING_OFF:
        return _describe_heating(where, ctx)
    if name == NO_POWER and ctx.inputs.report is not None and ctx.inputs.report.power == "battery":
        return text.say(lang, "no_power.battery", where=where), {}
    return text.say(lang, name, where=where), {}


def _describe_fuel(name: str, where: str, ctx: _Context) -> tuple[str, dict[str, str]]:
    forecast, t, lang = ctx.inputs.forecast, ctx.thresholds, ctx.rules.language
    assert forecast is not None and forecast.hours_to_empty is not None  # a FIRE verdict
    values = {
        "where": where,
        "hours": text.hours(forecast.hours_to_empty, lang),
        "lead": text.hours(t.fuel_lead_time_hours, lang),
    }
    annotations = {
        "hours_to_empty": f"{forecast.hours_to_empty:.1f}",
        "lead_time_hours": f"{t.fuel_lead_time_hours:g}",
        "confidence": f"{forecast.confidence:.2f}",
    }
    if forecast.level_l is not None:
        annotations["fuel_level_l"] = f"{forecast.level_l:.0f}"
    if forecast.burn_rate_lph is not None:
        annotations["burn_rate_lph"] = f"{forecast.burn_rate_lph:.1f}"
    if (
        name == FUEL_LOW
        and FUEL_CRITICAL in ctx.alerts
        and ctx.alerts[FUEL_CRITICAL].phase == "firing"
    ):
        annotations[ESCALATED_TO] = FUEL_CRITICAL
    if forecast.empty_at is None:
        return text.say(lang, f"{name}.stopped", **values), annotations
    annotations["empty_at"] = iso(forecast.empty_at)
    at = text.zoned_clock(forecast.empty_at, ctx.now, ctx.rules.timezone, lang)
    # The refuel wording rule: a refuel that leaves the tank low resolves fuel_critical
    # ("refuelled") and keeps fuel_low, which then says it was refuelled too, so the two
    # messages of that minute tell one story.
    key = f"{name}.refuelled" if name == FUEL_LOW and forecast.refuel_detected else name
    return text.say(lang, key, at=at, **values), annotations


def _describe_silent(where: str, ctx: _Context) -> tuple[str, dict[str, str]]:
    liveness = ctx.inputs.liveness
    assert liveness is not None  # a FIRE verdict
    annotations = {
        "silence_threshold_minutes": f"{liveness.silence_threshold_seconds / 60:g}",
    }
    since = "?"
    if liveness.since is not None:
        since = text.zoned_clock(
            liveness.since, ctx.now, ctx.rules.timezone, ctx.rules.language
        )
        annotations["silent_since"] = iso(liveness.since)
        annotations.setdefault("last_seen", iso(liveness.since))
    return text.say(ctx.rules.language, POINT_SILENT, where=where, since=since), annotations


def _describe_overdue(where: str, ctx: _Context) -> tuple[str, dict[str, str]]:
    liveness = ctx.inputs.liveness
    assert liveness is not None and liveness.activation_requested_at is not None  # FIRE
    requested = liveness.activation_requested_at
    annotations = {"activation_requested_at": iso(requested)}
    deadline_s = 0.0
    if liveness.activation_deadline_ts is not None:
        annotations["activation_deadline"] = iso(liveness.activation_deadline_ts)
        deadline_s = liveness.activation_deadline_ts - requested
    lang = ctx.rules.language
    summary = text.say(
        lang,
        ACTIVATION_OVERDUE,
        where=where,
        deadline=text.duration(deadline_s, lang),
        at=text.zoned_clock(requested, ctx.now, ctx.rules.timezone, lang),
    )
    return summary, annotations


def _describe_capacity(name: str, where: str, ctx: _Context) -> tuple[str, dict[str, str]]:
    occupancy = ctx.inputs.occupancy
    assert occupancy is not None and occupancy.utilisation is not None  # FIRE or CLEAR
    summary = text.say(
        ctx.rules.language,
        name,
        where=where,
        people=occupancy.people_inside,
        capacity=occupancy.capacity_people,
    )
    return summary, {
        "people_inside": str(occupancy.people_inside),
        "capacity_people": str(occupancy.capacity_people),
        "utilisation": f"{occupancy.utilisation:.2f}",
    }


def _describe_heating(where: str, ctx: _Context) -> tuple[str, dict[str, str]]:
    report, lang = ctx.inputs.report, ctx.rules.language
    assert report is not None  # a FIRE verdict
    temp = report.indoor_temp_c
    if temp is None:
        return text.say(lang, HEATING_OFF, where=where, inside=""), {}
    annotations = {"indoor_temp_c": f"{temp:.1f}"}
    temp_text = text.celsius(temp, lang)
    if report.heating_on is False:
        inside = text.say(lang, "heating_off.inside", temp=temp_text)
        return text.say(lang, HEATING_OFF, where=where, inside=inside), annotations
    return text.say(lang, "heating_off.cold", where=where, temp=temp_text), annotations


def _resolution_summary(name: str, last: AlertEvent, ctx: _Context) -> str | None:
    """What a resolved alert says, when the inputs tell why it resolved; else None."""
    if not ctx.rules.rules[name].enabled:
        return None
    where = text.where(ctx.inputs.point.name, ctx.inputs.point.oblast)
    lang = ctx.rules.language
    if name in FUEL_ALERTS:
        forecast = ctx.inputs.forecast
        if forecast is None or forecast.hours_to_empty is None:
            return None
        key = "fuel.refuelled" if forecast.refuel_detected else "fuel.resolved"
        return text.say(lang, key, where=where, hours=text.hours(forecast.hours_to_empty, lang))
    if name == OVER_CAPACITY:
        occupancy = ctx.inputs.occupancy
        assert occupancy is not None  # a CLEAR verdict
        newest = max(occupancy.last_event_ts or 0.0, occupancy.headcount_ts or 0.0)
        # No visit or count since the alert last spoke, yet fewer people: visits aged out.
        key = "over_capacity.expired" if newest <= last.ts else "over_capacity.resolved"
        return _describe_capacity(key, where, ctx)[0]
    report = ctx.inputs.report
    if name in _OPEN_POINT_ALERTS and report is not None and report.status != "open":
        return text.say(lang, "point.not_open", where=where, status=report.status)
    return text.say(lang, f"{name}.resolved", where=where)
