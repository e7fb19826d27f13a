"""A small simulated network for the dashboard and analyst SQL tests: eight points in four
oblasts covering every state, two days of reports up to ``now`` (one silence in the middle,
one going on), occupancy, visits, activations, fuel forecasts and alert events.

Rows go in as ``INSERT ... SELECT FROM unnest(...)`` with plain ``execute()``, in chunks: the
TimescaleDB-in-WASM server supports neither ``executemany()`` nor ``COPY``, and crashes on a
message of some 64 kB. Point ids start with ``dash-``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import LiteralString

import psycopg

Conn = psycopg.Connection[tuple[object, ...]]

# Rows per INSERT: keeps each message well under the WASM server's limit.
CHUNK_ROWS = 250
HISTORY = timedelta(days=2)
# Reports every 2 minutes: coarser than the field's 30-60 s, finer than any silence threshold.
STEP = timedelta(minutes=2)
BURN_LPH = 4.0
FULL_L = 190.0


@dataclass(frozen=True)
class Point:
    """One point of the scenario and how it behaves."""

    point_id: str
    kind: str
    oblast: str
    hromada: str
    lat: float
    lon: float
    capacity: int
    status: str  # what it reports (standby points may open, see OPENINGS)
    generator: bool = False
    last_report_ago: timedelta | None = timedelta(minutes=1)  # None: never reported
    refuelled_ago_h: float = 20.0  # generators: hours since the last refuel, at now
    refuel_every_h: float = 40.0
    # A stretch without reports, as (from, to) before now.
    gap: tuple[timedelta, timedelta] | None = None


POINTS = (
    Point("dash-kyiv-1", "permanent", "Київська", "Бучанська", 50.54, 30.22, 100, "open",
          generator=True),
    Point("dash-kyiv-2", "mobile", "Київська", "Ірпінська", 50.52, 30.25, 40, "open",
          gap=(timedelta(hours=26), timedelta(hours=25, minutes=30))),
    Point("dash-odesa-1", "standby", "Одеська", "Одеська", 46.48, 30.72, 60, "standby",
          generator=True),
    Point("dash-odesa-2", "standby", "Одеська", "Одеська", 46.45, 30.70, 60, "standby"),
    # Runs dry in about three hours: 12 litres left at 4 l/h.
    Point("dash-odesa-3", "permanent", "Одеська", "Білгород-Дністровська", 46.19, 30.34, 80,
          "open", generator=True, refuelled_ago_h=44.5, refuel_every_h=60.0),
    Point("dash-lviv-1", "permanent", "Львівська", "Львівська", 49.84, 24.03, 120, "closed"),
    Point("dash-lviv-2", "permanent", "Львівська", "Стрийська", 49.26, 23.85, 50, "open",
          last_report_ago=timedelta(minutes=40)),
    Point("dash-kharkiv-1", "mobile", "Харківська", "Харківська", 49.99, 36.23, 30, "open",
          last_report_ago=None),
)

# Standby points asked to open: (point, activated, opened, stood down), as offsets from now.
OPENINGS = (
    ("dash-odesa-1", timedelta(hours=3), timedelta(hours=2, minutes=20), None),
    ("dash-odesa-2", timedelta(days=2), timedelta(days=2) - timedelta(minutes=30),
     timedelta(days=2) - timedelta(hours=6)),
)


def insert(conn: Conn, now: datetime) -> None:
    """Insert the whole scenario, every timestamp relative to ``now``."""
    _insert_points(conn)
    _insert_telemetry(conn, now)
    _insert_occupancy(conn, now)
    _insert_visits(conn, now)
    _insert_activations(conn, now)
    _insert_forecasts(conn, now)
    _insert_alerts(conn, now)
    _insert_dispatch_plans(conn, now)


def _insert(conn: Conn, statement: LiteralString, rows: Sequence[Sequence[object]]) -> None:
    """Run ``statement`` (one unnest() array parameter per column) over ``rows`` in chunks."""
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start:start + CHUNK_ROWS]
        conn.execute(statement, [list(column) for column in zip(*chunk, strict=True)])


def _insert_points(conn: Conn) -> None:
    rows = [(p.point_id, f"Пункт {p.point_id}", p.kind, p.oblast, p.hromada, p.lat, p.lon,
             p.capacity, 200.0) for p in POINTS]
    _insert(
        conn,
        "INSERT INTO points (point_id, name, kind, oblast, hromada, lat, lon, capacity_people,"
        " fuel_tank_l) SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[],"
        " %s::text[], %s::float8[], %s::float8[], %s::int[], %s::float8[])",
        rows,
    )


def _reports(point: Point, now: datetime) -> list[datetime]:
    """The report times of a point: every STEP over HISTORY up to its last report."""
    if point.last_report_ago is None:
        return []
    last = now - point.last_report_ago
    count = int(HISTORY / STEP)
    times = [last - i * STEP for i in range(count, -1, -1)]
    if point.gap is None:
        return times
    start, end = (now - ago for ago in point.gap)
    return [ts for ts in times if not start <= ts < end]


def _status(point: Point, ts: datetime, now: datetime) -> str:
    for point_id, activated, opened, stood_down in OPENINGS:
        if point_id == point.point_id and now - opened <= ts:
            return "standby" if stood_down is not None and ts >= now - stood_down else "open"
        if point_id == point.point_id and now - activated <= ts:
            return "standby"
    return point.status


def fuel_level(point: Point, ts: datetime, now: datetime) -> float:
    """A generator's tank: burns BURN_LPH, topped up to FULL_L every refuel_every_h hours."""
    last_refuel = now - timedelta(hours=point.refuelled_ago_h)
    since_h = ((ts - last_refuel) / timedelta(hours=1)) % point.refuel_every_h
    return round(FULL_L - BURN_LPH * since_h, 2)


def _insert_telemetry(conn: Conn, now: datetime) -> None:
    rows = []
    for point in POINTS:
        for i, ts in enumerate(_reports(point, now)):
            status = _status(point, ts, now)
            running = point.generator and status == "open"
            rows.append((
                point.point_id, ts, status, "generator" if running else "grid", running,
                fuel_level(point, ts, now) if point.generator else None,
                True, i % 50 != 0, 19.0 + (i % 5) * 0.5, 5 + i % 20,
            ))
    _insert(
        conn,
        "INSERT INTO telemetry (point_id, ts, status, power, generator_running, fuel_level_l,"
        " heating_on, internet_up, indoor_temp_c, headcount)"
        " SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::text[], %s::text[],"
        " %s::boolean[], %s::float8[], %s::boolean[], %s::boolean[], %s::float8[], %s::int[])",
        rows,
    )


def _insert_occupancy(conn: Conn, now: datetime) -> None:
    rows = []
    for point in POINTS:
        for i, ts in enumerate(_reports(point, now)):
            # Busy in the evening of the series' rhythm; dash-kyiv-1 ends over capacity.
            people = (i * 7) % (point.capacity + 15)
            if point.point_id == "dash-kyiv-1" and ts > now - timedelta(minutes=30):
                people = point.capacity + 10
            rows.append((point.point_id, ts, people, i % 6, i % 20, 50 + i % 40,
                         people / point.capacity))
    _insert(
        conn,
        "INSERT INTO occupancy (point_id, ts, people_inside, visits_15m, visits_1h, visits_24h,"
        " utilisation) SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::int[],"
        " %s::int[], %s::int[], %s::int[], %s::float8[])",
        rows,
    )


def _insert_visits(conn: Conn, now: datetime) -> None:
    rows = []
    for point in POINTS:
        for i, ts in enumerate(_reports(point, now)):
            rows.append((f"{point.point_id}-a{i}", point.point_id, ts, "arrival", 1 + i % 3))
            if i % 2:
                rows.append((f"{point.point_id}-d{i}", point.point_id, ts + timedelta(minutes=5),
                             "departure", 1))
    _insert(
        conn,
        "INSERT INTO visits (event_id, point_id, ts, kind, people) SELECT * FROM"
        " unnest(%s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::int[])",
        rows,
    )


def _insert_activations(conn: Conn, now: datetime) -> None:
    rows: list[tuple[object, ...]] = []
    for point_id, activated, _opened, stood_down in OPENINGS:
        rows.append((point_id, now - activated, "activate", "ОДА"))
        if stood_down is not None:
            rows.append((point_id, now - stood_down, "stand_down", "ОДА"))
    _insert(
        conn,
        "INSERT INTO activations (point_id, ts, action, requested_by) SELECT * FROM"
        " unnest(%s::text[], %s::timestamptz[], %s::text[], %s::text[])",
        rows,
    )


def _insert_forecasts(conn: Conn, now: datetime) -> None:
    rows = []
    for point in POINTS:
        if not point.generator:
            continue
        for ts in _reports(point, now):
            if ts < now - timedelta(days=1) or _status(point, ts, now) != "open":
                continue
            level = fuel_level(point, ts, now)
            hours = level / BURN_LPH
            rows.append((point.point_id, ts, level, BURN_LPH, hours,
                         ts + timedelta(hours=hours), 0.8, True))
    _insert(
        conn,
        "INSERT INTO fuel_forecast (point_id, ts, fuel_level_l, burn_rate_lph, hours_to_empty,"
        " empty_at, confidence, generator_running) SELECT * FROM unnest(%s::text[],"
        " %s::timestamptz[], %s::float8[], %s::float8[], %s::float8[], %s::timestamptz[],"
        " %s::float8[], %s::boolean[])",
        rows,
    )


# (fingerprint, status, ago, alertname, severity, point_id): two active alerts, resolved ones.
_ALERT_EVENTS = (
    ("dash-f1", "firing", timedelta(hours=2), "fuel_critical", "critical", "dash-odesa-3"),
    ("dash-f1", "updated", timedelta(hours=1), "fuel_critical", "critical", "dash-odesa-3"),
    ("dash-f2", "firing", timedelta(hours=30), "fuel_low", "warning", "dash-kyiv-1"),
    ("dash-f2", "resolved", timedelta(hours=28), "fuel_low", "warning", "dash-kyiv-1"),
    ("dash-f3", "firing", timedelta(days=2), "point_silent", "critical", "dash-lviv-2"),
    ("dash-f3", "resolved", timedelta(days=2) - timedelta(minutes=20), "point_silent",
     "critical", "dash-lviv-2"),
    ("dash-f3", "firing", timedelta(minutes=30), "point_silent", "critical", "dash-lviv-2"),
    ("dash-f4", "firing", timedelta(hours=5), "heating_off", "warning", "dash-kyiv-2"),
    ("dash-f4", "resolved", timedelta(hours=4, minutes=50), "heating_off", "warning",
     "dash-kyiv-2"),
)


def _insert_alerts(conn: Conn, now: datetime) -> None:
    by_id = {p.point_id: p for p in POINTS}
    rows = [
        (fingerprint, now - ago, status, alertname, severity, point_id,
         by_id[point_id].oblast, by_id[point_id].kind, f"{point_id}: {alertname}")
        for fingerprint, status, ago, alertname, severity, point_id in _ALERT_EVENTS
    ]
    _insert(
        conn,
        "INSERT INTO alert_events (fingerprint, ts, status, alertname, severity, point_id,"
        " oblast, point_kind, summary) SELECT * FROM unnest(%s::text[], %s::timestamptz[],"
        " %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])",
        rows,
    )


def _insert_dispatch_plans(conn: Conn, now: datetime) -> None:
    """An older and a newer plan for Одеська (a stop), and one for Київська (a point no truck
    reaches in time): the panels show the newer ones."""
    computed = now - timedelta(minutes=10)
    for oblast, at, reached, unreached in (("Одеська", computed - timedelta(hours=1), 1, 0),
                                           ("Одеська", computed, 1, 0),
                                           ("Київська", computed, 0, 1)):
        conn.execute(
            "INSERT INTO dispatch_plans (oblast, computed_at, solve_seconds, points_reached,"
            " points_unreached, litres, km) VALUES (%s, %s, 0.4, %s, %s, %s, 84.0)",
            [oblast, at, reached, unreached, 150.0 * reached])
        if reached:
            conn.execute(
                "INSERT INTO dispatch_stops (oblast, computed_at, truck_id, depot, stop_order,"
                " point_id, point_name, litres, arrives_at, deadline, runs_dry_at, slack_hours,"
                " km_from_previous) VALUES (%s, %s, 'OD-1a', 'Одеська обласна нафтобаза', 1,"
                " 'dash-odesa-3', 'Пункт dash-odesa-3', 150, %s, %s, %s, 2.5, 42.0)",
                [oblast, at, at + timedelta(hours=1), at + timedelta(hours=3.5),
                 at + timedelta(hours=4.5)])
        if unreached:
            conn.execute(
                "INSERT INTO dispatch_unreached (oblast, computed_at, point_id, point_name,"
                " runs_dry_at, reason) VALUES (%s, %s, 'dash-kyiv-1', 'Пункт dash-kyiv-1', %s,"
                " 'runs dry in 0.8 h: within the safety margin, too late for any truck')",
                [oblast, at, at + timedelta(hours=0.8)])
