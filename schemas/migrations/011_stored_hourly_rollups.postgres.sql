-- Plain PostgreSQL mode: the hourly per-point rollups stored, as TimescaleDB's continuous
-- aggregates are. Before this migration they were views computing every hour from raw rows on
-- every query (a full scan of telemetry and a spilling sort even for 6 hours; see
-- docs/database.md, "Read side at national scale").
--
-- Each rollup is a table of complete hours up to a watermark, filled by
-- refresh_hourly_rollups(), plus the raw rows from the watermark on: the view of the same name
-- unions both, so it answers exactly what the continuous aggregate with real-time aggregation
-- answers, refreshed or not (the tests that hold the panels' SQL on both modes run unrefreshed).

DROP VIEW fuel_use_daily;
DROP VIEW occupancy_hourly;
DROP VIEW telemetry_hourly;
DROP VIEW occupancy_point_hourly;

CREATE TABLE rollup_watermarks (
    rollup          text PRIMARY KEY,
    materialized_to timestamptz NOT NULL
);
COMMENT ON TABLE rollup_watermarks IS
    'Per stored rollup: hours before materialized_to are in its table, later ones come from raw rows.';

CREATE TABLE telemetry_hourly_stored (
    bucket           timestamptz NOT NULL,
    point_id         text NOT NULL,
    readings         bigint NOT NULL,
    running_readings bigint NOT NULL,
    fuel_first       double precision NULL,
    fuel_last        double precision NULL,
    fuel_min         double precision NULL,
    fuel_max         double precision NULL,
    PRIMARY KEY (bucket, point_id)
);

-- The raw branches read the rows since the watermark through the BRIN indexes on ts; a block
-- range appended since the last VACUUM is unsummarized and matches every query, so have
-- autovacuum summarize each range as it fills.
ALTER INDEX telemetry_ts_brin SET (autosummarize = on);
ALTER INDEX occupancy_ts_brin SET (autosummarize = on);

-- fuel_use_daily filters on the day of the bucket.
CREATE INDEX telemetry_hourly_stored_day_idx
    ON telemetry_hourly_stored (time_bucket(INTERVAL '1 day', bucket));

CREATE TABLE occupancy_point_hourly_stored (
    bucket            timestamptz NOT NULL,
    point_id          text NOT NULL,
    samples           bigint NOT NULL,
    people_inside_avg double precision NULL,
    people_inside_max integer NULL,
    visits_1h_last    integer NULL,
    PRIMARY KEY (bucket, point_id)
);

-- The raw branches bound ts directly (not time_bucket(ts)), so the BRIN index on ts limits
-- them to the rows since the watermark.
CREATE VIEW telemetry_hourly AS
SELECT bucket, point_id, readings, running_readings, fuel_first, fuel_last, fuel_min, fuel_max
FROM telemetry_hourly_stored
WHERE bucket < coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_hourly'),
    '-infinity')
UNION ALL
SELECT
    time_bucket(INTERVAL '1 hour', ts) AS bucket,
    point_id,
    count(*) AS readings,
    count(*) FILTER (WHERE generator_running) AS running_readings,
    (array_agg(fuel_level_l ORDER BY ts) FILTER (WHERE fuel_level_l IS NOT NULL))[1],
    (array_agg(fuel_level_l ORDER BY ts DESC) FILTER (WHERE fuel_level_l IS NOT NULL))[1],
    min(fuel_level_l),
    max(fuel_level_l)
FROM telemetry
WHERE ts >= coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_hourly'),
    '-infinity')
GROUP BY 1, 2;

CREATE VIEW occupancy_point_hourly AS
SELECT bucket, point_id, samples, people_inside_avg, people_inside_max, visits_1h_last
FROM occupancy_point_hourly_stored
WHERE bucket < coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'occupancy_point_hourly'),
    '-infinity')
UNION ALL
SELECT
    time_bucket(INTERVAL '1 hour', ts) AS bucket,
    point_id,
    count(*) AS samples,
    avg(people_inside)::double precision,
    max(people_inside),
    (array_agg(visits_1h ORDER BY ts DESC))[1]
FROM occupancy
WHERE ts >= coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'occupancy_point_hourly'),
    '-infinity')
GROUP BY 1, 2;

COMMENT ON VIEW occupancy_point_hourly IS
    'Per point and hour: occupancy samples, mean and peak people inside, last visits_1h.';
COMMENT ON VIEW telemetry_hourly IS
    'Per point and hour: readings, readings with the generator running, first/last/min/max fuel level.';

-- Recompute the hours from (watermark - lookback) to the last complete hour and move the
-- watermark there: late rows within the lookback are counted, as the continuous aggregates'
-- refresh window (3 days) counts them. The first call fills everything. Run it every 15
-- minutes (docs/database.md); each call reads only the raw rows of its window.
CREATE FUNCTION refresh_hourly_rollups(lookback interval DEFAULT INTERVAL '3 hours')
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    upto timestamptz := time_bucket(INTERVAL '1 hour', now());
    since timestamptz;
BEGIN
    -- One refresh at a time; a second caller waits rather than doubling the work.
    PERFORM pg_advisory_xact_lock(hashtext('refresh_hourly_rollups'));

    SELECT materialized_to - lookback INTO since
    FROM rollup_watermarks WHERE rollup = 'telemetry_hourly';
    IF since IS NULL THEN
        SELECT time_bucket(INTERVAL '1 hour', min(ts)) INTO since FROM telemetry;
    END IF;
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
END
$$;
COMMENT ON FUNCTION refresh_hourly_rollups(interval) IS
    'Plain mode: store the hourly rollups up to the last complete hour (run every 15 minutes).';
REVOKE ALL ON FUNCTION refresh_hourly_rollups(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_hourly_rollups(interval) TO nezlam_writer;
CREATE VIEW occupancy_hourly AS
SELECT
    o.bucket,
    p.oblast,
    count(DISTINCT o.point_id) AS points,
    sum(o.people_inside_avg) AS people_inside_avg,
    sum(o.people_inside_max) AS people_inside_max,
    sum(o.visits_1h_last) AS visits
FROM occupancy_point_hourly AS o
LEFT JOIN points AS p USING (point_id)
GROUP BY o.bucket, p.oblast;
COMMENT ON VIEW occupancy_hourly IS 'Occupancy per hour and oblast, from the points'' occupancy reports.';
COMMENT ON COLUMN occupancy_hourly.people_inside_avg IS
    'People inside the oblast''s points on average over the hour (sum of per-point means).';
COMMENT ON COLUMN occupancy_hourly.people_inside_max IS
    'Sum of each point''s peak in the hour: an upper bound of the oblast''s simultaneous peak.';
COMMENT ON COLUMN occupancy_hourly.visits IS
    'Visits in the hour: each point''s last rolling visits_1h of the hour, summed.';

-- Fuel burned per UTC day and oblast. Per point and hour in which the generator ran:
-- first - last when the level did not rise; otherwise a refuel happened inside the hour and
-- the burn is the fall before the low point plus the fall after the high point. Hours with
-- the generator off count nothing, so sensor noise on an idle tank adds no burn.
CREATE VIEW fuel_use_daily AS
SELECT
    time_bucket(INTERVAL '1 day', h.bucket) AS day,
    p.oblast,
    count(DISTINCT h.point_id) AS points,
    sum(
        CASE
            WHEN h.fuel_last <= h.fuel_first THEN h.fuel_first - h.fuel_last
            ELSE (h.fuel_first - h.fuel_min) + (h.fuel_max - h.fuel_last)
        END
    ) AS fuel_burned_l
FROM telemetry_hourly AS h
LEFT JOIN points AS p USING (point_id)
WHERE h.fuel_first IS NOT NULL AND h.running_readings > 0
GROUP BY 1, 2;
COMMENT ON VIEW fuel_use_daily IS
    'Approximate litres burned per UTC day and oblast (see docs/database.md, "Fuel burned").';
COMMENT ON COLUMN fuel_use_daily.points IS 'Points whose generator ran and reported a fuel level that day.';
