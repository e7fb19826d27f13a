"""Drivers on call: the depots file declares them, the plan says whom to call in and what it
saves, and the points it would save carry that in their reason (what fuel_unreachable says)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.config import Settings
from streams.domain import dispatch_best
from streams.domain.dispatch import violations
from streams.logistics.dispatch_plan import DepotsFileError, build_instance, load_depots
from streams.logistics.on_call import advise, with_advice
from streams.logistics.refuel_plan import RefuelRow

# 21:00 in Kyiv: the day driver is off until 08:00, only the on-call one could go tonight.
NOW = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
DEPOTS = """
version: 1
timezone: Europe/Kyiv
travel: {detour_factor: 1.0, average_speed_kmh: 60, stop_minutes: 0}
oblasts:
  Тестова область:
    depots:
      - {id: D-1, name: Depot X, lat: 50.0, lon: 30.0,
         trucks: [{id: D-1a, capacity_l: 5000, shift_start: "08:00", shift_hours: 12}],
         on_call: [{id: D-1n, label: night driver, capacity_l: 5000, call_in_minutes: 60,
                    shift_hours: 8}]}
"""


def row(point_id: str, lat: float, hours_to_empty: float) -> RefuelRow:
    return RefuelRow(point_id, f"Point {point_id}", "Тестова область", "Громада", "permanent",
                     lat, 30.0, 200.0, 20.0, 180.0, 5.0, hours_to_empty, None, None, NOW, 6.0)


@pytest.fixture()
def depots_path(tmp_path: Path) -> Path:
    path = tmp_path / "depots.yaml"
    path.write_text(DEPOTS, encoding="utf-8")
    return path


def test_calling_in_the_night_driver_is_said_with_the_points_it_saves(depots_path: Path) -> None:
    depots = load_depots(depots_path)
    settings = Settings()
    # Four points ~10-40 km north that run dry within 5 h; the day shift starts in 11 h.
    rows = [row(f"P{i}", 50.0 + 0.09 * i, 5.0) for i in range(1, 5)] + [row("P9", 50.1, 30.0)]
    base_instance = build_instance(depots, "Тестова", rows, NOW, settings)
    base = dispatch_best.solve(base_instance, 1.0)
    assert base.reached == 0 and len(base.unreached) == 4
    extended = build_instance(depots, "Тестова", rows, NOW, settings, on_call=True)
    with_on_call = dispatch_best.solve(extended, 1.0)
    assert violations(with_on_call, extended) == []
    advice = advise(base, with_on_call, extended, {"D-1n": "night driver"})
    assert advice is not None
    assert advice.say() == "call in the night driver at Depot X (D-1n) to save 4 points"
    planned = with_advice(base, advice)
    assert all(u.reason.endswith("; call in the night driver at Depot X (D-1n) to save 4 points")
               for u in planned.unreached)
    # Nothing to save: no advice.
    assert advise(with_on_call, with_on_call, extended, {"D-1n": "night driver"}) is None


def test_an_on_call_driver_needs_an_id_no_truck_has(tmp_path: Path) -> None:
    path = tmp_path / "depots.yaml"
    path.write_text(DEPOTS.replace("id: D-1n", "id: D-1a"), encoding="utf-8")
    with pytest.raises(DepotsFileError, match="repeated: D-1a"):
        load_depots(path)


def test_the_shipped_depots_file_declares_night_drivers() -> None:
    depots = load_depots(Settings().depots_file)
    assert all(any(d.on_call for d in o.depots) for o in depots.oblasts.values())


def test_a_called_in_driver_is_a_truck_of_the_plan_from_when_it_can_leave(
        depots_path: Path) -> None:
    depots = load_depots(depots_path)
    rows = [row(f"P{i}", 50.0 + 0.09 * i, 5.0) for i in range(1, 5)]
    half_an_hour_ago = datetime(2026, 12, 1, 18, 30, tzinfo=UTC)
    instance = build_instance(depots, "Тестова", rows, NOW, Settings(),
                              called_in={"D-1n": half_an_hour_ago})
    driver = next(t for t in instance.trucks if t.truck_id == "D-1n")
    assert (driver.shift_start_h, driver.shift_end_h) == (0.5, 8.5)  # 60 min after the call
    plan = dispatch_best.solve(instance, 1.0)
    assert plan.reached == 4 and violations(plan, instance) == []
    # A call-in whose shift is over is no truck.
    yesterday = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    assert all(t.truck_id != "D-1n" for t in build_instance(
        depots, "Тестова", rows, NOW, Settings(), called_in={"D-1n": yesterday}).trucks)


def test_a_truck_out_on_its_run_is_planned_on_from_its_last_committed_stop(
        depots_path: Path) -> None:
    from datetime import timedelta

    from streams.domain.dispatch import Place
    from streams.logistics.commitments import Commitment, CommittedStop, apply, keep

    depots = load_depots(depots_path)
    rows = [row(f"P{i}", 50.0 + 0.09 * i, 5.0) for i in range(1, 5)]
    instance = build_instance(depots, "Тестова", rows, NOW, Settings(),
                              called_in={"D-1n": NOW - timedelta(hours=2)})
    # D-1n left an hour ago for P4 (40 km north) with 180 l for it; it gets there in 10 min.
    p4 = CommittedStop("P4", "Point P4", Place(50.36, 30.0), 180.0, NOW + timedelta(minutes=10),
                       NOW + timedelta(hours=4), NOW + timedelta(hours=5), 40.0)
    committed = {"D-1n": Commitment("D-1n", (p4,), 180.0, NOW - timedelta(minutes=50))}
    planned = apply(instance, committed, NOW)
    driver = next(t for t in planned.trucks if t.truck_id == "D-1n")
    assert driver.start == p4.place and driver.capacity_l == 5000 - 180
    assert driver.shift_start_h == pytest.approx(10 / 60)  # when the stop is done (no stop time)
    assert "P4" not in {n.point_id for n in planned.needs}
    solved = dispatch_best.solve(planned, 1.0)
    assert violations(solved, planned) == []
    plan = keep(solved, planned, instance, committed, NOW)
    run = next(r for r in plan.routes if r.truck.truck_id == "D-1n")
    assert run.stops[0].point_id == "P4" and run.truck.start is None
    assert run.leaves_h == pytest.approx(-50 / 60)
    assert sorted(s.point_id for r in plan.routes for s in r.stops) == ["P1", "P2", "P3", "P4"]


def test_the_refuel_plan_table_names_each_points_truck_or_none() -> None:
    from io import StringIO

    from rich.console import Console

    from streams.logistics.refuel_plan import render_table

    out = StringIO()
    render_table([row("P1", 50.1, 5.0), row("P2", 50.2, 0.5), row("P3", 50.3, 30.0)],
                 Console(file=out, width=250), zone="Europe/Kyiv", now=NOW.timestamp(),
                 trucks={"P1": ("D-1a", datetime(2026, 12, 1, 19, 52, tzinfo=UTC)),
                         "P2": (None, None)})
    lines = {line.split()[0]: line for line in out.getvalue().splitlines()
             if line.strip().startswith("P")}
    assert "D-1a 21:52" in lines["P1"]
    assert "none" in lines["P2"] and "D-1a" not in lines["P2"]
    assert "none" not in lines["P3"]
