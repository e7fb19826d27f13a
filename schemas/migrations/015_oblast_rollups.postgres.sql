-- Plain PostgreSQL mode: the second level of rollup, per oblast (and kind), stored as
-- migration 011 stores the hourly per-point rollups: a table of complete buckets up to a
-- watermark, filled by refresh_hourly_rollups() (redefined here to refresh both levels), and a
-- view of the same name that adds the buckets since the watermark, computed from the
-- per-point hourly rollup views. So it answers what TimescaleDB's hierarchical continuous
-- aggregates (015_oblast_rollups.timescaledb.sql) answer, refreshed or not.
-- The panels and analyst queries that show days (fuel burned per day, occupancy by oblast over
-- 7 days, generator hours) read 1,800 or 25 rows a day here instead of 323,000 per-point
-- hours (docs/database.md, "Read side at national scale").
--
-- The points' oblast, kind and capacity are joined when a bucket is stored: a point that
-- changes oblast later stays under the old one for the hours already stored (as it reported
-- then); a point missing from the registry counts under oblast and kind NULL.

DROP VIEW fuel_use_daily;
DROP VIEW occupancy_hourly;

CREATE TABLE occupancy_oblast_hourly_stored (
    bucket            timestamptz NOT NULL,
    oblast            text NULL,
    kind              text NULL,
    points            bigint NOT NULL,
    people_inside_avg double precision NULL,
    people_inside_max bigint NULL,
    visits            bigint NULL,
    capacity_people   bigint NULL
);
CREATE INDEX occupancy_oblast_hourly_stored_bucket_idx ON occupancy_oblast_hourly_stored (bucket);

CREATE TABLE telemetry_oblast_daily_stored (
    day             timestamptz NOT NULL,
    oblast          text NULL,
    generators      bigint NOT NULL,
    generator_hours numeric NULL,
    fuel_points     bigint NOT NULL,
    fuel_burned_l   double precision NULL
);
CREATE INDEX telemetry_oblast_daily_stored_day_idx ON telemetry_oblast_daily_stored (day);

-- Only refresh_hourly_rollups() (SECURITY DEFINER) writes them.
REVOKE INSERT ON occupancy_oblast_hourly_stored, telemetry_oblast_daily_stored FROM nezlam_writer;

-- Stored buckets before the watermark, then the per-point hourly rollups (stored or raw, by
-- their own watermark) from it on.
CREATE VIEW occupancy_oblast_hourly AS
SELECT bucket, oblast, kind, points, people_inside_avg, people_inside_max, visits, capacity_people
FROM occupancy_oblast_hourly_stored
WHERE bucket < coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'occupancy_oblast_hourly'),
    '-infinity')
UNION ALL
SELECT
    o.bucket,
    p.oblast,
    p.kind,
    count(*) AS points,
    sum(o.people_inside_avg) AS people_inside_avg,
    sum(o.people_inside_max) AS people_inside_max,
    sum(o.visits_1h_last) AS visits,
    sum(p.capacity_people) AS capacity_people
FROM occupancy_point_hourly AS o
LEFT JOIN points AS p ON p.point_id = o.point_id
WHERE o.bucket >= coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'occupancy_oblast_hourly'),
    '-infinity')
GROUP BY 1, 2, 3;

CREATE VIEW telemetry_oblast_daily AS
SELECT day, oblast, generators, generator_hours, fuel_points, fuel_burned_l
FROM telemetry_oblast_daily_stored
WHERE day < coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_oblast_daily'),
    '-infinity')
UNION ALL
SELECT
    time_bucket(INTERVAL '1 day', h.bucket) AS day,
    p.oblast,
    count(DISTINCT h.point_id) FILTER (WHERE h.running_readings > 0) AS generators,
    sum(h.running_readings::numeric / h.readings) AS generator_hours,
    count(DISTINCT h.point_id)
        FILTER (WHERE h.running_readings > 0 AND h.fuel_first IS NOT NULL) AS fuel_points,
    sum(
        CASE
            WHEN h.fuel_last <= h.fuel_first THEN h.fuel_first - h.fuel_last
            ELSE (h.fuel_first - h.fuel_min) + (h.fuel_max - h.fuel_last)
        END
    ) FILTER (WHERE h.running_readings > 0 AND h.fuel_first IS NOT NULL) AS fuel_burned_l
FROM telemetry_hourly AS h
LEFT JOIN points AS p ON p.point_id = h.point_id
WHERE h.bucket >= coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_oblast_daily'),
    '-infinity')
GROUP BY 1, 2;

COMMENT ON VIEW occupancy_oblast_hourly IS
    'Per hour, oblast and kind: points with occupancy reports, sums of their mean and peak people inside, visits, capacity.';
COMMENT ON VIEW telemetry_oblast_daily IS
    'Per UTC day and oblast: generators that ran, generator hours, approximate litres burned.';

-- Migration 011's refresh, then the second level: the buckets the first level recomputed
-- (its lookback) or that were never stored, up to the first level's new watermark (whole days
-- for the daily rollup: the current day is read from the hourly rollup until it ends). Every
-- 15 minutes this reads about 3 hours of stored per-point hours, and after midnight the
-- previous day's (323,000 rows at national scale) until the lookback has passed it.
CREATE OR REPLACE FUNCTION refresh_hourly_rollups(lookback interval DEFAULT INTERVAL '3 hours')
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    upto timestamptz := time_bucket(INTERVAL '1 hour', now());
    since timestamptz;
    telemetry_since timestamptz;
    occupancy_since timestamptz;
    done timestamptz;
BEGIN
    -- One refresh at a time; a second caller waits rather than doubling the work.
    PERFORM pg_advisory_xact_lock(hashtext('refresh_hourly_rollups'));

    SELECT materialized_to - lookback INTO since
    FROM rollup_watermarks WHERE rollup = 'telemetry_hourly';
    IF since IS NULL THEN
        SELECT time_bucket(INTERVAL '1 hour', min(ts)) INTO since FROM telemetry;
    END IF;
    telemetry_since := since;
    IF since IS NOT NULL AND since < upto THEN
        DELETE FROM telemetry_hourly_stored WHERE bucket >= since AND bucket < upto;
        INSERT INTO telemetry_hourly_stored
        SELECT
            time_bucket(INTERVAL '1 hour', ts), point_id, count(*),
            count(*) FILTER (WHERE generator_running),
            (array_agg(fuel_level_l ORDER BY ts) FILTER (WHERE fuel_level_l IS NOT NULL))[1],
            (array_agg(fuel_level_l ORDER BY ts DESC) FILTER (WHERE fuel_level_l IS NOT NULL))[1],
            min(fuel_level_l), max(fuel_level_l)
        FROM telemetry
        WHERE ts >= since AND ts < upto
        GROUP BY 1, 2;
    END IF;
    INSERT INTO rollup_watermarks VALUES ('telemetry_hourly', upto)
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;

    SELECT materialized_to - lookback INTO since
    FROM rollup_watermarks WHERE rollup = 'occupancy_point_hourly';
    IF since IS NULL THEN
        SELECT time_bucket(INTERVAL '1 hour', min(ts)) INTO since FROM occupancy;
    END IF;
    occupancy_since := since;
    IF since IS NOT NULL AND since < upto THEN
        DELETE FROM occupancy_point_hourly_stored WHERE bucket >= since AND bucket < upto;
        INSERT INTO occupancy_point_hourly_stored
        SELECT
            time_bucket(INTERVAL '1 hour', ts), point_id, count(*),
            avg(people_inside)::double precision, max(people_inside),
            (array_agg(visits_1h ORDER BY ts DESC))[1]
        FROM occupancy
        WHERE ts >= since AND ts < upto
        GROUP BY 1, 2;
    END IF;
    INSERT INTO rollup_watermarks VALUES ('occupancy_point_hourly', upto)
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;

    -- Second level: per oblast and kind and hour, from the stored per-point hours.
    SELECT materialized_to INTO done
    FROM rollup_watermarks WHERE rollup = 'occupancy_oblast_hourly';
    IF done IS NULL THEN
        SELECT min(bucket) INTO since FROM occupancy_point_hourly_stored;
    ELSE
        since := least(done, time_bucket(INTERVAL '1 hour', occupancy_since));
    END IF;
    IF since IS NOT NULL AND since < upto THEN
        DELETE FROM occupancy_oblast_hourly_stored WHERE bucket >= since AND bucket < upto;
        INSERT INTO occupancy_oblast_hourly_stored
        SELECT
            o.bucket, p.oblast, p.kind, count(*), sum(o.people_inside_avg),
            sum(o.people_inside_max), sum(o.visits_1h_last), sum(p.capacity_people)
        FROM occupancy_point_hourly_stored AS o
        LEFT JOIN points AS p ON p.point_id = o.point_id
        WHERE o.bucket >= since AND o.bucket < upto
        GROUP BY 1, 2, 3;
    END IF;
    INSERT INTO rollup_watermarks VALUES ('occupancy_oblast_hourly', upto)
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;

    -- Second level: per oblast and UTC day, whole days only.
    SELECT materialized_to INTO done
    FROM rollup_watermarks WHERE rollup = 'telemetry_oblast_daily';
    IF done IS NULL THEN
        SELECT min(bucket) INTO since FROM telemetry_hourly_stored;
    ELSE
        since := least(done, telemetry_since);
    END IF;
    since := time_bucket(INTERVAL '1 day', since);
    IF since IS NOT NULL AND since < time_bucket(INTERVAL '1 day', upto) THEN
        DELETE FROM telemetry_oblast_daily_stored
        WHERE day >= since AND day < time_bucket(INTERVAL '1 day', upto);
        INSERT INTO telemetry_oblast_daily_stored
        SELECT
            time_bucket(INTERVAL '1 day', h.bucket), p.oblast,
            count(DISTINCT h.point_id) FILTER (WHERE h.running_readings > 0),
            sum(h.running_readings::numeric / h.readings),
            count(DISTINCT h.point_id)
                FILTER (WHERE h.running_readings > 0 AND h.fuel_first IS NOT NULL),
            sum(
                CASE
                    WHEN h.fuel_last <= h.fuel_first THEN h.fuel_first - h.fuel_last
                    ELSE (h.fuel_first - h.fuel_min) + (h.fuel_max - h.fuel_last)
                END
            ) FILTER (WHERE h.running_readings > 0 AND h.fuel_first IS NOT NULL)
        FROM telemetry_hourly_stored AS h
        LEFT JOIN points AS p ON p.point_id = h.point_id
        WHERE h.bucket >= since AND h.bucket < time_bucket(INTERVAL '1 day', upto)
        GROUP BY 1, 2;
    END IF;
    INSERT INTO rollup_watermarks VALUES ('telemetry_oblast_daily', time_bucket(INTERVAL '1 day', upto))
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;
END
$$;
COMMENT ON FUNCTION refresh_hourly_rollups(interval) IS
    'Plain mode: store the hourly rollups and the per-oblast ones up to the last complete hour (day) (run every 15 minutes).';

CREATE VIEW occupancy_hourly AS
SELECT
    bucket,
    oblast,
    sum(points)::bigint AS points,
    sum(people_inside_avg) AS people_inside_avg,
    sum(people_inside_max)::bigint AS people_inside_max,
    sum(visits)::bigint AS visits
FROM occupancy_oblast_hourly
GROUP BY bucket, oblast;
COMMENT ON VIEW occupancy_hourly IS 'Occupancy per hour and oblast, from the points'' occupancy reports.';
COMMENT ON COLUMN occupancy_hourly.people_inside_avg IS
    'People inside the oblast''s points on average over the hour (sum of per-point means).';
COMMENT ON COLUMN occupancy_hourly.people_inside_max IS
    'Sum of each point''s peak in the hour: an upper bound of the oblast''s simultaneous peak.';
COMMENT ON COLUMN occupancy_hourly.visits IS
    'Visits in the hour: each point''s last rolling visits_1h of the hour, summed.';

CREATE VIEW fuel_use_daily AS
SELECT day, oblast, fuel_points AS points, fuel_burned_l
FROM telemetry_oblast_daily
WHERE fuel_points > 0;
COMMENT ON VIEW fuel_use_daily IS
    'Approximate litres burned per UTC day and oblast (see docs/database.md, "Fuel burned").';
COMMENT ON COLUMN fuel_use_daily.points IS 'Points whose generator ran and reported a fuel level that day.';

-- Grafana's and the analysts' queries are short; their plans over the views above carry the
-- cost of a raw branch the planner cannot bound (the watermark is known only at run time), so
-- PostgreSQL's JIT compiles them: about 0.3 s of compiling for a 60-100 ms query (measured,
-- docs/database.md). Off for those two roles. Setting a role's defaults needs CREATEROLE, as
-- in migration 001; without it the DBA sets them (docs/operations.md).
DO $$
BEGIN
    IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        ALTER ROLE nezlam_reader SET jit = off;
        ALTER ROLE nezlam_analyst SET jit = off;
    END IF;
END
$$;
