"""The on-call loop on the real stack: forecasts -> dispatch plan -> fuel alerts that carry the
plan (in the database and in Alertmanager) and fuel_unreachable for the point no truck reaches
-> a refuel seen -> the stop recorded delivered, the alerts resolved.

A worker on the event clock (so hours of history pass in seconds) reads the plans every second;
the planner runs in-process as ``nezlam dispatch-plan --write`` does.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from streams.config import Settings
from streams.kafka.topics import REGISTRY, TELEMETRY
from streams.logistics.deliveries import record_deliveries
from streams.logistics.dispatch_plan import compute, write
from streams.stack.settings import get_stack_settings
from tests.integration.conftest import fresh_worker, registry_record, telemetry_record
from tests.integration.worker_process import Worker, produce, query, wait_for

pytestmark = pytest.mark.integration

# An oblast of this run's own (earlier runs' points and plans stay in the database), with one
# depot whose two trucks cover the whole day.
DEPOTS = """
version: 1
timezone: Europe/Kyiv
travel: {{detour_factor: 1.35, average_speed_kmh: 45, stop_minutes: 20}}
oblasts:
  {oblast}:
    depots:
      - {{id: IT-1, name: Тестова нафтобаза, lat: 49.233, lon: 28.468, trucks: [
          {{id: IT-1a, capacity_l: 8000, shift_start: "00:00", shift_hours: 12}},
          {{id: IT-1b, capacity_l: 8000, shift_start: "12:00", shift_hours: 12}}]}}
"""
BURN_LPH = 10.0
HISTORY_HOURS = 4


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


@pytest.fixture()
def planning_worker(
    wall_clock_worker_paused: None, settings: Settings, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    """A fresh event-clock worker that reads the dispatch plans every second and delivers its
    alerts to the stack's Alertmanager."""
    proc = fresh_worker(
        settings, tmp_path_factory, "oncall", NEZLAM_CLOCK="event",
        NEZLAM_LIVENESS_INTERVAL_SECONDS="1", NEZLAM_DISPATCH_PLAN_REFRESH_SECONDS="1",
        NEZLAM_ALERTMANAGER_URLS=get_stack_settings().alertmanager_url)
    yield proc
    proc.stop()


def _report(point: str, ts: float, level: float) -> tuple[str, str, dict[str, object]]:
    return (TELEMETRY, point, telemetry_record(point, _iso(ts), fuel_level_l=round(level, 1),
                                               headcount=None))


def _events(dsn: str, point: str, alertname: str) -> list[tuple[str, dict[str, str]]]:
    return [(status, annotations) for status, annotations in query(
        dsn, "SELECT status, annotations FROM alert_events WHERE point_id = %s AND alertname = %s"
        " ORDER BY ts, status", [point, alertname])]


def _alertmanager(point: str) -> list[dict[str, Any]]:
    url = (f"{get_stack_settings().alertmanager_url}/api/v2/alerts?"
           + urllib.parse.urlencode({"filter": f'point_id="{point}"'}))
    with urllib.request.urlopen(url, timeout=5) as response:
        alerts: list[dict[str, Any]] = json.load(response)
    return alerts


def test_alerts_carry_the_plan_and_a_refuel_closes_the_stop(
    planning_worker: Worker, settings: Settings, admin_dsn: str, run_id: str,
    tmp_path: Path,
) -> None:
    reach, late = f"IT-{run_id}-reach", f"IT-{run_id}-late"
    oblast = f"Тест-{run_id} область"
    depots = tmp_path / "depots.yaml"
    depots.write_text(DEPOTS.format(oblast=oblast), encoding="utf-8")
    # reach: 3 km from the depot, 4 h of fuel left at the end of its history (fuel_critical
    # below 6 h); late: 0.5 h left, inside the plan's safety margin, so no truck can make it.
    start_level = {reach: 80.0, late: 45.0}
    produce(settings, [
        (REGISTRY, reach, registry_record(reach, oblast=oblast, lat=49.25, lon=28.50)),
        (REGISTRY, late, registry_record(late, oblast=oblast, lat=49.40, lon=28.70)),
    ])
    t_end = time.time() - 60
    t0 = t_end - HISTORY_HOURS * 3600
    minutes = HISTORY_HOURS * 60
    for chunk in range(0, minutes + 1, 20):  # a live pace: pending periods pass in between
        batch = [_report(point, t0 + 60 * m, start_level[point] - BURN_LPH * m / 60)
                 for m in range(chunk, min(chunk + 20, minutes + 1)) for point in (reach, late)]
        produce(settings, batch)
        last = batch[-1][2]["ts"]
        wait_for("the chunk's telemetry", lambda ts=last: query(
            admin_dsn, "SELECT 1 FROM telemetry WHERE point_id = %s AND ts = %s", [late, ts]))
    wait_for("fuel_critical firing at both points, with no truck named yet", lambda: all(
        any(s == "firing" for s, _ in _events(admin_dsn, p, "fuel_critical"))
        for p in (reach, late)), timeout=60)
    assert all("planned_truck" not in a for p in (reach, late)
               for _, a in _events(admin_dsn, p, "fuel_critical"))

    # The planner: the current forecasts -> the plan, written where the worker reads it.
    config = settings.model_copy(update={"dispatch_time_limit_seconds": 2.0,
                                         "depots_file": depots})
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        dispatch = compute(conn, oblast, config)
        write(conn, dispatch)
    stops = {s.point_id: (r.truck.truck_id, s) for r in dispatch.plan.routes for s in r.stops}
    unreached = {u.point_id: u.reason for u in dispatch.plan.unreached}
    assert reach in stops and late in unreached, (stops, unreached)
    truck, stop = stops[reach]

    def live(level: dict[str, float]) -> None:
        now = time.time()
        produce(settings, [_report(p, now, level[p]) for p in (reach, late)])

    low = {reach: start_level[reach] - BURN_LPH * HISTORY_HOURS,
           late: start_level[late] - BURN_LPH * HISTORY_HOURS}

    def plan_in_alerts() -> bool:
        live(low)
        critical = _events(admin_dsn, reach, "fuel_critical")
        unreachable = _events(admin_dsn, late, "fuel_unreachable")
        return (bool(critical) and critical[-1][1].get("planned_truck") == truck
                and any(s == "firing" for s, _ in unreachable))

    wait_for("the plan in the fuel alerts", plan_in_alerts, timeout=60)
    annotations = _events(admin_dsn, reach, "fuel_critical")[-1][1]
    assert annotations["planned_depot"] == dispatch.depot_names()[
        next(r.truck.depot_id for r in dispatch.plan.routes if r.truck.truck_id == truck)]
    assert annotations["planned_litres"] == f"{stop.litres:.0f}"
    arrival = datetime.fromisoformat(annotations["planned_arrival"]).timestamp()
    assert arrival == pytest.approx(dispatch.at(stop.arrive_h).timestamp(), abs=1.0)
    fired = next(a for s, a in _events(admin_dsn, late, "fuel_unreachable") if s == "firing")
    assert fired["unreachable_reason"] == unreached[late]
    # Alertmanager has them as the notification will show them.
    in_am = wait_for("the plan in Alertmanager", lambda: {
        a["labels"]["alertname"]: a["annotations"] for a in _alertmanager(reach)
        if a["annotations"].get("planned_truck") == truck} or None, timeout=60)
    assert in_am["fuel_critical"]["planned_depot"] == annotations["planned_depot"]
    assert wait_for("fuel_unreachable in Alertmanager", lambda: [
        a for a in _alertmanager(late) if a["labels"]["alertname"] == "fuel_unreachable"
        and a["annotations"]["unreachable_reason"] == unreached[late]], timeout=60)

    # The truck comes (and someone refuels the other point): the readings jump.
    full = {reach: 190.0, late: 190.0}

    def resolved() -> bool:
        live(full)
        return (any(s == "resolved" for s, _ in _events(admin_dsn, reach, "fuel_critical"))
                and any(s == "resolved" for s, _ in _events(admin_dsn, late, "fuel_unreachable")))

    wait_for("fuel_critical and fuel_unreachable resolved by the refuel", resolved, timeout=90)

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        delivered = wait_for("the refuel in the forecasts", lambda: [
            d for d in record_deliveries(conn) if d.point_id in (reach, late)], timeout=30)
        again = record_deliveries(conn)  # recorded once
    assert [(d.point_id, d.truck_id) for d in delivered] == [(reach, truck)]
    assert delivered[0].litres_seen is not None and delivered[0].litres_seen > 100
    assert not [d for d in again if d.point_id == reach]
    assert query(admin_dsn, "SELECT status, truck_id FROM dispatch_deliveries WHERE point_id = %s",
                 [reach]) == [("delivered", truck)]
