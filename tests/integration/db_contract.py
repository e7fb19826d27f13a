"""The database contract (notes/db_spec.md) as data, and a small scenario both modes must answer
alike. Shared by the PostgreSQL and the TimescaleDB migration tests; only plain ``execute()``
calls, which the TimescaleDB-in-WASM server supports."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

TZ = "timestamp with time zone"
FLOAT = "double precision"

_POINT_COLUMNS = [
    ("point_id", "text"),
    ("name", "text"),
    ("kind", "text"),
    ("oblast", "text"),
    ("hromada", "text"),
    ("lat", FLOAT),
    ("lon", FLOAT),
    ("capacity_people", "integer"),
    ("fuel_tank_l", FLOAT),
]
_ALERT_COLUMNS = [
    ("fingerprint", "text"),
    ("ts", TZ),
    ("status", "text"),
    ("alertname", "text"),
    ("severity", "text"),
    ("point_id", "text"),
    ("oblast", "text"),
    ("point_kind", "text"),
    ("summary", "text"),
    ("labels", "jsonb"),
    ("annotations", "jsonb"),
]

# Every relation of the contract with its columns, in order, and their types.
EXPECTED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "points": [*_POINT_COLUMNS, ("updated_at", TZ)],
    "telemetry": [
        ("point_id", "text"),
        ("ts", TZ),
        ("status", "text"),
        ("power", "text"),
        ("generator_running", "boolean"),
        ("fuel_level_l", FLOAT),
        ("heating_on", "boolean"),
        ("internet_up", "boolean"),
        ("indoor_temp_c", FLOAT),
        ("headcount", "integer"),
        ("received_at", TZ),
    ],
    "visits": [
        ("event_id", "text"),
        ("point_id", "text"),
        ("ts", TZ),
        ("kind", "text"),
        ("people", "integer"),
    ],
    "activations": [
        ("point_id", "text"),
        ("ts", TZ),
        ("action", "text"),
        ("requested_by", "text"),
    ],
    "occupancy": [
        ("point_id", "text"),
        ("ts", TZ),
        ("people_inside", "integer"),
        ("visits_15m", "integer"),
        ("visits_1h", "integer"),
        ("visits_24h", "integer"),
        ("utilisation", FLOAT),
    ],
    "fuel_forecast": [
        ("point_id", "text"),
        ("ts", TZ),
        ("fuel_level_l", FLOAT),
        ("burn_rate_lph", FLOAT),
        ("hours_to_empty", FLOAT),
        ("empty_at", TZ),
        ("confidence", FLOAT),
        ("generator_running", "boolean"),
        ("refuel_detected", "boolean"),
    ],
    "alert_events": _ALERT_COLUMNS,
    "point_status": [
        *_POINT_COLUMNS,
        ("last_seen", TZ),
        ("status", "text"),
        ("power", "text"),
        ("generator_running", "boolean"),
        ("fuel_level_l", FLOAT),
        ("heating_on", "boolean"),
        ("internet_up", "boolean"),
        ("indoor_temp_c", FLOAT),
        ("headcount", "integer"),
    ],
    "alerts_active": _ALERT_COLUMNS,
    "visits_daily": [
        ("day", TZ),
        ("oblast", "text"),
        ("arrivals", "bigint"),
        ("people", "bigint"),
    ],
    "occupancy_point_hourly": [
        ("bucket", TZ),
        ("point_id", "text"),
        ("samples", "bigint"),
        ("people_inside_avg", FLOAT),
        ("people_inside_max", "integer"),
        ("visits_1h_last", "integer"),
    ],
    "telemetry_hourly": [
        ("bucket", TZ),
        ("point_id", "text"),
        ("readings", "bigint"),
        ("running_readings", "bigint"),
        ("fuel_first", FLOAT),
        ("fuel_last", FLOAT),
        ("fuel_min", FLOAT),
        ("fuel_max", FLOAT),
    ],
    "occupancy_hourly": [
        ("bucket", TZ),
        ("oblast", "text"),
        ("points", "bigint"),
        ("people_inside_avg", FLOAT),
        ("people_inside_max", "bigint"),
        ("visits", "bigint"),
    ],
    "fuel_use_daily": [
        ("day", TZ),
        ("oblast", "text"),
        ("points", "bigint"),
        ("fuel_burned_l", FLOAT),
    ],
    "occupancy_oblast_hourly": [
        ("bucket", TZ),
        ("oblast", "text"),
        ("kind", "text"),
        ("points", "bigint"),
        ("people_inside_avg", FLOAT),
        ("people_inside_max", "bigint"),
        ("visits", "bigint"),
        ("capacity_people", "bigint"),
    ],
    "telemetry_oblast_daily": [
        ("day", TZ),
        ("oblast", "text"),
        ("generators", "bigint"),
        ("generator_hours", "numeric"),
        ("fuel_points", "bigint"),
        ("fuel_burned_l", FLOAT),
    ],
}

# The TimescaleDB mode's continuous aggregates (views over stored tables in PostgreSQL mode),
# in the order a refresh must take them: the per-oblast ones are built on the per-point ones.
CONTINUOUS_AGGREGATES_IN_ORDER = (
    "occupancy_point_hourly", "telemetry_hourly", "occupancy_oblast_hourly",
    "telemetry_oblast_daily",
)
CONTINUOUS_AGGREGATES = set(CONTINUOUS_AGGREGATES_IN_ORDER)
HYPERTABLES = {"telemetry", "visits", "activations", "occupancy", "fuel_forecast", "alert_events"}

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def relation_columns(
    conn: psycopg.Connection[tuple[object, ...]],
) -> dict[str, list[tuple[str, str]]]:
    """Columns (name, data type) of every contract relation found in schema public."""
    rows = conn.execute(
        "SELECT table_name::text, column_name::text, data_type::text"
        " FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = ANY(%s)"
        " ORDER BY table_name, ordinal_position",
        [list(EXPECTED_COLUMNS)],
    ).fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        found.setdefault(str(table), []).append((str(column), str(data_type)))
    return found


def insert_scenario(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """A few representative rows on 2026-01-01 (UTC) for points s1, s2 (Kyivska), s3 (silent)."""
    conn.execute(
        "INSERT INTO points (point_id, name, kind, oblast, hromada, lat, lon, capacity_people,"
        " fuel_tank_l) VALUES"
        " ('s1', 'School 1', 'permanent', 'Kyivska', 'Bucha', 50.54, 30.22, 80, 200),"
        " ('s2', 'Tent 2', 'mobile', 'Kyivska', 'Irpin', 50.52, 30.25, 40, 100),"
        " ('s3', 'Club 3', 'standby', 'Odeska', 'Odesa', 46.48, 30.72, 60, 150)"
    )
    # s1: hour 10 burns 100 -> 90; hour 11 has a refuel (85 -> 80, refill, 180 -> 175);
    # hour 12 the generator is off and the sensor wobbles upwards (must count no burn).
    conn.execute(
        "INSERT INTO telemetry (point_id, ts, status, power, generator_running, fuel_level_l,"
        " heating_on, internet_up, indoor_temp_c, headcount) VALUES"
        " ('s1', '2026-01-01 10:00+00', 'open', 'generator', true, 100, true, true, 19.5, 12),"
        " ('s1', '2026-01-01 10:30+00', 'open', 'generator', true, 90, true, true, 19.8, 14),"
        " ('s1', '2026-01-01 11:00+00', 'open', 'generator', true, 85, true, true, 20.0, 15),"
        " ('s1', '2026-01-01 11:20+00', 'open', 'generator', true, 80, true, true, 20.1, 15),"
        " ('s1', '2026-01-01 11:30+00', 'open', 'generator', true, 180, true, true, 20.2, 16),"
        " ('s1', '2026-01-01 11:50+00', 'open', 'generator', true, 175, true, true, 20.3, 16),"
        " ('s1', '2026-01-01 12:00+00', 'open', 'grid', false, 175, true, true, 20.5, 9),"
        " ('s1', '2026-01-01 12:30+00', 'open', 'grid', false, 177, true, false, 20.6, 8),"
        " ('s2', '2026-01-01 10:05+00', 'open', 'grid', false, NULL, true, NULL, NULL, NULL)"
    )
    conn.execute(
        "INSERT INTO occupancy (point_id, ts, people_inside, visits_15m, visits_1h, visits_24h,"
        " utilisation) VALUES"
        " ('s1', '2026-01-01 10:10+00', 10, 2, 5, 30, 0.125),"
        " ('s1', '2026-01-01 10:50+00', 20, 3, 7, 35, 0.25),"
        " ('s2', '2026-01-01 10:40+00', 5, 1, 3, 12, 0.125)"
    )
    conn.execute(
        "INSERT INTO visits (event_id, point_id, ts, kind, people) VALUES"
        " ('e1', 's1', '2026-01-01 10:01+00', 'arrival', 2),"
        " ('e2', 's1', '2026-01-01 10:20+00', 'arrival', 3),"
        " ('e3', 's1', '2026-01-01 10:40+00', 'departure', 2),"
        " ('e4', 's2', '2026-01-01 10:41+00', 'arrival', 1)"
    )
    # f1 fired then resolved; f2 fired then updated (active); f3 fired and resolved at once.
    conn.execute(
        "INSERT INTO alert_events (fingerprint, ts, status, alertname, severity, point_id,"
        " oblast, point_kind, summary) VALUES"
        " ('f1', '2026-01-01 10:00+00', 'firing', 'fuel_low', 'warning', 's1', 'Kyivska',"
        "  'permanent', 'School 1: fuel low'),"
        " ('f1', '2026-01-01 11:30+00', 'resolved', 'fuel_low', 'warning', 's1', 'Kyivska',"
        "  'permanent', 'School 1: fuel low'),"
        " ('f2', '2026-01-01 10:00+00', 'firing', 'point_silent', 'critical', 's3', 'Odeska',"
        "  'standby', 'Club 3: silent'),"
        " ('f2', '2026-01-01 10:30+00', 'updated', 'point_silent', 'critical', 's3', 'Odeska',"
        "  'standby', 'Club 3: silent for 30 min'),"
        " ('f3', '2026-01-01 10:00+00', 'firing', 'heating_off', 'warning', 's2', 'Kyivska',"
        "  'mobile', 'Tent 2: heating off'),"
        " ('f3', '2026-01-01 10:00+00', 'resolved', 'heating_off', 'warning', 's2', 'Kyivska',"
        "  'mobile', 'Tent 2: heating off')"
    )


def check_scenario(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Assert the views' answers for :func:`insert_scenario`'s rows (other tests' rows, on other
    points and days, are left out)."""
    status = {
        row[0]: row[1:]
        for row in conn.execute(
            "SELECT point_id, last_seen, power, fuel_level_l, headcount FROM point_status"
            " WHERE point_id IN ('s1', 's2', 's3')"
        ).fetchall()
    }
    assert status == {
        "s1": (datetime(2026, 1, 1, 12, 30, tzinfo=UTC), "grid", 177.0, 8),
        "s2": (datetime(2026, 1, 1, 10, 5, tzinfo=UTC), "grid", None, None),
        "s3": (None, None, None, None),
    }

    active = conn.execute(
        "SELECT fingerprint, status, summary FROM alerts_active"
        " WHERE fingerprint IN ('f1', 'f2', 'f3') ORDER BY fingerprint"
    ).fetchall()
    assert active == [("f2", "updated", "Club 3: silent for 30 min")]

    occupancy = conn.execute(
        "SELECT bucket, oblast, points, people_inside_avg, people_inside_max, visits"
        " FROM occupancy_hourly WHERE bucket >= %s AND bucket < %s + INTERVAL '1 day'"
        " ORDER BY bucket, oblast",
        [DAY, DAY],
    ).fetchall()
    assert occupancy == [(datetime(2026, 1, 1, 10, tzinfo=UTC), "Kyivska", 2, 20.0, 25, 10)]

    fuel = conn.execute(
        "SELECT day, oblast, points, fuel_burned_l FROM fuel_use_daily WHERE day = %s"
        " ORDER BY oblast",
        [DAY],
    ).fetchall()
    assert fuel == [(DAY, "Kyivska", 1, 20.0)]

    # The second level: per oblast and kind and hour; per oblast and day.
    by_kind = conn.execute(
        "SELECT bucket, oblast, kind, points, people_inside_avg, people_inside_max, visits,"
        " capacity_people FROM occupancy_oblast_hourly"
        " WHERE bucket >= %s AND bucket < %s + INTERVAL '1 day' ORDER BY bucket, oblast, kind",
        [DAY, DAY],
    ).fetchall()
    assert by_kind == [
        (datetime(2026, 1, 1, 10, tzinfo=UTC), "Kyivska", "mobile", 1, 5.0, 5, 3, 40),
        (datetime(2026, 1, 1, 10, tzinfo=UTC), "Kyivska", "permanent", 1, 15.0, 20, 7, 80),
    ]
    daily = conn.execute(
        "SELECT day, oblast, generators, generator_hours, fuel_points, fuel_burned_l"
        " FROM telemetry_oblast_daily WHERE day = %s ORDER BY oblast",
        [DAY],
    ).fetchall()
    # s1 ran all of hours 10 and 11 (2 generator hours), not hour 12; s2 never ran.
    assert daily == [(DAY, "Kyivska", 1, 2, 1, 20.0)]

    visits = conn.execute(
        "SELECT day, oblast, arrivals, people FROM visits_daily WHERE day = %s ORDER BY oblast",
        [DAY],
    ).fetchall()
    assert visits == [(DAY, "Kyivska", 3, 6)]

    # What Grafana's $__timeGroupAlias(ts, '5m') emits with the TimescaleDB toggle on.
    grafana = conn.execute(
        "SELECT time_bucket('300.000s', ts) AS time, count(*) FROM telemetry"
        " WHERE ts BETWEEN '2026-01-01T10:00:00Z' AND '2026-01-01T10:59:59Z'"
        " GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert grafana == [
        (datetime(2026, 1, 1, 10, 0, tzinfo=UTC), 1),
        (datetime(2026, 1, 1, 10, 5, tzinfo=UTC), 1),
        (datetime(2026, 1, 1, 10, 30, tzinfo=UTC), 1),
    ]

    # Weekly buckets start on Mondays: TimescaleDB's default origin, 2000-01-03, in both modes.
    week = conn.execute(
        "SELECT time_bucket(INTERVAL '7 days', TIMESTAMPTZ '2026-01-01 12:00+00')"
    ).fetchone()
    assert week == (datetime(2025, 12, 29, tzinfo=UTC),)
