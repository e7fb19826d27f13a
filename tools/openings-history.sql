-- Activation orders at national scale and the telemetry around them, for timing analyst
-- queries 5 and 6 (docs/analysts.md) and the stored openings of migration 017 (figures in
-- docs/database.md, "After 017"). Not the whole network's telemetry (90 days of it is ~900 GB):
-- only each ordered standby point's reports from its order until it opens and 10 minutes
-- after (a whole day of standby reports when it never opens), which is what the lookup of its
-- opening reads. Reports every 45 s; opening 10-115 min after the order (85 %), 121-180 min
-- (12 %) or never (3 %), as the bench's strikes (streams/bench/history_data.py).
--
-- Run as the schema owner on a plain-mode database migrated with `nezlam db migrate`, e.g.:
--   psql "$DSN" -v days=90 -v per_day=3000 -f tools/openings-history.sql
-- Deterministic: the same rows for the same days and per_day, ending at the current hour.

\set ON_ERROR_STOP on
\if :{?days}
\else
    \set days 90
\endif
\if :{?per_day}
\else
    \set per_day 3000
\endif

-- A uniform number in [0, 1) from text, the same in every run.
CREATE FUNCTION pg_temp.u(key text) RETURNS float8
    LANGUAGE sql IMMUTABLE
    RETURN (hashtextextended(key, 0) & 2147483647)::float8 / 2147483648.0;

-- The simulator's standby points: 4,229 over 25 oblasts.
INSERT INTO points (point_id, name, kind, oblast, hromada, lat, lon, capacity_people,
                    fuel_tank_l)
SELECT 'sb-' || i, 'Standby ' || i, 'standby', 'Oblast ' || (i % 25), 'Hromada ' || i,
       48.0, 31.0, 60, 150
FROM generate_series(0, 4228) AS i
ON CONFLICT DO NOTHING;

SELECT date_trunc('hour', now()) AS upto, date_trunc('hour', now()) - :days * INTERVAL '1 day'
    AS since \gset
-- Each day's rows into their own partition (016), as the stack's maintenance makes them.
SELECT create_daily_partitions(:'since', :'upto'::timestamptz + INTERVAL '2 days');
-- The current-state trigger (013) costs an upsert per row: off for the load, rebuilt after.
ALTER TABLE telemetry DISABLE TRIGGER keep_telemetry_now;

CREATE TEMPORARY TABLE orders AS
SELECT 'sb-' || (k % 4229) AS point_id,
       d + pg_temp.u(k || ':at') * INTERVAL '1 day' AS ts,
       pg_temp.u(k || ':open') AS u
FROM generate_series(:'since'::timestamptz, :'upto'::timestamptz - INTERVAL '1 day',
                     INTERVAL '1 day') WITH ORDINALITY AS g (d, n)
CROSS JOIN LATERAL generate_series((n - 1) * :per_day, n * :per_day - 1) AS k;
ALTER TABLE orders ADD COLUMN opens_at timestamptz;
UPDATE orders SET opens_at = CASE
    WHEN u < 0.85 THEN ts + (10 + 105 * u / 0.85) * INTERVAL '1 minute'
    WHEN u < 0.97 THEN ts + (121 + 59 * (u - 0.85) / 0.12) * INTERVAL '1 minute'
END;
CREATE INDEX ON orders (ts);

INSERT INTO activations (point_id, ts, action, requested_by)
SELECT point_id, ts, 'activate', 'oblast administration' FROM orders
ON CONFLICT DO NOTHING;

-- One statement per day of orders, its reports in time order (as the pipeline writes them).
SELECT format($q$
    INSERT INTO telemetry (point_id, ts, status, power, generator_running, received_at)
    SELECT o.point_id, r.ts, CASE WHEN r.ts >= o.opens_at THEN 'open' ELSE 'standby' END,
           'generator', true, r.ts
    FROM orders AS o
    CROSS JOIN LATERAL generate_series(
        o.ts + INTERVAL '30 seconds',
        least(coalesce(o.opens_at + INTERVAL '10 minutes', o.ts + INTERVAL '1 day'),
              %2$L::timestamptz),
        INTERVAL '45 seconds') AS r (ts)
    WHERE o.ts >= %1$L::timestamptz AND o.ts < %1$L::timestamptz + INTERVAL '1 day'
    ORDER BY r.ts
    ON CONFLICT DO NOTHING$q$, d, :'upto')
FROM generate_series(:'since'::timestamptz, :'upto'::timestamptz - INTERVAL '1 day',
                     INTERVAL '1 day') AS d
\gexec

ALTER TABLE telemetry ENABLE TRIGGER keep_telemetry_now;
SELECT rebuild_current_state();
ANALYZE points, activations, telemetry;
SELECT (SELECT count(*) FROM activations) AS activations,
       (SELECT count(*) FROM telemetry) AS telemetry,
       pg_size_pretty(pg_database_size(current_database())) AS size;
