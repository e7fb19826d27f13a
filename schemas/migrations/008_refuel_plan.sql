-- The refuel plan: the list a dispatcher sends fuel trucks from (`nezlam refuel-plan`, Grafana).
-- The same SQL in both modes.

-- How long a fuel delivery takes, per oblast and point kind ('*' = any). The alert rules file
-- (config/alert_rules.yaml) is the source: the worker writes its resolved values here at start
-- (streams.refuel_plan.sync_lead_times), so the plan and the fuel alerts count with the same
-- lead times. The seed row is the shipped default, in force until the first sync.
CREATE TABLE fuel_lead_times (
    oblast text NOT NULL DEFAULT '*',
    kind   text NOT NULL DEFAULT '*',
    hours  double precision NOT NULL CHECK (hours > 0),
    PRIMARY KEY (oblast, kind)
);
COMMENT ON TABLE fuel_lead_times IS
    'Fuel-delivery lead time in hours per oblast and point kind (''*'' = any), from the alert rules file.';
INSERT INTO fuel_lead_times (oblast, kind, hours) VALUES ('*', '*', 6);
-- The sync replaces the whole table in one transaction, hence DELETE.
GRANT SELECT, INSERT, UPDATE, DELETE ON fuel_lead_times TO nezlam_writer;

-- The lead time of a point: the most specific row (oblast before kind), else 6 h.
CREATE FUNCTION nezlam_fuel_lead_time_hours(point_kind text, point_oblast text)
    RETURNS double precision
    LANGUAGE sql
    STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(
        (
            SELECT l.hours
            FROM fuel_lead_times AS l
            WHERE l.oblast IN (point_oblast, '*') AND l.kind IN (point_kind, '*')
            ORDER BY l.oblast = '*', l.kind = '*'
            LIMIT 1
        ),
        6.0
    )
$$;
COMMENT ON FUNCTION nezlam_fuel_lead_time_hours(text, text) IS
    'Fuel-delivery lead time in hours for a point of this kind in this oblast (table fuel_lead_times).';

-- One row per point with a generator forecast, most urgent first. hours_to_empty counts from
-- now while the generator runs (empty_at - now(), so a forecast that went stale still counts
-- down), otherwise it is the running hours left. hours_until_refuel_due = hours_to_empty minus
-- the lead time: below 0, a truck should already be on its way.
CREATE VIEW refuel_plan AS
SELECT
    p.point_id,
    p.name,
    p.oblast,
    p.hromada,
    p.kind,
    p.lat,
    p.lon,
    p.fuel_tank_l,
    f.fuel_level_l,
    greatest(p.fuel_tank_l - f.fuel_level_l, 0) AS litres_to_fill,
    f.burn_rate_lph,
    h.hours_to_empty,
    f.empty_at,
    h.hours_to_empty - l.lead_time_hours AS hours_until_refuel_due,
    f.ts AS last_reading_at,
    l.lead_time_hours,
    f.generator_running,
    f.confidence
FROM points AS p
JOIN LATERAL (
    SELECT
        ff.ts, ff.fuel_level_l, ff.burn_rate_lph, ff.hours_to_empty, ff.empty_at,
        ff.confidence, ff.generator_running
    FROM fuel_forecast AS ff
    WHERE ff.point_id = p.point_id
    ORDER BY ff.ts DESC
    LIMIT 1
) AS f ON true
CROSS JOIN LATERAL (
    SELECT nezlam_fuel_lead_time_hours(p.kind, p.oblast) AS lead_time_hours
) AS l
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN f.generator_running AND f.empty_at IS NOT NULL
            THEN greatest(extract(epoch FROM f.empty_at - now()) / 3600, 0)::double precision
        ELSE f.hours_to_empty
    END AS hours_to_empty
) AS h
WHERE p.fuel_tank_l > 0
ORDER BY hours_until_refuel_due ASC NULLS LAST, litres_to_fill DESC, p.point_id;
COMMENT ON VIEW refuel_plan IS
    'Points with a generator, most urgent refuel first: hours_until_refuel_due = hours_to_empty - lead time.';
