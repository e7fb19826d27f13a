-- TimescaleDB mode: the second level of rollup, per oblast (and kind) over the hourly
-- per-point continuous aggregates of migration 006: hierarchical continuous aggregates.
-- The panels and analyst queries that show days (fuel burned per day, occupancy by oblast over
-- 7 days, generator hours) read 1,800 or 25 rows a day here instead of 323,000 per-point
-- hours (docs/database.md, "Read side at national scale").
-- The same relations, columns and answers as 015_oblast_rollups.postgres.sql.
--
-- The points' oblast, kind and capacity are joined when a bucket is materialized: a point
-- that changes oblast later stays under the old one for the hours already stored (as it
-- reported then); a point missing from the registry counts under oblast and kind NULL.

DROP VIEW fuel_use_daily;
DROP VIEW occupancy_hourly;

CREATE MATERIALIZED VIEW occupancy_oblast_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket(INTERVAL '1 hour', o.bucket) AS bucket,
    p.oblast,
    p.kind,
    count(*) AS points,
    sum(o.people_inside_avg) AS people_inside_avg,
    sum(o.people_inside_max) AS people_inside_max,
    sum(o.visits_1h_last) AS visits,
    sum(p.capacity_people) AS capacity_people
FROM occupancy_point_hourly AS o
LEFT JOIN points AS p ON p.point_id = o.point_id
GROUP BY 1, 2, 3
WITH NO DATA;

CREATE MATERIALIZED VIEW telemetry_oblast_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
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
GROUP BY 1, 2
WITH NO DATA;

-- The same window as the hourly aggregates below them (migration 006): late rows of the last
-- 3 days reach both levels. A level is refreshed from the one below's materialized buckets.
SELECT add_continuous_aggregate_policy('occupancy_oblast_hourly',
    start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');
SELECT add_continuous_aggregate_policy('telemetry_oblast_daily',
    start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');

COMMENT ON VIEW occupancy_oblast_hourly IS
    'Per hour, oblast and kind: points with occupancy reports, sums of their mean and peak people inside, visits, capacity.';
COMMENT ON VIEW telemetry_oblast_daily IS
    'Per UTC day and oblast: generators that ran, generator hours, approximate litres burned.';

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
