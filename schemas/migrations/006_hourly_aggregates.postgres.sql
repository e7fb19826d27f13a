-- Plain PostgreSQL mode: the hourly per-point rollups as plain views with the same columns
-- as the TimescaleDB continuous aggregates (first/last are TimescaleDB functions, so the
-- first and last non-null readings come from ordered array_agg).

CREATE VIEW occupancy_point_hourly AS
SELECT
    time_bucket(INTERVAL '1 hour', ts) AS bucket,
    point_id,
    count(*) AS samples,
    avg(people_inside)::double precision AS people_inside_avg,
    max(people_inside) AS people_inside_max,
    (array_agg(visits_1h ORDER BY ts DESC))[1] AS visits_1h_last
FROM occupancy
GROUP BY 1, 2;

CREATE VIEW telemetry_hourly AS
SELECT
    time_bucket(INTERVAL '1 hour', ts) AS bucket,
    point_id,
    count(*) AS readings,
    count(*) FILTER (WHERE generator_running) AS running_readings,
    (array_agg(fuel_level_l ORDER BY ts) FILTER (WHERE fuel_level_l IS NOT NULL))[1]
        AS fuel_first,
    (array_agg(fuel_level_l ORDER BY ts DESC) FILTER (WHERE fuel_level_l IS NOT NULL))[1]
        AS fuel_last,
    min(fuel_level_l) AS fuel_min,
    max(fuel_level_l) AS fuel_max
FROM telemetry
GROUP BY 1, 2;
