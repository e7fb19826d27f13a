"""The alert rules and each alert's life: pending, firing, updated, resolved."""

from __future__ import annotations

import json
from dataclasses import replace

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract import Contract, Rejection
from streams.domain.alert_lifecycle import AlertState, evaluate_alerts
from streams.domain.alert_model import (
    AlertEvent,
    PlannedRefuel,
    PointInputs,
    Report,
    RuleSpec,
    Thresholds,
    fingerprint,
)
from streams.domain.alert_rules import ALERTNAMES, DEFAULT_RULES, AlertRules
from streams.domain.fuel_forecast import Forecast
from streams.domain.occupancy import OccupancySnapshot
from streams.domain.points import PointInfo
from streams.domain.staleness import PointLiveness

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC, 02:00 in Kyiv
RULES = AlertRules()
POINT = PointInfo(
    point_id="UA-KV-00042",
    name="School No. 12",
    kind="permanent",
    oblast="Київська область",
    hromada="Бучанська",
    capacity_people=100,
    fuel_tank_l=200.0,
)


def forecast(
    hours: float | None,
    ts: float = T0,
    *,
    running: bool = True,
    confidence: float = 0.9,
    refuel: bool = False,
) -> Forecast:
    """A forecast saying ``hours`` of fuel are left, burning 5 l/h."""
    return Forecast(
        ts=ts,
        generator_running=running,
        level_l=None if hours is None else hours * 5.0,
        burn_rate_lph=5.0,
        hours_to_empty=hours,
        empty_at=None if hours is None or not running else ts + hours * 3600,
        confidence=confidence,
        refuel_detected=refuel,
        sensor_stuck=False,
    )


def liveness(
    state: str = "ok",
    *,
    since: float = T0,
    reference: float | None = T0,
    requested: float | None = None,
    overdue: bool = False,
) -> PointLiveness:
    """A staleness verdict: ``state`` is ok, silent or unknown."""
    return PointLiveness(
        liveness=state,  # type: ignore[arg-type]
        category="silent" if state == "silent" else "open",
        kind="permanent",
        last_status="open",
        since=since,
        age_seconds=None if reference is None else reference - since,
        silence_threshold_seconds=300.0,
        activation_requested_at=requested,
        activation_deadline_ts=None if requested is None else requested + 7200,
        activation_overdue=overdue,
        reference_ts=reference,
    )


def report(ts: float = T0, **overrides: object) -> Report:
    """An open point on grid power, heated and online."""
    values: dict[str, object] = {
        "ts": ts,
        "status": "open",
        "power": "grid",
        "generator_running": False,
        "heating_on": True,
        "internet_up": True,
        "indoor_temp_c": 19.5,
        "headcount": 20,
        **overrides,
    }
    return Report(**values)  # type: ignore[arg-type]


def occupancy(people: int, capacity: int = 100, counted_at: float = T0) -> OccupancySnapshot:
    """People inside a point of ``capacity`` places, as last counted at ``counted_at``."""
    return OccupancySnapshot(
        at_ts=T0,
        people_inside=people,
        visits_15m=0,
        visits_1h=0,
        visits_24h=0,
        capacity_people=capacity,
        utilisation=people / capacity,
        last_event_ts=counted_at,
        headcount_ts=counted_at,
    )


class Run:
    """Feeds evaluations to one point and keeps the state and every event."""

    def __init__(self, rules: AlertRules = RULES, point: PointInfo = POINT) -> None:
        self.rules = rules
        self.point = point
        self.state: AlertState | None = None
        self.events: list[AlertEvent] = []

    def at(self, now: float, **inputs: object) -> list[AlertEvent]:
        """Evaluate at ``now`` with these inputs; return the events of this evaluation."""
        point_inputs = PointInputs(point=self.point, **inputs)  # type: ignore[arg-type]
        self.state, events = evaluate_alerts(self.state, point_inputs, now, self.rules)
        self.events.extend(events)
        return events

    def phase(self, alertname: str) -> str | None:
        assert self.state is not None
        found = self.state.alerts.get(alertname)
        return None if found is None else found.phase


def names(events: list[AlertEvent]) -> list[tuple[str, str]]:
    return [(e.alertname, e.status) for e in events]


# --- fuel: pending, firing, hysteresis, escalation, refuel -------------------------------------


def test_fuel_low_fires_only_after_the_pending_period() -> None:
    run = Run()
    assert run.at(T0, forecast=forecast(11.0)) == []
    assert run.phase("fuel_low") == "pending"
    assert run.at(T0 + 299, forecast=forecast(10.9)) == []
    [event] = run.at(T0 + 300, forecast=forecast(10.8))
    assert (event.alertname, event.status, event.severity) == ("fuel_low", "firing", "warning")
    assert event.starts_at == T0
    assert event.ts == T0 + 300
    assert event.ends_at is None
    assert event.summary == (
        "Generator at School No. 12 (Київська область) runs dry in about 11 h, around 12:48"
        " Kyiv time"
        " — plan a fuel delivery"
    )
    assert event.labels == {
        "alertname": "fuel_low",
        "severity": "warning",
        "point_id": "UA-KV-00042",
        "oblast": "Київська область",
        "point_kind": "permanent",
    }
    assert event.annotations["hours_to_empty"] == "10.8"
    assert event.annotations["empty_at"] == "2026-01-01T10:48:00Z"
    assert event.annotations["runbook_url"] == "docs/oncall.md#fuel_low"
    assert event.annotations["summary"] == event.summary


def test_the_timer_leaves_a_pending_fuel_alert_waiting() -> None:
    # The timer knows only liveness: judging the point between two reports must not end the
    # fuel alert's pending wait, or it would fire at a time that depends on when it ran.
    run = Run()
    run.at(T0, forecast=forecast(11.0))
    run.state, events = evaluate_alerts(run.state, PointInputs(point=POINT), T0 + 120, RULES,
                                 timer=True)
    assert events == [] and run.phase("fuel_low") == "pending"
    [event] = run.at(T0 + 300, forecast=forecast(10.8))
    assert (event.alertname, event.starts_at) == ("fuel_low", T0)


def test_one_noisy_reading_does_not_fire() -> None:
    run = Run()
    run.at(T0, forecast=forecast(20.0))
    run.at(T0 + 30, forecast=forecast(3.0))  # a glitch
    run.at(T0 + 60, forecast=forecast(12.5))  # in the dead band: the pending wait restarts
    assert run.phase("fuel_low") is None
    for step in range(1, 30):
        run.at(T0 + 60 + 30 * step, forecast=forecast(12.5))
    assert run.events == []


def test_pending_needs_the_condition_at_every_evaluation() -> None:
    run = Run()
    run.at(T0, forecast=forecast(11.0))
    run.at(T0 + 200, forecast=forecast(12.1))  # above the threshold: the wait restarts
    run.at(T0 + 250, forecast=forecast(11.0))
    assert run.at(T0 + 500, forecast=forecast(11.0)) == []
    assert names(run.at(T0 + 550, forecast=forecast(11.0))) == [("fuel_low", "firing")]
    assert run.events[0].starts_at == T0 + 250


def fire_fuel_low(run: Run) -> None:
    run.at(T0, forecast=forecast(11.0))
    assert names(run.at(T0 + 300, forecast=forecast(10.9))) == [("fuel_low", "firing")]


def test_hysteresis_a_value_just_above_the_threshold_does_not_resolve() -> None:
    run = Run()
    fire_fuel_low(run)
    for step in range(1, 100):  # 12.6 h: above 12 h, below the 13.2 h that clears
        run.at(T0 + 300 + 60 * step, forecast=forecast(12.6))
    assert run.phase("fuel_low") == "firing"
    assert names(run.events) == [("fuel_low", "firing")]


def test_resolves_after_the_clear_period_of_clear_readings() -> None:
    run = Run()
    fire_fuel_low(run)
    start = T0 + 1000
    run.at(start, forecast=forecast(14.0))
    run.at(start + 600, forecast=forecast(12.6))  # back in the dead band: the wait restarts
    run.at(start + 700, forecast=forecast(14.0))
    assert run.at(start + 700 + 899, forecast=forecast(14.0)) == []
    [event] = run.at(start + 700 + 900, forecast=forecast(14.0))
    assert (event.alertname, event.status) == ("fuel_low", "resolved")
    assert event.ends_at == start + 700
    assert event.ts == start + 1600
    assert event.fingerprint == run.events[0].fingerprint
    assert event.summary == (
        "Generator at School No. 12 (Київська область) has enough fuel again: about 14 h of running"
    )
    assert run.state is not None and run.state.alerts == {}


def test_escalation_fires_critical_and_updates_low_then_a_refuel_resolves_both() -> None:
    run = Run()
    fire_fuel_low(run)
    run.at(T0 + 3600, forecast=forecast(5.9))
    events = run.at(T0 + 3900, forecast=forecast(5.8))
    assert names(events) == [("fuel_critical", "firing"), ("fuel_low", "updated")]
    critical, low = events
    assert critical.severity == "critical"
    assert "send fuel now, delivery takes 6 h" in critical.summary
    assert low.annotations["escalated_to"] == "fuel_critical"
    assert low.labels == run.events[0].labels  # the same alert in Alertmanager
    assert low.starts_at == T0
    events = run.at(T0 + 4000, forecast=forecast(40.0, refuel=True))
    assert names(events) == [("fuel_critical", "resolved"), ("fuel_low", "resolved")]
    assert all(e.ends_at == T0 + 4000 for e in events)
    assert "escalated_to" not in events[1].annotations
    assert events[0].summary == (
        "Generator at School No. 12 (Київська область) refuelled: about 40 h of running"
    )


def test_de_escalation_updates_low_at_once() -> None:
    run = Run(
        rules=replace(
            RULES,
            rules={
                **DEFAULT_RULES,
                "fuel_critical": RuleSpec("critical", pending_seconds=0, clear_seconds=0),
            },
        )
    )
    fire_fuel_low(run)
    assert names(run.at(T0 + 400, forecast=forecast(5.0))) == [
        ("fuel_critical", "firing"),
        ("fuel_low", "updated"),
    ]
    events = run.at(T0 + 500, forecast=forecast(8.0))
    assert names(events) == [("fuel_critical", "resolved"), ("fuel_low", "updated")]
    assert "escalated_to" not in events[1].annotations


def test_a_sudden_drop_fires_both_at_once() -> None:
    run = Run()
    run.at(T0, forecast=forecast(3.0))
    events = run.at(T0 + 300, forecast=forecast(2.9))
    assert names(events) == [("fuel_critical", "firing"), ("fuel_low", "firing")]
    assert events[1].annotations["escalated_to"] == "fuel_critical"


def test_a_small_refuel_that_leaves_the_tank_low_resolves_nothing() -> None:
    run = Run()
    fire_fuel_low(run)
    assert run.at(T0 + 400, forecast=forecast(11.5, refuel=True)) == []
    assert run.phase("fuel_low") == "firing"


def test_a_stopped_generator_raises_no_fuel_alert_but_keeps_one_that_fires() -> None:
    run = Run()
    run.at(T0, forecast=forecast(5.0, running=False))
    run.at(T0 + 600, forecast=forecast(5.0, running=False))
    assert run.events == []
    fire_fuel_low(Run())
    run = Run()
    fire_fuel_low(run)
    run.at(T0 + 400, forecast=forecast(10.0, running=False))
    run.at(T0 + 4000, forecast=forecast(10.0, running=False))
    assert run.phase("fuel_low") == "firing"
    [event] = run.at(T0 + 4100, forecast=forecast(30.0, running=False, refuel=True))
    assert event.status == "resolved"


def test_a_forecast_without_confidence_neither_fires_nor_resolves() -> None:
    run = Run()
    run.at(T0, forecast=forecast(5.0, confidence=0.1))
    run.at(T0 + 600, forecast=forecast(5.0, confidence=0.1))
    assert run.events == []
    run = Run()
    fire_fuel_low(run)
    run.at(T0 + 400, forecast=forecast(30.0, confidence=0.1))
    run.at(T0 + 4000, forecast=forecast(30.0, confidence=0.1))
    assert run.phase("fuel_low") == "firing"
    run.at(T0 + 4000, forecast=forecast(None))
    assert run.phase("fuel_low") == "firing"


def test_thresholds_per_kind_and_oblast() -> None:
    frontline = Thresholds(fuel_lead_time_hours=10.0)
    mobile = Thresholds(fuel_lead_time_hours=4.0)
    rules = replace(
        RULES,
        kind_thresholds={"mobile": mobile},
        oblast_thresholds={("Харківська область", "permanent"): frontline},
    )
    kharkiv = replace(POINT, oblast="Харківська область")
    tent = replace(POINT, kind="mobile")
    for point, hours, fires in (
        (kharkiv, 19.0, True),  # below 2 x 10 h
        (POINT, 19.0, False),  # above 2 x 6 h
        (tent, 9.0, False),  # above 2 x 4 h
        (tent, 7.5, True),
    ):
        run = Run(rules, point)
        run.at(T0, forecast=forecast(hours))
        run.at(T0 + 300, forecast=forecast(hours))
        assert (run.phase("fuel_low") == "firing") is fires, (point.oblast, point.kind, hours)
    assert rules.thresholds_for("mobile", "Харківська область") == mobile
    assert rules.thresholds_for("standby", "Одеська область") == Thresholds()


# --- silence and activation -------------------------------------------------------------------


def test_point_silent_fires_at_once_and_a_report_resolves_it() -> None:
    run = Run()
    assert run.at(T0, liveness=liveness("ok")) == []
    [event] = run.at(T0 + 400, liveness=liveness("silent", since=T0 - 100, reference=T0 + 400))
    assert (event.alertname, event.status, event.severity) == ("point_silent", "firing", "warning")
    assert event.summary == (
        "School No. 12 (Київська область) is silent: no reports since 01:58 Kyiv time"
    )
    assert event.annotations["silent_since"] == "2025-12-31T23:58:20Z"
    assert run.at(T0 + 900, liveness=liveness("unknown", reference=None)) == []
    assert run.phase("point_silent") == "firing"  # the pipeline cannot judge: keep it
    [event] = run.at(T0 + 1000, liveness=liveness("ok", since=T0 + 990))
    assert (event.status, event.ends_at) == ("resolved", T0 + 1000)
    assert event.summary == "School No. 12 (Київська область) reports again"


def test_unknown_liveness_fires_nothing() -> None:
    run = Run()
    run.at(T0, liveness=liveness("unknown", reference=None))
    assert run.state is not None and run.state.alerts == {}


def test_a_silent_point_neither_raises_nor_resolves_alerts_from_its_stale_reports() -> None:
    run = Run()
    stale = report(internet_up=False)
    run.at(T0, report=stale, liveness=liveness("silent"))
    run.at(T0 + 3600, report=stale, liveness=liveness("silent"))
    assert names(run.events) == [("point_silent", "firing")]
    run = Run()
    run.at(T0, report=report(internet_up=False), liveness=liveness("ok"))
    run.at(T0 + 900, report=report(internet_up=False), liveness=liveness("ok"))
    assert run.phase("internet_down") == "firing"
    run.at(T0 + 2000, report=report(internet_up=True), liveness=liveness("silent"))
    run.at(T0 + 4000, report=report(internet_up=True), liveness=liveness("silent"))
    assert run.phase("internet_down") == "firing"


def test_activation_overdue_fires_and_clears_when_the_wait_ends() -> None:
    run = Run()
    ordered = T0 - 7300
    [event] = run.at(T0, liveness=liveness(requested=ordered, overdue=True))
    assert (event.alertname, event.severity) == ("activation_overdue", "critical")
    assert event.summary == (
        "School No. 12 (Київська область) is not open 2 h after the activation order of "
        "31.12 23:58 Kyiv time"
    )
    assert event.annotations["activation_requested_at"] == "2025-12-31T21:58:20Z"
    assert run.at(T0 + 60, liveness=liveness(requested=ordered, overdue=True, reference=None)) == []
    [event] = run.at(T0 + 120, liveness=liveness())
    assert event.status == "resolved"


def test_an_overdue_wait_says_the_same_whenever_it_is_evaluated() -> None:
    # Live, the timer evaluates it every few seconds; from a backlog, once: the next day's
    # evaluation must not re-word it (an "updated" event a backlog would not send).
    ordered = T0 + 3600
    run = Run()
    [fired] = run.at(T0 + 7300, liveness=liveness(requested=ordered, overdue=True,
                                                   reference=T0 + 7300))
    assert fired.summary.endswith("activation order of 03:00 Kyiv time")
    assert run.at(T0 + 86400, liveness=liveness(requested=ordered, overdue=True,
                                                reference=T0 + 86400)) == []


# --- occupancy and telemetry rules -------------------------------------------------------------


def test_over_capacity_has_hysteresis() -> None:
    run = Run()
    run.at(T0, occupancy=occupancy(101))
    [event] = run.at(T0 + 600, occupancy=occupancy(120))
    assert event.summary == (
        "School No. 12 (Київська область) is over capacity: 120 people for 100 places"
    )
    assert event.annotations["utilisation"] == "1.20"
    for step in range(1, 40):  # 95 % full is not over capacity, but not clear either
        run.at(T0 + 600 + 60 * step, occupancy=occupancy(95))
    assert run.phase("over_capacity") == "firing"
    run.at(T0 + 4000, occupancy=occupancy(80, counted_at=T0 + 4000))
    [event] = run.at(T0 + 4900, occupancy=occupancy(80, counted_at=T0 + 4000))
    assert event.status == "resolved"
    assert "within capacity again: 80 people" in event.summary


def test_no_power_fires_for_an_open_point_without_grid_or_generator() -> None:
    run = Run()
    dark = report(power="battery", generator_running=False)
    run.at(T0, report=dark)
    [event] = run.at(T0 + 300, report=dark)
    assert event.severity == "critical"
    assert event.summary == (
        "School No. 12 (Київська область) is open on batteries: no grid and the generator"
        " is not running"
    )
    assert event.annotations["last_seen"] == "2026-01-01T00:00:00Z"
    run.at(T0 + 400, report=report(power="generator", generator_running=True))
    [event] = run.at(T0 + 700, report=report(power="generator", generator_running=True))
    assert event.summary == "School No. 12 (Київська область) has power again"


def test_closing_a_point_resolves_its_open_point_alerts() -> None:
    run = Run()
    cold = report(heating_on=False, indoor_temp_c=9.0, internet_up=False)
    run.at(T0, report=cold)
    run.at(T0 + 900, report=cold)
    assert [e.alertname for e in run.events] == ["heating_off", "internet_down"]
    assert run.events[0].summary == (
        "School No. 12 (Київська область) is open with the heating off, 9.0 °C inside"
    )
    closed = report(status="closed", heating_on=False, indoor_temp_c=9.0, internet_up=False)
    run.at(T0 + 1000, report=closed)
    events = run.at(T0 + 1600, report=closed)
    assert names(events) == [("heating_off", "resolved"), ("internet_down", "resolved")]
    assert events[0].summary == "School No. 12 (Київська область) is no longer open (now closed)"


def test_heating_off_fires_when_cold_and_clears_only_when_warm() -> None:
    run = Run()
    run.at(T0, report=report(indoor_temp_c=11.0))
    [event] = run.at(T0 + 900, report=report(indoor_temp_c=11.5))
    assert event.summary == "School No. 12 (Київська область) is cold inside: 11.5 °C"
    for step in range(1, 30):  # 13 °C: no longer cold, not warm yet
        run.at(T0 + 900 + 60 * step, report=report(indoor_temp_c=13.0))
    assert run.phase("heating_off") == "firing"
    run.at(T0 + 3000, report=report(indoor_temp_c=15.0))
    assert names(run.at(T0 + 3600, report=report(indoor_temp_c=15.0))) == [
        ("heating_off", "resolved")
    ]


def test_unknown_telemetry_fields_hold() -> None:
    run = Run()
    vague = report(heating_on=None, indoor_temp_c=None, internet_up=None)
    for step in range(5):
        run.at(T0 + 1000 * step, report=vague)
    assert run.state is not None and run.state.alerts == {}


# --- lifecycle details --------------------------------------------------------------------------


def test_updates_are_rate_limited_and_keep_identity() -> None:
    run = Run()
    fire_fuel_low(run)
    assert run.at(T0 + 600, forecast=forecast(10.0)) == []  # wording changed, too soon
    [event] = run.at(T0 + 1200, forecast=forecast(9.5))
    assert event.status == "updated"
    assert "about 9.5 h" in event.summary
    assert event.fingerprint == run.events[0].fingerprint
    assert event.starts_at == T0
    assert run.at(T0 + 3000, forecast=forecast(9.5)) == []  # nothing new to say


def test_labels_stay_fixed_while_an_alert_fires() -> None:
    run = Run()
    fire_fuel_low(run)
    run.point = replace(POINT, oblast="Житомирська область", name="School No. 12 (moved)")
    [event] = run.at(T0 + 1300, forecast=forecast(9.0))
    assert event.labels["oblast"] == "Київська область"
    assert event.oblast == "Київська область"


def test_time_never_runs_backwards() -> None:
    run = Run()
    run.at(T0, forecast=forecast(11.0))
    run.at(T0 + 300, forecast=forecast(11.0))
    assert run.at(T0 + 100, forecast=forecast(11.0)) == []  # a late message: judged at T0+300
    assert run.state is not None and run.state.evaluated_at == T0 + 300


def test_disabling_a_rule_resolves_what_it_raised() -> None:
    run = Run()
    fire_fuel_low(run)
    run.rules = replace(
        RULES, rules={**DEFAULT_RULES, "fuel_low": RuleSpec("warning", 300, 900, enabled=False)}
    )
    [event] = run.at(T0 + 400, forecast=forecast(10.0))
    assert event.status == "resolved"
    assert event.summary == run.events[0].summary


def test_refiring_keeps_the_fingerprint() -> None:
    run = Run()
    run.at(T0, liveness=liveness("silent"))
    run.at(T0 + 10, liveness=liveness("ok"))
    run.at(T0 + 20, liveness=liveness("silent"))
    assert names(run.events) == [
        ("point_silent", "firing"),
        ("point_silent", "resolved"),
        ("point_silent", "firing"),
    ]
    assert len({e.fingerprint for e in run.events}) == 1
    assert run.events[0].fingerprint == fingerprint("point_silent", POINT.point_id)
    assert fingerprint("point_silent", "other") != fingerprint("fuel_low", POINT.point_id)
    assert len(fingerprint("fuel_low", "x")) == 16


def test_state_survives_a_json_round_trip() -> None:
    run = Run()
    fire_fuel_low(run)
    run.at(T0 + 400, liveness=liveness("silent"), forecast=forecast(9.0))
    assert run.state is not None
    restored = AlertState.from_dict(json.loads(json.dumps(run.state.to_dict())))
    assert restored == run.state
    assert [e.alertname for e in restored.firing()] == ["fuel_low", "point_silent"]
    again = Run()
    again.state = restored
    assert names(again.at(T0 + 500, forecast=forecast(30.0, refuel=True))) == [
        ("fuel_low", "resolved")
    ]


def test_ukrainian_summaries() -> None:
    run = Run(replace(RULES, language="uk"))
    fire_fuel_low(run)
    assert run.events[0].summary == (
        "Генератор, School No. 12 (Київська область): пального на 11 год,"
        " скінчиться близько 12:54 (Kyiv) — сплануйте доставку"
    )


def test_every_event_is_a_valid_alerts_message() -> None:
    contract = Contract(max_future_skew_seconds=300)
    run = Run()
    trouble = {
        "report": report(power="none", internet_up=False, heating_on=False, indoor_temp_c=None),
        "occupancy": occupancy(150),
        "plan": PlannedRefuel(unreachable_reason="all trucks off shift until 07:00"),
    }
    run.at(T0, forecast=forecast(5.0), liveness=liveness(), **trouble)
    run.at(T0 + 900, forecast=forecast(5.0), liveness=liveness(), **trouble)
    run.at(T0 + 1000, forecast=forecast(5.0), liveness=liveness("silent"), **trouble)
    run.at(
        T0 + 1100, forecast=forecast(5.0), liveness=liveness(requested=T0, overdue=True), **trouble
    )
    run.at(T0 + 2000, forecast=forecast(4.0), liveness=liveness(), **trouble)
    fine = {"report": report(), "occupancy": occupancy(10), "liveness": liveness(),
            "plan": PlannedRefuel("T-1", "Depot A", T0 + 3600, 40.0)}
    run.at(T0 + 3000, forecast=forecast(50.0, refuel=True), **fine)
    run.at(T0 + 5000, forecast=forecast(50.0), **fine)
    seen = {(e.alertname, e.status) for e in run.events}
    assert {name for name, _ in seen} == set(ALERTNAMES)
    assert {status for _, status in seen} == {"firing", "updated", "resolved"}
    for event in run.events:
        checked = contract.validate("alerts", orjson.dumps(event.to_message()), now=T0 + 6000)
        assert not isinstance(checked, Rejection), checked
    assert run.state is not None and run.state.alerts == {}


# --- properties ----------------------------------------------------------------------------------

# A sensor hovering around the fuel_low threshold (12 h; clears above 13.2 h).
hovering = st.lists(st.floats(min_value=10.5, max_value=13.19), min_size=1, max_size=300)


@settings(max_examples=200, deadline=None)
@given(hovering, st.integers(min_value=10, max_value=120))
def test_a_noisy_sensor_hovering_at_a_threshold_fires_at_most_once(
    readings: list[float], step: int
) -> None:
    run = Run()
    for i, hours in enumerate(readings):
        run.at(T0 + i * step, forecast=forecast(hours, T0 + i * step))
    low = [e.status for e in run.events if e.alertname == "fuel_low"]
    assert low in ([], ["firing"]) or (low[0] == "firing" and set(low[1:]) == {"updated"})


anything = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=900),  # seconds to the next evaluation
        st.one_of(st.none(), st.floats(min_value=0.0, max_value=30.0)),  # hours left
        st.booleans(),  # generator running
        st.floats(min_value=0.0, max_value=1.0),  # confidence
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(anything)
def test_alerts_never_flap_faster_than_their_pending_and_clear_periods(
    readings: list[tuple[int, float | None, bool, float]],
) -> None:
    run = Run()
    now = T0
    for gap, hours, running, confidence in readings:
        now += gap
        run.at(now, forecast=forecast(hours, now, running=running, confidence=confidence))
    for name in ("fuel_low", "fuel_critical"):
        spec = DEFAULT_RULES[name]
        events = [e for e in run.events if e.alertname == name]
        last_resolved: float | None = None
        firing = False
        for event in events:
            if event.status == "firing":
                assert not firing
                assert event.ts - event.starts_at >= spec.pending_seconds
                if last_resolved is not None:
                    assert event.starts_at > last_resolved
                firing = True
            elif event.status == "resolved":
                assert firing
                assert event.ends_at is not None
                assert event.ts - event.ends_at >= spec.clear_seconds  # no refuels here
                last_resolved = event.ts
                firing = False
            else:
                assert firing


@pytest.mark.parametrize("alertname", ALERTNAMES)
def test_every_rule_has_defaults_and_wording(alertname: str) -> None:
    assert alertname in DEFAULT_RULES
    assert Thresholds().problems() == []


def test_inputs_from_validated_messages() -> None:
    contract = Contract(max_future_skew_seconds=300)
    registry = contract.validate(
        "points.registry",
        orjson.dumps({
            "point_id": "UA-KV-1", "name": "School", "kind": "mobile", "oblast": "Київська область",
            "hromada": "Бучанська", "lat": 50.5, "lon": 30.2, "capacity_people": 80,
            "fuel_tank_l": 150,
        }),
        now=T0,
    )  # fmt: skip
    telemetry = contract.validate(
        "points.telemetry",
        orjson.dumps({
            "point_id": "UA-KV-1", "ts": "2026-01-01T00:00:00Z", "status": "open",
            "power": "battery", "generator_running": False, "fuel_level_l": None,
            "heating_on": None, "internet_up": True, "indoor_temp_c": 15.5, "headcount": None,
        }),
        now=T0,
    )  # fmt: skip
    assert isinstance(registry, dict) and isinstance(telemetry, dict)
    assert PointInfo.from_registry(registry) == PointInfo(
        "UA-KV-1", "School", "mobile", "Київська область", "Бучанська", 80, 150
    )
    assert Report.from_telemetry(telemetry) == Report(
        ts=T0, status="open", power="battery", generator_running=False, heating_on=None,
        internet_up=True, indoor_temp_c=15.5, headcount=None,
    )  # fmt: skip


def test_over_capacity_resolved_by_visits_ageing_out_says_the_estimate_expired() -> None:
    run = Run()
    run.at(T0, occupancy=occupancy(120))
    run.at(T0 + 600, occupancy=occupancy(120))
    assert run.phase("over_capacity") == "firing"
    run.at(T0 + 4000, occupancy=occupancy(60))  # no visit, no count since: visits expired
    [event] = run.at(T0 + 4900, occupancy=occupancy(60))
    assert event.status == "resolved"
    assert "estimate expired" in event.summary


def test_a_refuel_that_leaves_the_tank_low_says_refuelled_in_both_alerts() -> None:
    run = Run()
    run.at(T0, forecast=forecast(3.0))
    run.at(T0 + 300, forecast=forecast(2.9))
    events = run.at(T0 + 4000, forecast=forecast(10.0, refuel=True))
    assert names(events) == [("fuel_critical", "resolved"), ("fuel_low", "updated")]
    assert "refuelled: about 10 h" in events[0].summary
    assert "refuelled, but only for about 10 h" in events[1].summary
    assert "plan the next delivery" in events[1].summary


def test_a_fuel_page_names_the_truck_the_plan_sends() -> None:
    run = Run()
    planned = PlannedRefuel("T-3", "Depot Bucha", T0 + 2 * 3600, 61.4)
    run.at(T0, forecast=forecast(3.0), plan=planned)
    critical, low = run.at(T0 + 300, forecast=forecast(2.9), plan=planned)
    assert critical.alertname == "fuel_critical"
    assert critical.annotations["planned_truck"] == "T-3"
    assert critical.annotations["planned_depot"] == "Depot Bucha"
    assert critical.annotations["planned_arrival"] == "2026-01-01T02:00:00Z"
    assert critical.annotations["planned_litres"] == "61"
    assert low.annotations["planned_truck"] == "T-3"


def test_a_point_no_truck_reaches_fires_fuel_unreachable_with_the_reason() -> None:
    run = Run()
    lost = PlannedRefuel(unreachable_reason="quickest truck arrives 2 h after the tank is empty")
    events = run.at(T0, forecast=forecast(3.0), plan=lost)
    assert names(events) == [("fuel_unreachable", "firing")]
    assert events[0].severity == "critical"
    assert events[0].summary == (
        "No truck reaches School No. 12 (Київська область) before its generator runs dry: "
        "quickest truck arrives 2 h after the tank is empty"
    )
    critical, _low = run.at(T0 + 300, forecast=forecast(2.9), plan=lost)
    assert critical.annotations["planned_truck"] == "none"
    assert "2 h after the tank is empty" in critical.annotations["unreachable_reason"]


def test_fuel_unreachable_resolves_when_a_plan_reaches_the_point() -> None:
    run = Run()
    run.at(T0, forecast=forecast(30.0), plan=PlannedRefuel(unreachable_reason="all off shift"))
    events = run.at(T0 + 60, forecast=forecast(29.9),
                    plan=PlannedRefuel("T-1", "Depot A", T0 + 3600, 40.0))
    assert names(events) == [("fuel_unreachable", "resolved")]
    assert events[0].summary == "A truck is planned for School No. 12 (Київська область) again"


def test_fuel_unreachable_resolves_on_a_refuel_and_holds_without_a_plan() -> None:
    run = Run()
    run.at(T0, forecast=forecast(30.0), plan=PlannedRefuel(unreachable_reason="all off shift"))
    assert run.at(T0 + 60, forecast=forecast(29.9)) == []  # no plan yet: it stands
    events = run.at(T0 + 120, forecast=forecast(40.0, refuel=True))
    assert names(events) == [("fuel_unreachable", "resolved")]
    assert "refuelled" in events[0].summary
