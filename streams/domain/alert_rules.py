"""The alert rules, each defined once as a record: :data:`RULES`.

A rule (:class:`AlertRule`) is its name, its default severity and timing, what it means and
when it resolves (the on-call catalogue, ``docs/oncall.md``), its condition, what its alerts
say while firing and when resolved, and whether a refuel clears it. The rules file's model
(:mod:`streams.alerting.rules_file`), the default rules and the catalogue derive from the list;
adding a rule is adding a record here (and its wording in :mod:`streams.domain.alert_text`).

**Conditions.** Each rule judges the inputs as FIRE (the condition holds), CLEAR (it is over)
or HOLD (in the dead band between the two thresholds, or the data to judge is missing or stale:
keep whatever state the alert is in). Two thresholds per rule give value hysteresis: fuel_low
fires below twice the delivery lead time but clears only above that plus a margin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from streams.domain import alert_text as text
from streams.domain.alert_model import (
    AlertEvent,
    PointInputs,
    Report,
    RuleSpec,
    RuleState,
    Thresholds,
    Verdict,
)
from streams.domain.alert_text import Language
from streams.domain.timestamps import iso

FUEL_CRITICAL = "fuel_critical"
FUEL_LOW = "fuel_low"
FUEL_UNREACHABLE = "fuel_unreachable"
# The annotations a fuel alert takes from the current dispatch plan.
PLANNED_TRUCK = "planned_truck"
PLAN_ANNOTATIONS = (PLANNED_TRUCK, "planned_depot", "planned_arrival", "planned_litres",
                    "unreachable_reason")
POINT_SILENT = "point_silent"
ACTIVATION_OVERDUE = "activation_overdue"
OVER_CAPACITY = "over_capacity"
NO_POWER = "no_power"
HEATING_OFF = "heating_off"
INTERNET_DOWN = "internet_down"
ESCALATED_TO = "escalated_to"

Description = tuple[str, dict[str, str]]  # a summary and the rule's own annotations


@dataclass(slots=True)
class RuleContext:
    """One evaluation of one point: what every rule's condition and wording read."""

    inputs: PointInputs
    thresholds: Thresholds
    rules: AlertRules
    now: float
    alerts: dict[str, RuleState]  # the new state, filled in evaluation order

    @property
    def where(self) -> str:
        """The point as summaries name it."""
        return text.where(self.inputs.point.name, self.inputs.point.oblast)


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One alert rule."""

    name: str
    default: RuleSpec  # severity, pending and clearing periods unless the rules file says
    means: str  # what a firing alert means (the catalogue)
    resolves: str  # when it resolves (the catalogue)
    condition: Callable[[RuleContext], Verdict]
    describe: Callable[[RuleContext], Description]  # what it says while firing (FIRE verdict)
    resolution: Callable[[AlertEvent, RuleContext], str | None]  # what it says when resolved
    refuel_clears: bool = False  # a detected refuel resolves it at once
    # Judged at the point's deadlines (silence, activation due), which no message announces;
    # those evaluations leave every other rule as it stands.
    on_timer: bool = False
    # When the condition began in event time, where the inputs say (a deadline): an alert
    # found only later (an order read after the reports that passed its deadline) fires from
    # then, as it would have live.
    onset: Callable[[RuleContext], float | None] = lambda ctx: None


# --- conditions ---------------------------------------------------------------------------


def _silent(ctx: RuleContext) -> bool:
    liveness = ctx.inputs.liveness
    return liveness is not None and liveness.liveness == "silent"


def _fuel_verdict(
    fire_below_hours: Callable[[Thresholds], float],
) -> Callable[[RuleContext], Verdict]:
    def verdict(ctx: RuleContext) -> Verdict:
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


def _fuel_unreachable(ctx: RuleContext) -> Verdict:
    forecast, plan = ctx.inputs.forecast, ctx.inputs.plan
    if forecast is not None and forecast.refuel_detected:
        return Verdict.CLEAR
    if plan is None:
        return Verdict.HOLD  # no current plan for its oblast: nothing to judge by
    # A point the current plan no longer needs to reach is no longer unreachable.
    return Verdict.FIRE if plan.truck is None and plan.in_plan else Verdict.CLEAR


def _point_silent(ctx: RuleContext) -> Verdict:
    liveness = ctx.inputs.liveness
    if liveness is None or liveness.liveness == "unknown":
        return Verdict.HOLD  # the pipeline cannot judge now: keep the previous state
    return Verdict.FIRE if liveness.liveness == "silent" else Verdict.CLEAR


def _silent_since(ctx: RuleContext) -> float | None:
    liveness = ctx.inputs.liveness
    if liveness is None or liveness.since is None:
        return None
    return liveness.since + liveness.silence_threshold_seconds


def _overdue_since(ctx: RuleContext) -> float | None:
    liveness = ctx.inputs.liveness
    return None if liveness is None else liveness.activation_deadline_ts


def _activation_overdue(ctx: RuleContext) -> Verdict:
    liveness = ctx.inputs.liveness
    if liveness is None or liveness.reference_ts is None:
        return Verdict.HOLD
    return Verdict.FIRE if liveness.activation_overdue else Verdict.CLEAR


def _over_capacity(ctx: RuleContext) -> Verdict:
    occupancy = ctx.inputs.occupancy
    if occupancy is None or occupancy.utilisation is None:
        return Verdict.HOLD
    if occupancy.utilisation > ctx.thresholds.over_capacity_utilisation:
        return Verdict.FIRE
    if occupancy.utilisation < ctx.thresholds.over_capacity_clear_utilisation:
        return Verdict.CLEAR
    return Verdict.HOLD


def _open_report(ctx: RuleContext) -> Report | Verdict:
    """The report a rule about an open point judges, or the verdict when there is none."""
    report = ctx.inputs.report
    if report is None or _silent(ctx):
        return Verdict.HOLD  # no news, or stale news: point_silent speaks for the point now
    if report.status != "open":
        return Verdict.CLEAR  # a closed or standby point needs no power, heat or internet
    return report


def _no_power(ctx: RuleContext) -> Verdict:
    report = _open_report(ctx)
    if isinstance(report, Verdict):
        return report
    if report.power != "grid" and not report.generator_running:
        return Verdict.FIRE
    return Verdict.CLEAR


def _heating_off(ctx: RuleContext) -> Verdict:
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


def _internet_down(ctx: RuleContext) -> Verdict:
    report = _open_report(ctx)
    if isinstance(report, Verdict):
        return report
    if report.internet_up is None:
        return Verdict.HOLD
    return Verdict.CLEAR if report.internet_up else Verdict.FIRE


# --- what an alert says -------------------------------------------------------------------


def _describe_fuel(name: str, ctx: RuleContext) -> Description:
    forecast, t, lang = ctx.inputs.forecast, ctx.thresholds, ctx.rules.language
    where = ctx.where
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
    annotations.update(_plan_annotations(ctx))
    if forecast.empty_at is None:
        return text.say(lang, f"{name}.stopped", **values), annotations
    annotations["empty_at"] = iso(forecast.empty_at)
    at = text.zoned_clock(forecast.empty_at, ctx.now, ctx.rules.timezone, lang)
    # The refuel wording rule: a refuel that leaves the tank low resolves fuel_critical
    # ("refuelled") and keeps fuel_low, which then says it was refuelled too, so the two
    # messages of that minute tell one story.
    key = f"{name}.refuelled" if name == FUEL_LOW and forecast.refuel_detected else name
    return text.say(lang, key, at=at, **values), annotations


def _plan_annotations(ctx: RuleContext) -> dict[str, str]:
    """The truck the current plan sends (so a page names it), or why none comes."""
    plan = ctx.inputs.plan
    if plan is None or not plan.in_plan:
        return {}
    if plan.truck is None:
        return {"planned_truck": "none", "unreachable_reason": plan.unreachable_reason or ""}
    annotations = {"planned_truck": plan.truck}
    if plan.depot is not None:
        annotations["planned_depot"] = plan.depot
    if plan.arrive_at is not None:
        annotations["planned_arrival"] = iso(plan.arrive_at)
    if plan.litres is not None:
        annotations["planned_litres"] = f"{plan.litres:.0f}"
    return annotations


def _describe_unreachable(ctx: RuleContext) -> Description:
    plan = ctx.inputs.plan
    assert plan is not None  # a FIRE verdict
    reason = plan.unreachable_reason or text.say(ctx.rules.language, "fuel_unreachable.no_reason")
    return (text.say(ctx.rules.language, FUEL_UNREACHABLE, where=ctx.where, reason=reason),
            {"unreachable_reason": reason})


def _unreachable_resolution(last: AlertEvent, ctx: RuleContext) -> str | None:
    forecast = ctx.inputs.forecast
    key = ("fuel.refuelled_unreachable" if forecast is not None and forecast.refuel_detected
           else "fuel_unreachable.resolved")
    return text.say(ctx.rules.language, key, where=ctx.where)


def _describe_silent(ctx: RuleContext) -> Description:
    where = ctx.where
    liveness = ctx.inputs.liveness
    assert liveness is not None  # a FIRE verdict
    annotations = {
        "silence_threshold_minutes": f"{liveness.silence_threshold_seconds / 60:g}",
    }
    since = "?"
    if liveness.since is not None:
        # Said as of the silence's onset, not of the evaluation: the wording of an episode
        # must not change with when (live or from a backlog) it is evaluated.
        onset = liveness.since + liveness.silence_threshold_seconds
        since = text.zoned_clock(liveness.since, onset, ctx.rules.timezone, ctx.rules.language)
        annotations["silent_since"] = iso(liveness.since)
        annotations.setdefault("last_seen", iso(liveness.since))
    return text.say(ctx.rules.language, POINT_SILENT, where=where, since=since), annotations


def _describe_overdue(ctx: RuleContext) -> Description:
    where = ctx.where
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
        # As of the deadline (the episode's onset), whenever it is evaluated.
        at=text.zoned_clock(requested, requested + deadline_s, ctx.rules.timezone, lang),
    )
    return summary, annotations


def _describe_capacity(key: str, ctx: RuleContext) -> Description:
    occupancy = ctx.inputs.occupancy
    assert occupancy is not None and occupancy.utilisation is not None  # FIRE or CLEAR
    summary = text.say(
        ctx.rules.language,
        key,
        where=ctx.where,
        people=occupancy.people_inside,
        capacity=occupancy.capacity_people,
    )
    return summary, {
        "people_inside": str(occupancy.people_inside),
        "capacity_people": str(occupancy.capacity_people),
        "utilisation": f"{occupancy.utilisation:.2f}",
    }


def _describe_heating(ctx: RuleContext) -> Description:
    where = ctx.where
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

def _describe_no_power(ctx: RuleContext) -> Description:
    report = ctx.inputs.report
    key = "no_power.battery" if report is not None and report.power == "battery" else NO_POWER
    return text.say(ctx.rules.language, key, where=ctx.where), {}


def _describe_internet(ctx: RuleContext) -> Description:
    return text.say(ctx.rules.language, INTERNET_DOWN, where=ctx.where), {}


# --- resolutions --------------------------------------------------------------------------


def _fuel_resolution(last: AlertEvent, ctx: RuleContext) -> str | None:
    forecast, lang = ctx.inputs.forecast, ctx.rules.language
    if forecast is None or forecast.hours_to_empty is None:
        return None
    key = "fuel.refuelled" if forecast.refuel_detected else "fuel.resolved"
    return text.say(lang, key, where=ctx.where, hours=text.hours(forecast.hours_to_empty, lang))


def _capacity_resolution(last: AlertEvent, ctx: RuleContext) -> str | None:
    occupancy = ctx.inputs.occupancy
    assert occupancy is not None  # a CLEAR verdict
    newest = max(occupancy.last_event_ts or 0.0, occupancy.headcount_ts or 0.0)
    # No visit or count since the alert last spoke, yet fewer people: visits aged out.
    key = "over_capacity.expired" if newest <= last.ts else "over_capacity.resolved"
    return _describe_capacity(key, ctx)[0]


def _resolved_as(name: str) -> Callable[[AlertEvent, RuleContext], str | None]:
    def resolution(last: AlertEvent, ctx: RuleContext) -> str | None:
        return text.say(ctx.rules.language, f"{name}.resolved", where=ctx.where)

    return resolution


def _open_point_resolution(name: str) -> Callable[[AlertEvent, RuleContext], str | None]:
    """A rule about an open point: it resolves because the point closed, or because it is
    over."""

    def resolution(last: AlertEvent, ctx: RuleContext) -> str | None:
        report = ctx.inputs.report
        if report is not None and report.status != "open":
            return text.say(ctx.rules.language, "point.not_open", where=ctx.where,
                            status=report.status)
        return text.say(ctx.rules.language, f"{name}.resolved", where=ctx.where)

    return resolution


# --- the rules ----------------------------------------------------------------------------

#: Every rule, in evaluation order: fuel_critical before fuel_low, whose wording says whether
#: it is escalated.
RULES: tuple[AlertRule, ...] = (
    AlertRule(
        FUEL_CRITICAL, RuleSpec("critical", pending_seconds=300, clear_seconds=900),
        means="the generator runs dry in less time than a fuel delivery takes",
        resolves="a refuel shows in the readings, or the forecast stays above the threshold "
                 "(plus the margin)",
        condition=_fuel_verdict(lambda t: t.fuel_critical_hours),
        describe=lambda ctx: _describe_fuel(FUEL_CRITICAL, ctx),
        resolution=_fuel_resolution, refuel_clears=True,
    ),
    AlertRule(
        FUEL_LOW, RuleSpec("warning", pending_seconds=300, clear_seconds=900),
        means="less than two delivery lead times of fuel left: plan a delivery today",
        resolves="a refuel above the threshold, or the forecast stays above it (plus the margin)",
        condition=_fuel_verdict(lambda t: t.fuel_low_hours),
        describe=lambda ctx: _describe_fuel(FUEL_LOW, ctx),
        resolution=_fuel_resolution, refuel_clears=True,
    ),
    AlertRule(
        FUEL_UNREACHABLE, RuleSpec("critical", pending_seconds=0, clear_seconds=0),
        means="the dispatch plan reaches no truck to the point before its generator runs dry",
        resolves="a plan reaches the point, or a refuel shows in the readings",
        condition=_fuel_unreachable, describe=_describe_unreachable,
        resolution=_unreachable_resolution, refuel_clears=True,
    ),
    AlertRule(
        POINT_SILENT, RuleSpec("warning", pending_seconds=0, clear_seconds=0),
        means="no report from the point for longer than its kind allows",
        resolves="the point's next report",
        condition=_point_silent, describe=_describe_silent,
        resolution=_resolved_as(POINT_SILENT), on_timer=True, onset=_silent_since,
    ),
    AlertRule(
        ACTIVATION_OVERDUE, RuleSpec("critical", pending_seconds=0, clear_seconds=0),
        means="a standby point ordered open has not reported open within the deadline",
        resolves="the point reports open, or the order is stood down",
        condition=_activation_overdue, describe=_describe_overdue,
        resolution=_resolved_as(ACTIVATION_OVERDUE), on_timer=True, onset=_overdue_since,
    ),
    AlertRule(
        OVER_CAPACITY, RuleSpec("warning", pending_seconds=600, clear_seconds=900),
        means="more people inside than the point's capacity",
        resolves="utilisation below the clearing threshold (fewer people, or the estimate "
                 "expired)",
        condition=_over_capacity,
        describe=lambda ctx: _describe_capacity(OVER_CAPACITY, ctx),
        resolution=_capacity_resolution,
    ),
    AlertRule(
        NO_POWER, RuleSpec("critical", pending_seconds=300, clear_seconds=300),
        means="an open point has neither grid power nor a running generator",
        resolves="power is back (grid or generator), or the point closes",
        condition=_no_power, describe=_describe_no_power,
        resolution=_open_point_resolution(NO_POWER),
    ),
    AlertRule(
        HEATING_OFF, RuleSpec("warning", pending_seconds=900, clear_seconds=600),
        means="an open point's heating is off, or it is colder inside than the threshold",
        resolves="heating on and warm enough again, or the point closes",
        condition=_heating_off, describe=_describe_heating,
        resolution=_open_point_resolution(HEATING_OFF),
    ),
    AlertRule(
        INTERNET_DOWN, RuleSpec("info", pending_seconds=900, clear_seconds=600),
        means="an open point has no internet (no Starlink or uplink)",
        resolves="the internet is back, or the point closes",
        condition=_internet_down, describe=_describe_internet,
        resolution=_open_point_resolution(INTERNET_DOWN),
    ),
)
RULE_BY_NAME: Mapping[str, AlertRule] = {rule.name: rule for rule in RULES}
ALERTNAMES: tuple[str, ...] = tuple(RULE_BY_NAME)
DEFAULT_RULES: Mapping[str, RuleSpec] = {rule.name: rule.default for rule in RULES}


# --- settings -----------------------------------------------------------------------------


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
