-- The current state per point and per alert, kept as rows arrive, so the "now" panels and
-- alerts_active read one row per point or alert instead of looking the latest one up in the
-- history: point_status did 13,464 latest-row probes into telemetry (and points_now as many
-- into occupancy), about 200 ms per panel; alerts_active sorted every alert event kept (a
-- year). See docs/database.md, "Read side at national scale".
--
-- Kept by triggers on the history tables rather than by the sink, so every way rows arrive
-- (the worker's sink, a replay, kcat, a bulk load) leaves the same state, in both modes. The
-- trigger functions run as the schema owner (SECURITY DEFINER): the writer inserts history as
-- before and has no grant on the state tables; the reader and the analyst only SELECT them.
-- Row-level, because TimescaleDB hypertables take no transition tables: one small upsert per
-- row inserted (an index probe and, for the newest report, an update in place).

CREATE TABLE telemetry_now (
    point_id          text PRIMARY KEY,
    ts                timestamptz NOT NULL,
    status            text NOT NULL,
    power             text NOT NULL,
    generator_running boolean NOT NULL,
    fuel_level_l      double precision NULL,
    heating_on        boolean NULL,
    internet_up       boolean NULL,
    indoor_temp_c     double precision NULL,
    headcount         integer NULL
);
COMMENT ON TABLE telemetry_now IS 'Each point''s latest report (kept by a trigger on telemetry).';

CREATE TABLE occupancy_now (
    point_id      text PRIMARY KEY,
    ts            timestamptz NOT NULL,
    people_inside integer NOT NULL,
    visits_15m    integer NOT NULL,
    visits_1h     integer NOT NULL,
    visits_24h    integer NOT NULL,
    utilisation   double precision NULL
);
COMMENT ON TABLE occupancy_now IS 'Each point''s latest occupancy (kept by a trigger on occupancy).';

CREATE TABLE alert_state (
    fingerprint text PRIMARY KEY,
    ts          timestamptz NOT NULL,
    status      text NOT NULL,
    alertname   text NOT NULL,
    severity    text NOT NULL,
    point_id    text NOT NULL,
    oblast      text NULL,
    point_kind  text NULL,
    summary     text NOT NULL,
    labels      jsonb NOT NULL,
    annotations jsonb NOT NULL
);
COMMENT ON TABLE alert_state IS
    'Each alert''s latest event (kept by a trigger on alert_events; a resolution wins a tie).';
-- alerts_active reads the ones not resolved.
CREATE INDEX alert_state_open_idx ON alert_state (ts) WHERE status <> 'resolved';

-- Only the trigger functions write them (009's default privileges would let the writer INSERT).
REVOKE INSERT ON telemetry_now, occupancy_now, alert_state FROM nezlam_writer;

CREATE FUNCTION keep_telemetry_now() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO telemetry_now VALUES (
        NEW.point_id, NEW.ts, NEW.status, NEW.power, NEW.generator_running, NEW.fuel_level_l,
        NEW.heating_on, NEW.internet_up, NEW.indoor_temp_c, NEW.headcount)
    ON CONFLICT (point_id) DO UPDATE SET
        ts = excluded.ts, status = excluded.status, power = excluded.power,
        generator_running = excluded.generator_running, fuel_level_l = excluded.fuel_level_l,
        heating_on = excluded.heating_on, internet_up = excluded.internet_up,
        indoor_temp_c = excluded.indoor_temp_c, headcount = excluded.headcount
    -- A late report (older than the one kept) changes nothing.
    WHERE telemetry_now.ts < excluded.ts;
    RETURN NULL;
END
$$;

CREATE FUNCTION keep_occupancy_now() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO occupancy_now VALUES (
        NEW.point_id, NEW.ts, NEW.people_inside, NEW.visits_15m, NEW.visits_1h,
        NEW.visits_24h, NEW.utilisation)
    ON CONFLICT (point_id) DO UPDATE SET
        ts = excluded.ts, people_inside = excluded.people_inside,
        visits_15m = excluded.visits_15m, visits_1h = excluded.visits_1h,
        visits_24h = excluded.visits_24h, utilisation = excluded.utilisation
    -- <=: the sink restates a moment with more visits applied (an upsert of occupancy).
    WHERE occupancy_now.ts <= excluded.ts;
    RETURN NULL;
END
$$;

CREATE FUNCTION keep_alert_state() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO alert_state VALUES (
        NEW.fingerprint, NEW.ts, NEW.status, NEW.alertname, NEW.severity, NEW.point_id,
        NEW.oblast, NEW.point_kind, NEW.summary, NEW.labels, NEW.annotations)
    ON CONFLICT (fingerprint) DO UPDATE SET
        ts = excluded.ts, status = excluded.status, alertname = excluded.alertname,
        severity = excluded.severity, point_id = excluded.point_id, oblast = excluded.oblast,
        point_kind = excluded.point_kind, summary = excluded.summary,
        labels = excluded.labels, annotations = excluded.annotations
    -- The later event wins; of two at the same moment, the resolution (as alerts_active
    -- always ordered them).
    WHERE (alert_state.ts, alert_state.status = 'resolved')
        < (excluded.ts, excluded.status = 'resolved');
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION keep_telemetry_now(), keep_occupancy_now(), keep_alert_state() FROM PUBLIC;

CREATE TRIGGER keep_telemetry_now AFTER INSERT ON telemetry
    FOR EACH ROW EXECUTE FUNCTION keep_telemetry_now();
CREATE TRIGGER keep_occupancy_now AFTER INSERT OR UPDATE ON occupancy
    FOR EACH ROW EXECUTE FUNCTION keep_occupancy_now();
CREATE TRIGGER keep_alert_state AFTER INSERT ON alert_events
    FOR EACH ROW EXECUTE FUNCTION keep_alert_state();

-- Rebuild the three from the history: here for the rows already kept, and after a bulk load
-- that ran with the triggers disabled (bench history). The owner's only.
CREATE FUNCTION rebuild_current_state() RETURNS void
    LANGUAGE sql SET search_path = public, pg_temp
AS $$
    TRUNCATE telemetry_now, occupancy_now, alert_state;
    INSERT INTO telemetry_now
    SELECT DISTINCT ON (point_id)
        point_id, ts, status, power, generator_running, fuel_level_l, heating_on,
        internet_up, indoor_temp_c, headcount
    FROM telemetry ORDER BY point_id, ts DESC;
    INSERT INTO occupancy_now
    SELECT DISTINCT ON (point_id)
        point_id, ts, people_inside, visits_15m, visits_1h, visits_24h, utilisation
    FROM occupancy ORDER BY point_id, ts DESC;
    INSERT INTO alert_state
    SELECT DISTINCT ON (fingerprint)
        fingerprint, ts, status, alertname, severity, point_id, oblast, point_kind, summary,
        labels, annotations
    FROM alert_events ORDER BY fingerprint, ts DESC, (status = 'resolved') DESC;
$$;
REVOKE ALL ON FUNCTION rebuild_current_state() FROM PUBLIC;
SELECT rebuild_current_state();

-- The views keep their names and columns (dashboards and analysts read them) and now read
-- the state tables.
CREATE OR REPLACE VIEW point_status AS
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
LEFT JOIN telemetry_now AS t USING (point_id);

CREATE OR REPLACE VIEW alerts_active AS
SELECT
    fingerprint, ts, status, alertname, severity, point_id, oblast, point_kind, summary,
    labels, annotations
FROM alert_state
WHERE status <> 'resolved';
