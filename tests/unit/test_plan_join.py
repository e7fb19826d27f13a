"""The live join of the dispatch plan and the fuel alerts: a point's place in its oblast's
current plan (PlanBook), what the rules make of it, and when a page changes because of it."""

from __future__ import annotations

from streams.domain.alert_model import PlannedRefuel
from streams.domain.dispatch_alerts import NOT_IN_PLAN, PlanBook, oblast_key
from tests.unit.test_alert_rules import T0, Run, forecast, liveness, report

STOP = PlannedRefuel("VN-1a", "Вінницька обласна нафтобаза", T0 + 2 * 3600, 182.0)
LOST = PlannedRefuel(unreachable_reason="quickest truck arrives 2 h after the tank is empty")


def test_a_point_is_looked_up_in_its_oblasts_current_plan() -> None:
    book = PlanBook({"P-1": STOP, "P-2": LOST}, frozenset({oblast_key("Київська область")}))
    assert book.lookup("P-1", "Київська") == STOP
    assert book.lookup("P-2", "київська область") == LOST
    # In an oblast with a current plan but not in it: its tank lasts beyond the horizon.
    assert book.lookup("P-3", "Київська область") == NOT_IN_PLAN
    # An oblast without a current plan: nothing is known, the plan rules hold.
    assert book.lookup("P-4", "Львівська область") is None
    assert PlanBook().lookup("P-1", "Київська") is None


def _fuel(hours: float, at: float, plan: PlannedRefuel | None, refuel: bool = False) -> dict[
        str, object]:
    return {"report": report(at, power="generator", generator_running=True),
            "forecast": forecast(hours, at, refuel=refuel), "liveness": liveness(reference=at),
            "plan": plan}


def _fired(run: Run, name: str) -> dict[str, str]:
    firing = [e for e in run.events if e.alertname == name and e.status != "resolved"]
    assert firing, f"{name} never fired"
    return dict(firing[-1].annotations)


def test_a_critical_page_names_its_truck_as_soon_as_a_plan_sends_one() -> None:
    run = Run()
    for minute in range(0, 16):
        run.at(T0 + 60 * minute, **_fuel(5.0, T0 + 60 * minute, None))
    assert "planned_truck" not in _fired(run, "fuel_critical")
    events = run.at(T0 + 1000, **_fuel(5.0, T0 + 1000, STOP))
    # At once, not at the wording's pace: the truck is the news.
    assert ("fuel_critical", "updated") in {(e.alertname, e.status) for e in events}
    annotations = _fired(run, "fuel_critical")
    assert annotations["planned_truck"] == "VN-1a"
    assert annotations["planned_depot"] == "Вінницька обласна нафтобаза"
    assert annotations["planned_litres"] == "182"
    assert annotations["planned_arrival"].startswith("2026-01-01T02:00")


def test_unreachable_fires_with_its_reason_and_resolves_when_a_plan_reaches_it() -> None:
    run = Run()
    run.at(T0, **_fuel(3.0, T0, LOST))
    annotations = _fired(run, "fuel_unreachable")
    assert annotations["unreachable_reason"] == LOST.unreachable_reason
    assert "quickest truck arrives 2 h after the tank is empty" in next(
        e.summary for e in run.events if e.alertname == "fuel_unreachable")
    events = run.at(T0 + 60, **_fuel(3.0, T0 + 60, STOP))
    assert ("fuel_unreachable", "resolved") in {(e.alertname, e.status) for e in events}


def test_unreachable_resolves_when_the_point_is_refuelled_or_leaves_the_plan() -> None:
    run = Run()
    run.at(T0, **_fuel(3.0, T0, LOST))
    events = run.at(T0 + 60, **_fuel(40.0, T0 + 60, LOST, refuel=True))
    assert [e.summary for e in events if e.alertname == "fuel_unreachable"] == [
        "Generator at School No. 12 (Київська область) refuelled"]
    again = Run()
    again.at(T0, **_fuel(3.0, T0, LOST))
    assert ("fuel_unreachable", "resolved") in {
        (e.alertname, e.status) for e in again.at(T0 + 60, **_fuel(3.0, T0 + 60, NOT_IN_PLAN))}


def test_without_a_current_plan_unreachable_neither_fires_nor_resolves() -> None:
    run = Run()
    run.at(T0, **_fuel(3.0, T0, None))
    assert run.state is None or "fuel_unreachable" not in run.state.alerts
    run.at(T0 + 60, **_fuel(3.0, T0 + 60, LOST))
    run.at(T0 + 120, **_fuel(3.0, T0 + 120, None))  # the planner stopped: keep the alert
    assert run.phase("fuel_unreachable") == "firing"
