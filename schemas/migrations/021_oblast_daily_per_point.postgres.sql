-- Fuel burned per day (fuel_use_daily over telemetry_oblast_daily) read the current UTC day
-- from the per-point hours at query time, counting each oblast's generators with
-- count(DISTINCT point_id): a sort of every point-hour of the day by oblast (269,274 rows at
-- 20:00 UTC nationally, spilled to disk at work_mem 4MB) and a key probe into points per row,
-- 792 ms at 7 days of national history (docs/database.md). The same answer in two steps:
-- each point's day to begin with (13,464 groups, hashed in memory), then the oblast's day from those,
-- where counting points needs no DISTINCT. The stored days (015) are unchanged.
CREATE OR REPLACE VIEW telemetry_oblast_daily AS
SELECT day, oblast, generators, generator_hours, fuel_points, fuel_burned_l
FROM telemetry_oblast_daily_stored
WHERE day < coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_oblast_daily'),
    '-infinity')
UNION ALL
SELECT
    d.day,
    p.oblast,
    count(*) FILTER (WHERE d.ran) AS generators,
    sum(d.generator_hours) AS generator_hours,
    count(*) FILTER (WHERE d.fuel_counted) AS fuel_points,
    sum(d.fuel_burned_l) AS fuel_burned_l
FROM (
    SELECT
        time_bucket(INTERVAL '1 day', h.bucket) AS day,
        h.point_id,
        bool_or(h.running_readings > 0) AS ran,
        sum(h.running_readings::numeric / h.readings) AS generator_hours,
        bool_or(h.running_readings > 0 AND h.fuel_first IS NOT NULL) AS fuel_counted,
        sum(
            CASE
                WHEN h.fuel_last <= h.fuel_first THEN h.fuel_first - h.fuel_last
                ELSE (h.fuel_first - h.fuel_min) + (h.fuel_max - h.fuel_last)
            END
        ) FILTER (WHERE h.running_readings > 0 AND h.fuel_first IS NOT NULL) AS fuel_burned_l
    FROM telemetry_hourly AS h
    WHERE h.bucket >= coalesce(
        (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_oblast_daily'),
        '-infinity')
    GROUP BY 1, 2
) AS d
LEFT JOIN points AS p ON p.point_id = d.point_id
GROUP BY 1, 2;
