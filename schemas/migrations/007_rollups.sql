-- Per-oblast rollups over the hourly per-point aggregates of migration 006 (continuous
-- aggregates or plain views, by mode); the same SQL in both modes. Points missing from the
-- registry count under oblast NULL rather than vanish.

COMMENT ON VIEW occupancy_point_hourly IS
    'Per point and hour: occupancy samples, mean and peak people inside, last visits_1h.';
COMMENT ON VIEW telemetry_hourly IS
    'Per point and hour: readings, readings with the generator running, first/last/min/max fuel level.';

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
