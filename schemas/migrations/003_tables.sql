-- The pipeline's tables (column names are the contract in notes/db_spec.md). Natural keys
-- are the primary keys, so the sink's replays (at-least-once delivery) are
-- INSERT ... ON CONFLICT DO NOTHING no-ops. Every key of a time-series table contains ts,
-- which hypertables require. No foreign keys to points: telemetry may arrive before a point's
-- registry entry, and the ingest must not reject it.

CREATE TABLE points (
    point_id        text PRIMARY KEY,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('permanent', 'standby', 'mobile')),
    oblast          text NOT NULL,
    hromada         text NOT NULL,
    lat             double precision NOT NULL,
    lon             double precision NOT NULL,
    capacity_people integer NOT NULL,
    fuel_tank_l     double precision NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE points IS 'Master data of each Invincibility Point (topic points.registry).';

CREATE TABLE telemetry (
    point_id          text NOT NULL,
    ts                timestamptz NOT NULL,
    status            text NOT NULL,
    power             text NOT NULL,
    generator_running boolean NOT NULL,
    fuel_level_l      double precision NULL,
    heating_on        boolean NULL,
    internet_up       boolean NULL,
    indoor_temp_c     double precision NULL,
    headcount         integer NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (point_id, ts)
);
COMMENT ON TABLE telemetry IS 'Periodic reports of each point (topic points.telemetry).';

CREATE TABLE visits (
    event_id text NOT NULL,
    point_id text NOT NULL,
    ts       timestamptz NOT NULL,
    kind     text NOT NULL,
    people   integer NOT NULL,
    PRIMARY KEY (event_id, ts)
);
CREATE INDEX visits_point_id_ts_idx ON visits (point_id, ts DESC);
COMMENT ON TABLE visits IS 'People arriving at or leaving a point (topic points.visits).';

CREATE TABLE activations (
    point_id     text NOT NULL,
    ts           timestamptz NOT NULL,
    action       text NOT NULL,
    requested_by text NOT NULL,
    PRIMARY KEY (point_id, ts, action)
);
COMMENT ON TABLE activations IS 'Orders to open or stand down a standby point (topic points.activations).';

CREATE TABLE occupancy (
    point_id      text NOT NULL,
    ts            timestamptz NOT NULL,
    people_inside integer NOT NULL,
    visits_15m    integer NOT NULL,
    visits_1h     integer NOT NULL,
    visits_24h    integer NOT NULL,
    utilisation   double precision NULL,
    PRIMARY KEY (point_id, ts)
);
COMMENT ON TABLE occupancy IS 'Rolling occupancy per point computed by the pipeline (topic points.occupancy).';

CREATE TABLE fuel_forecast (
    point_id          text NOT NULL,
    ts                timestamptz NOT NULL,
    fuel_level_l      double precision NULL,
    burn_rate_lph     double precision NULL,
    hours_to_empty    double precision NULL,
    empty_at          timestamptz NULL,
    confidence        double precision NULL,
    generator_running boolean NOT NULL,
    refuel_detected   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (point_id, ts)
);
COMMENT ON TABLE fuel_forecast IS 'Fuel-depletion forecast per generator (topic points.fuel_forecast).';

CREATE TABLE alert_events (
    fingerprint text NOT NULL,
    ts          timestamptz NOT NULL,
    status      text NOT NULL CHECK (status IN ('firing', 'updated', 'resolved')),
    alertname   text NOT NULL,
    severity    text NOT NULL,
    point_id    text NOT NULL,
    oblast      text NULL,
    point_kind  text NULL,
    summary     text NOT NULL,
    labels      jsonb NOT NULL DEFAULT '{}',
    annotations jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (fingerprint, ts, status)
);
CREATE INDEX alert_events_point_id_ts_idx ON alert_events (point_id, ts DESC);
COMMENT ON TABLE alert_events IS 'Every state change of every alert the pipeline raised (topic alerts).';

-- Spelled out although 001's default privileges already cover them: this is the writer's
-- whole write surface. Readers get SELECT through the default privileges.
GRANT SELECT, INSERT, UPDATE
    ON points, telemetry, visits, activations, occupancy, fuel_forecast, alert_events
    TO nezlam_writer;
