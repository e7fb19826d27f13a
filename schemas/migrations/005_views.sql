-- Views over the raw tables, the same in both modes. Only functions that exist in both
-- modes are used (time_bucket: the extension's or migration 002's).

-- One row per registered point with its latest report. The lateral subquery walks the
-- (point_id, ts) primary key backwards, one index probe per point.
CREATE VIEW point_status AS
SELECT
    p.point_id,
    p.name,
    p.kind,
    p.oblast,
    p.hromada,
    p.lat,
    p.lon,
    p.capacity_people,
    p.fuel_tank_l,
    t.ts AS last_seen,
    t.status,
    t.power,
    t.generator_running,
    t.fuel_level_l,
    t.heating_on,
    t.internet_up,
    t.indoor_temp_c,
    t.headcount
FROM points AS p
LEFT JOIN LATERAL (
    SELECT
        tl.ts, tl.status, tl.power, tl.generator_running, tl.fuel_level_l, tl.heating_on,
        tl.internet_up, tl.indoor_temp_c, tl.headcount
    FROM telemetry AS tl
    WHERE tl.point_id = p.point_id
    ORDER BY tl.ts DESC
    LIMIT 1
) AS t ON true;
COMMENT ON VIEW point_status IS
    'Each registered point with its latest telemetry (last_seen NULL: never reported).';

-- The latest event of every alert, when that event is not a resolution. Of two events with
-- the same ts, a resolution counts as the later one.
CREATE VIEW alerts_active AS
SELECT
    e.fingerprint, e.ts, e.status, e.alertname, e.severity, e.point_id, e.oblast,
    e.point_kind, e.summary, e.labels, e.annotations
FROM (
    SELECT DISTINCT ON (fingerprint) *
    FROM alert_events
    ORDER BY fingerprint, ts DESC, (status = 'resolved') DESC
) AS e
WHERE e.status <> 'resolved';
COMMENT ON VIEW alerts_active IS 'Alerts firing now: the latest event per fingerprint, unless resolved.';

-- Arrivals per UTC day and oblast. Points missing from the registry count under oblast NULL
-- rather than vanish.
CREATE VIEW visits_daily AS
SELECT
    time_bucket(INTERVAL '1 day', v.ts) AS day,
    p.oblast,
    count(*) AS arrivals,
    sum(v.people) AS people
FROM visits AS v
LEFT JOIN points AS p USING (point_id)
WHERE v.kind = 'arrival'
GROUP BY 1, 2;
COMMENT ON VIEW visits_daily IS 'Arrival events and people arriving per UTC day and oblast.';
