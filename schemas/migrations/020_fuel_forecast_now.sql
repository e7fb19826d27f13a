-- Each point's latest fuel forecast, kept as rows arrive, as 013 keeps the latest report.
--
-- The refuel plan (refuel_plan) and the panels built on latest_forecasts looked each point's
-- latest forecast up in fuel_forecast: 13,464 backward probes, and since the daily partitions
-- of 016 one per partition the lookup could not prune (the next 7 days are created ahead, and
-- the default partition): at 7 days of national history the refuel plan took 1.9 s (9.3 s
-- cold) and "Hours to empty" 0.5 s. Kept by a trigger like 013's, so every way rows arrive
-- leaves the same state, in both modes; the writer has no grant on the table.

CREATE TABLE fuel_forecast_now (
    point_id          text PRIMARY KEY,
    ts                timestamptz NOT NULL,
    fuel_level_l      double precision NULL,
    burn_rate_lph     double precision NULL,
    hours_to_empty    double precision NULL,
    empty_at          timestamptz NULL,
    confidence        double precision NULL,
    generator_running boolean NOT NULL,
    refuel_detected   boolean NOT NULL
);
COMMENT ON TABLE fuel_forecast_now IS
    'Each point''s latest fuel forecast (kept by a trigger on fuel_forecast).';
REVOKE INSERT ON fuel_forecast_now FROM nezlam_writer;

CREATE FUNCTION keep_fuel_forecast_now() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO fuel_forecast_now VALUES (
        NEW.point_id, NEW.ts, NEW.fuel_level_l, NEW.burn_rate_lph, NEW.hours_to_empty,
        NEW.empty_at, NEW.confidence, NEW.generator_running, NEW.refuel_detected)
    ON CONFLICT (point_id) DO UPDATE SET
        ts = excluded.ts, fuel_level_l = excluded.fuel_level_l,
        burn_rate_lph = excluded.burn_rate_lph, hours_to_empty = excluded.hours_to_empty,
        empty_at = excluded.empty_at, confidence = excluded.confidence,
        generator_running = excluded.generator_running,
        refuel_detected = excluded.refuel_detected
    -- <=: the sink's upsert restates a moment (a replayed forecast); a late one changes nothing.
    WHERE fuel_forecast_now.ts <= excluded.ts;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION keep_fuel_forecast_now() FROM PUBLIC;
CREATE TRIGGER keep_fuel_forecast_now AFTER INSERT OR UPDATE ON fuel_forecast
    FOR EACH ROW EXECUTE FUNCTION keep_fuel_forecast_now();

-- 018's rebuild, and the forecasts the same way.
CREATE OR REPLACE FUNCTION rebuild_current_state() RETURNS void
    LANGUAGE sql SET search_path = public, pg_temp
AS $$
    TRUNCATE telemetry_now, occupancy_now, fuel_forecast_now, alert_state;
    -- Every point_id with a report, one key probe each (a skip scan: PostgreSQL 15 has none),
    -- then its latest row, one backward probe.
    INSERT INTO telemetry_now
    WITH RECURSIVE ids (point_id) AS (
        (SELECT point_id FROM telemetry ORDER BY point_id LIMIT 1)
        UNION ALL
        SELECT (SELECT t.point_id FROM telemetry AS t WHERE t.point_id > ids.point_id
                ORDER BY t.point_id LIMIT 1)
        FROM ids WHERE ids.point_id IS NOT NULL
    )
    SELECT latest.*
    FROM ids CROSS JOIN LATERAL (
        SELECT t.point_id, t.ts, t.status, t.power, t.generator_running, t.fuel_level_l,
            t.heating_on, t.internet_up, t.indoor_temp_c, t.headcount
        FROM telemetry AS t WHERE t.point_id = ids.point_id ORDER BY t.ts DESC LIMIT 1
    ) AS latest;
    INSERT INTO occupancy_now
    WITH RECURSIVE ids (point_id) AS (
        (SELECT point_id FROM occupancy ORDER BY point_id LIMIT 1)
        UNION ALL
        SELECT (SELECT o.point_id FROM occupancy AS o WHERE o.point_id > ids.point_id
                ORDER BY o.point_id LIMIT 1)
        FROM ids WHERE ids.point_id IS NOT NULL
    )
    SELECT latest.*
    FROM ids CROSS JOIN LATERAL (
        SELECT o.point_id, o.ts, o.people_inside, o.visits_15m, o.visits_1h, o.visits_24h,
            o.utilisation
        FROM occupancy AS o WHERE o.point_id = ids.point_id ORDER BY o.ts DESC LIMIT 1
    ) AS latest;
    INSERT INTO fuel_forecast_now
    WITH RECURSIVE ids (point_id) AS (
        (SELECT point_id FROM fuel_forecast ORDER BY point_id LIMIT 1)
        UNION ALL
        SELECT (SELECT f.point_id FROM fuel_forecast AS f WHERE f.point_id > ids.point_id
                ORDER BY f.point_id LIMIT 1)
        FROM ids WHERE ids.point_id IS NOT NULL
    )
    SELECT latest.*
    FROM ids CROSS JOIN LATERAL (
        SELECT f.point_id, f.ts, f.fuel_level_l, f.burn_rate_lph, f.hours_to_empty, f.empty_at,
            f.confidence, f.generator_running, f.refuel_detected
        FROM fuel_forecast AS f WHERE f.point_id = ids.point_id ORDER BY f.ts DESC LIMIT 1
    ) AS latest;
    -- Alert events are few (a year of them is a few hundred MB): one pass.
    INSERT INTO alert_state
    SELECT DISTINCT ON (fingerprint)
        fingerprint, ts, status, alertname, severity, point_id, oblast, point_kind, summary,
        labels, annotations
    FROM alert_events ORDER BY fingerprint, ts DESC, (status = 'resolved') DESC;
$$;
SELECT rebuild_current_state();

-- The refuel plan keeps its name and columns and reads the kept forecasts.
CREATE OR REPLACE VIEW refuel_plan AS
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
JOIN fuel_forecast_now AS f ON f.point_id = p.point_id
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
