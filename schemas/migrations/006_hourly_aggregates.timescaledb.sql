-- TimescaleDB mode: hourly per-point rollups as continuous aggregates. Created WITH NO DATA,
-- which is what allows them inside the migration's transaction; the refresh policies fill
-- them. materialized_only = false (real-time aggregation) adds the not yet materialized
-- recent hours from the raw tables, so dashboards see the current hour.
-- The columns match 006_hourly_aggregates.postgres.sql exactly.

CREATE MATERIALIZED VIEW occupancy_point_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket(INTERVAL '1 hour', ts) AS bucket,
    point_id,
    count(*) AS samples,
    avg(people_inside)::double precision AS people_inside_avg,
    max(people_inside) AS people_inside_max,
    last(visits_1h, ts) AS visits_1h_last
FROM occupancy
GROUP BY 1, 2
WITH NO DATA;

CREATE MATERIALIZED VIEW telemetry_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket(INTERVAL '1 hour', ts) AS bucket,
    point_id,
    count(*) AS readings,
    count(*) FILTER (WHERE generator_running) AS running_readings,
    first(fuel_level_l, ts) FILTER (WHERE fuel_level_l IS NOT NULL) AS fuel_first,
    last(fuel_level_l, ts) FILTER (WHERE fuel_level_l IS NOT NULL) AS fuel_last,
    min(fuel_level_l) AS fuel_min,
    max(fuel_level_l) AS fuel_max
FROM telemetry
GROUP BY 1, 2
WITH NO DATA;

-- Refresh the last three days every 15 minutes, up to the last complete hour; the window
-- stays far inside the raw tables' 90-day retention, so dropped chunks never empty a bucket.
SELECT add_continuous_aggregate_policy('occupancy_point_hourly',
    start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');
SELECT add_continuous_aggregate_policy('telemetry_hourly',
    start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');
