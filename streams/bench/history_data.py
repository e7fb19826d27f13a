"""National-scale history for the read-side benchmark, generated inside the database.

The simulator's registry (all 13,464 points) goes in from Python; everything else is generated
by the server with ``INSERT ... SELECT`` over ``generate_series``, one hour of history per
statement: formatting some 60 million rows a day in Python and sending them with COPY costs
more than the database needs to insert them, on a machine of two cores. Nothing here uses COPY
or ``executemany()``, so the same load runs on the TimescaleDB-in-WASM server.

The shapes follow the simulator (``streams.simulate``): each point reports every 32-58 s; a
point's gateway drops out about every four days for 2 min to 8 h (median about 15 min); about
a third of the reports publish an occupancy update, and every report of a point with a
generator a fuel forecast; some 6,000 people a day arrive nationally (four times as many in a
blackout). Strikes black out an oblast for 2-10 h: generators run and burn fuel, standby points
are ordered to open 5-25 min later and open 10-115 min after the order (85 %), late (12 %) or
never (3 %), and stand down an hour after power returns. Alert events follow the silences
(``point_silent``), the late openings (``activation_overdue``), the blackouts (``no_power`` at
points without a generator, ``fuel_low`` at a tenth of the generators).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import LiteralString

import psycopg

from streams.simulate.registry import FULL_NETWORK, build_registry

Conn = psycopg.Connection[tuple[object, ...]]

SCHEMA = "bench_gen"
# Rows per INSERT of the registry: well under the WASM server's message limit.
_REGISTRY_CHUNK = 200
STRIKES_PER_OBLAST_DAY = 0.35
OUTAGE_HOURS = (2.0, 10.0)
STAND_DOWN_AFTER = timedelta(hours=1)

# A uniform number in [0, 1) from text, the same in every run and mode.
_U = "((hashtextextended({}, 0) & 2147483647)::float8 / 2147483648.0)"


def _u(expression: str) -> str:
    return _U.format(expression)


@dataclass(frozen=True)
class Outage:
    """One strike's blackout of an oblast."""

    outage_id: int
    oblast: str
    starts: datetime
    ends: datetime


def outages(oblasts: list[str], start: datetime, end: datetime, seed: int) -> list[Outage]:
    """The strikes in [start, end): each oblast is struck on about a third of the days."""
    rng = random.Random(seed)
    found: list[Outage] = []
    # An oblast's blackouts never overlap (each report lies in at most one).
    free_from = dict.fromkeys(oblasts, start)
    day = start
    while day < end:
        for oblast in oblasts:
            if rng.random() < STRIKES_PER_OBLAST_DAY:
                starts = day + timedelta(seconds=rng.uniform(0, 86400))
                ends = starts + timedelta(hours=rng.uniform(*OUTAGE_HOURS))
                if free_from[oblast] <= starts < end:
                    found.append(Outage(len(found) + 1, oblast, starts, min(ends, end)))
                    free_from[oblast] = ends + STAND_DOWN_AFTER
        day += timedelta(days=1)
    return found


def insert_registry(conn: Conn, seed: int, points: int = FULL_NETWORK) -> list[str]:
    """The simulator's registry into ``points``; the oblasts, sorted."""
    registry = build_registry(seed, points)
    columns = ("point_id", "name", "kind", "oblast", "hromada", "lat", "lon",
               "capacity_people", "fuel_tank_l")
    types = ("text", "text", "text", "text", "text", "float8", "float8", "int", "float8")
    unnest = ", ".join(f"%s::{t}[]" for t in types)
    statement = (
        f"INSERT INTO points ({', '.join(columns)}) "
        f"SELECT * FROM unnest({unnest}) ON CONFLICT DO NOTHING"
    )
    for offset in range(0, len(registry), _REGISTRY_CHUNK):
        chunk = registry[offset:offset + _REGISTRY_CHUNK]
        conn.execute(statement.encode(), [[row[c] for row in chunk] for c in columns])
    return sorted({str(row["oblast"]) for row in registry})


def prepare(conn: Conn, start: datetime, end: datetime, seed: int) -> None:
    """The generator's own tables (schema ``bench_gen``): per-point parameters, strikes,
    silences; and the small tables that follow from them: activations and alert events."""
    oblasts = [str(r[0]) for r in conn.execute("SELECT DISTINCT oblast FROM points ORDER BY 1")]
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    conn.execute(f"CREATE SCHEMA {SCHEMA}")
    conn.execute(_POINT_PARAMETERS)
    conn.execute(f"CREATE TABLE {SCHEMA}.outage (outage_id int PRIMARY KEY, oblast text, "
                 "starts timestamptz, ends timestamptz, stand_down timestamptz)")
    found = outages(oblasts, start, end, seed)
    for offset in range(0, len(found), _REGISTRY_CHUNK):
        chunk = found[offset:offset + _REGISTRY_CHUNK]
        conn.execute(
            f"INSERT INTO {SCHEMA}.outage "
            "SELECT i, o, s, e, e + %s FROM unnest(%s::int[], %s::text[], "
            "%s::timestamptz[], %s::timestamptz[]) AS x (i, o, s, e)",
            [STAND_DOWN_AFTER, [o.outage_id for o in chunk], [o.oblast for o in chunk],
             [o.starts for o in chunk], [o.ends for o in chunk]],
        )
    conn.execute(_SILENCES, {"start": start, "end": end})
    conn.execute(_ORDERS)
    conn.execute(_ACTIVATIONS, {"end": end})
    conn.execute(_ALERTS_SILENT, {"end": end})
    conn.execute(_ALERTS_OVERDUE, {"end": end})
    conn.execute(_ALERTS_BLACKOUT, {"end": end})


def hours(start: datetime, end: datetime) -> Iterator[datetime]:
    """The start of every hour of [start, end)."""
    moment = start
    while moment < end:
        yield moment
        moment += timedelta(hours=1)


def load_hour(conn: Conn, hour: datetime) -> None:
    """One hour of telemetry, occupancy, fuel forecasts and visits."""
    conn.execute(_HOUR, {"c0": hour, "c1": hour + timedelta(hours=1)})


def load(conn: Conn, start: datetime, end: datetime, seed: int,
         progress: Callable[[int, int], None]) -> None:
    """Everything from ``start`` to ``end``: ``progress(done, total)`` after each hour."""
    prepare(conn, start, end, seed)
    every = list(hours(start, end))
    for done, hour in enumerate(every, start=1):
        load_hour(conn, hour)
        progress(done, len(every))


def drop_generator(conn: Conn) -> None:
    """Remove the generator's own tables."""
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


_POINT_PARAMETERS: LiteralString = f"""
CREATE TABLE {SCHEMA}.point AS
SELECT
    p.point_id, p.kind, p.oblast, p.capacity_people AS capacity, p.fuel_tank_l AS tank,
    32 + 26 * {_u("p.point_id || ':period'")} AS period,
    {_u("p.point_id || ':phase'")} AS phase_share,
    {_u("p.point_id || ':gen'")} < 0.94 AS has_gen,
    p.fuel_tank_l / (30 + 70 * {_u("p.point_id || ':burn'")}) AS burn,
    0.5 + 0.5 * {_u("p.point_id || ':fill'")} AS fill,
    {_u("p.point_id || ':fuelalert'")} < 0.1 AS fuel_alerts,
    CASE p.kind WHEN 'permanent' THEN 300 WHEN 'mobile' THEN 600 ELSE 900 END AS silent_after_s
FROM points AS p
"""

_SILENCES: LiteralString = f"""
CREATE TABLE {SCHEMA}.silence AS
SELECT point_id, starts, least(starts + seconds * INTERVAL '1 second', %(end)s) AS ends,
       silent_after_s
FROM (
    SELECT
        p.point_id, p.silent_after_s,
        d + {_u("p.point_id || d::text || ':s0'")} * INTERVAL '1 day' AS starts,
        least(28800, greatest(120,
            900 * exp(3 * ({_u("p.point_id || d::text || ':s1'")} - 0.5)))) AS seconds
    FROM {SCHEMA}.point AS p
    CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - INTERVAL '1 day',
                               INTERVAL '1 day') AS d
    WHERE {_u("p.point_id || d::text || ':s'")} < 0.25
) AS s
"""

# Standby points of a struck oblast: the order 5-25 min after the strike, and when each opens.
_ORDERS: LiteralString = f"""
CREATE TABLE {SCHEMA}.orders AS
SELECT
    o.outage_id, o.oblast, p.point_id, o.stand_down,
    o.starts + (5 + 20 * {_u("o.outage_id::text || ':wave'")}) * INTERVAL '1 minute'
        AS ordered_at,
    {_u("p.point_id || o.outage_id::text || ':open'")} AS u
FROM {SCHEMA}.outage AS o
JOIN {SCHEMA}.point AS p ON p.oblast = o.oblast AND p.kind = 'standby';
ALTER TABLE {SCHEMA}.orders ADD COLUMN opens_at timestamptz;
UPDATE {SCHEMA}.orders SET opens_at = CASE
    WHEN u < 0.85 THEN ordered_at + (10 + 105 * u / 0.85) * INTERVAL '1 minute'
    WHEN u < 0.97 THEN ordered_at + (121 + 59 * (u - 0.85) / 0.12) * INTERVAL '1 minute'
END;
CREATE INDEX ON {SCHEMA}.orders (oblast, ordered_at)
"""

_ACTIVATIONS: LiteralString = f"""
INSERT INTO activations (point_id, ts, action, requested_by)
SELECT point_id, ordered_at, 'activate', 'oblast administration' FROM {SCHEMA}.orders
UNION ALL
SELECT point_id, stand_down, 'stand_down', 'oblast administration' FROM {SCHEMA}.orders
WHERE stand_down < %(end)s
ON CONFLICT DO NOTHING
"""

_ALERT_COLUMNS: LiteralString = (
    "fingerprint, ts, status, alertname, severity, point_id, oblast, point_kind, summary, labels"
)

_ALERTS_SILENT: LiteralString = f"""
INSERT INTO alert_events ({_ALERT_COLUMNS})
SELECT md5('point_silent' || s.point_id), e.ts, e.status, 'point_silent', 'warning',
       s.point_id, p.oblast, p.kind, 'Point ' || s.point_id || ' is silent',
       jsonb_build_object('alertname', 'point_silent', 'point_id', s.point_id)
FROM {SCHEMA}.silence AS s
JOIN {SCHEMA}.point AS p USING (point_id)
CROSS JOIN LATERAL (VALUES
    (s.starts + s.silent_after_s * INTERVAL '1 second', 'firing'),
    (s.ends, 'resolved')) AS e (ts, status)
WHERE s.ends > s.starts + s.silent_after_s * INTERVAL '1 second'
    AND (e.status = 'firing' OR s.ends < %(end)s)
ON CONFLICT DO NOTHING
"""

_ALERTS_OVERDUE: LiteralString = f"""
INSERT INTO alert_events ({_ALERT_COLUMNS})
SELECT md5('activation_overdue' || r.point_id), e.ts, e.status, 'activation_overdue',
       'critical', r.point_id, r.oblast, 'standby',
       'Standby point ' || r.point_id || ' has not opened within two hours',
       jsonb_build_object('alertname', 'activation_overdue', 'point_id', r.point_id)
FROM {SCHEMA}.orders AS r
CROSS JOIN LATERAL (VALUES
    (r.ordered_at + INTERVAL '2 hours', 'firing'),
    (coalesce(r.opens_at, r.stand_down), 'resolved')) AS e (ts, status)
WHERE coalesce(r.opens_at, r.stand_down) > r.ordered_at + INTERVAL '2 hours'
    AND e.ts < %(end)s
ON CONFLICT DO NOTHING
"""

_ALERTS_BLACKOUT: LiteralString = f"""
INSERT INTO alert_events ({_ALERT_COLUMNS})
SELECT md5(a.alertname || p.point_id), e.ts, e.status, a.alertname, a.severity,
       p.point_id, p.oblast, p.kind, a.alertname || ' at ' || p.point_id,
       jsonb_build_object('alertname', a.alertname, 'point_id', p.point_id)
FROM {SCHEMA}.outage AS o
JOIN {SCHEMA}.point AS p ON p.oblast = o.oblast
CROSS JOIN LATERAL (
    SELECT 'no_power' AS alertname, 'critical' AS severity, INTERVAL '5 minutes' AS after
    WHERE NOT p.has_gen
    UNION ALL
    SELECT 'fuel_low', 'warning', (p.fill * p.tank * 0.6 / p.burn) * INTERVAL '1 hour'
    WHERE p.has_gen AND p.fuel_alerts
) AS a
CROSS JOIN LATERAL (VALUES
    (o.starts + a.after, 'firing'),
    (o.ends, 'resolved')) AS e (ts, status)
WHERE o.starts + a.after < o.ends AND e.ts < %(end)s
ON CONFLICT DO NOTHING
"""

# One hour [c0, c1) of reports of every point, with what each report says, written to the four
# high-rate tables in one statement.
_HOUR: LiteralString = f"""
WITH report AS MATERIALIZED (
    SELECT
        p.point_id, p.kind, p.capacity, p.tank, p.has_gen, p.burn, p.fill, p.period, k,
        'epoch'::timestamptz + (p.period * (k + p.phase_share)) * INTERVAL '1 second' AS ts
    FROM {SCHEMA}.point AS p
    CROSS JOIN LATERAL generate_series(
        ceil(extract(epoch FROM %(c0)s::timestamptz) / p.period - p.phase_share)::bigint,
        ceil(extract(epoch FROM %(c1)s::timestamptz) / p.period - p.phase_share)::bigint - 1
    ) AS k
    WHERE NOT EXISTS (
        SELECT FROM {SCHEMA}.silence AS s
        WHERE s.point_id = p.point_id AND s.starts < %(c1)s AND s.ends > %(c0)s
            AND 'epoch'::timestamptz + (p.period * (k + p.phase_share)) * INTERVAL '1 second'
                BETWEEN s.starts AND s.ends
    )
),
said AS MATERIALIZED (
    SELECT
        r.*,
        o.starts IS NOT NULL AND r.ts < o.ends AS dark,
        extract(epoch FROM r.ts - o.starts) / 3600 AS dark_h,
        (r.kind <> 'standby' OR (w.opens_at IS NOT NULL AND r.ts >= w.opens_at
                                 AND r.ts < w.stand_down)) AS is_open,
        extract(hour FROM r.ts AT TIME ZONE 'Europe/Kyiv') AS local_hour
    FROM report AS r
    JOIN {SCHEMA}.point AS p USING (point_id)
    LEFT JOIN {SCHEMA}.outage AS o
        ON o.oblast = p.oblast AND o.starts < %(c1)s AND o.stand_down > %(c0)s
        AND r.ts >= o.starts AND r.ts < o.stand_down
    LEFT JOIN {SCHEMA}.orders AS w
        ON w.outage_id = o.outage_id AND w.point_id = r.point_id
),
fuel AS MATERIALIZED (
    SELECT
        s.*,
        s.dark AND s.has_gen AS running,
        CASE WHEN s.has_gen THEN greatest(0.0,
            s.fill * s.tank - CASE WHEN s.dark THEN s.burn * s.dark_h ELSE 0 END
            + (random() - 0.5) * 0.02 * s.tank) END AS level,
        round(s.capacity * (0.05 + 0.1 * sin(pi() * s.local_hour / 24)
              + CASE WHEN s.dark THEN 0.5 ELSE 0 END) * random())::int AS inside
    FROM said AS s
),
t AS (
    INSERT INTO telemetry (point_id, ts, status, power, generator_running, fuel_level_l,
                           heating_on, internet_up, indoor_temp_c, headcount, received_at)
    SELECT
        point_id, ts,
        CASE WHEN is_open THEN 'open' ELSE 'standby' END,
        CASE WHEN NOT dark THEN 'grid' WHEN has_gen THEN 'generator' ELSE 'none' END,
        running, level, true, random() > 0.02,
        round((19 + 3 * random() - CASE WHEN dark THEN 3 ELSE 0 END)::numeric, 1),
        CASE WHEN random() < 0.35 THEN inside END,
        ts + INTERVAL '400 milliseconds'
    FROM fuel
),
o AS (
    INSERT INTO occupancy (point_id, ts, people_inside, visits_15m, visits_1h, visits_24h,
                           utilisation)
    SELECT point_id, ts, inside, inside / 4, inside / 2, inside * 3,
           inside::float8 / nullif(capacity, 0)
    FROM fuel
    WHERE k %% 3 = 0
),
v AS (
    INSERT INTO visits (event_id, point_id, ts, kind, people)
    SELECT point_id || ':' || k, point_id, ts,
           CASE WHEN random() < 0.6 THEN 'arrival' ELSE 'departure' END,
           1 + floor(random() ^ 2 * 6)::int
    FROM fuel
    WHERE random() < 0.0145 * period / 3600 * CASE WHEN dark THEN 4 ELSE 1 END
)
INSERT INTO fuel_forecast (point_id, ts, fuel_level_l, burn_rate_lph, hours_to_empty, empty_at,
                           confidence, generator_running, refuel_detected)
SELECT point_id, ts, level,
       CASE WHEN running THEN burn END,
       CASE WHEN running THEN level / burn END,
       CASE WHEN running THEN ts + level / burn * INTERVAL '1 hour' END,
       CASE WHEN running THEN 0.8 END,
       running, false
FROM fuel
WHERE has_gen
"""
