-- Least privilege: each role gets exactly what it uses, nothing by accident.
--
--   nezlam_writer   (workers)  SELECT everywhere; INSERT into the tables the sink fills; UPDATE
--                              only where the sink upserts (points: its non-key columns;
--                              occupancy);
--                              DELETE only on fuel_lead_times (replaced whole at start).
--                              telemetry, visits, activations, fuel_forecast and alert_events are
--                              append-only: no UPDATE, no DELETE.
--   nezlam_reader   (Grafana)  SELECT.
--   nezlam_analyst  (SQL)      SELECT.
--   the schema owner (nezlam_owner, the role that runs the migrations) owns every object; the
--   workers never log in as it.
-- None of the three may create tables, temporary tables or other objects.
--
-- Rule for tables added by later migrations (default privileges below, for the role that runs
-- the migrations): a new table is readable by the three roles and the writer may INSERT into it;
-- a migration that needs the writer to UPDATE or DELETE grants exactly that, on the columns
-- concerned, next to its CREATE TABLE (as 008 does for fuel_lead_times).

-- Start from nothing on every table and view of the schema, then grant what is used.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM nezlam_writer, nezlam_reader, nezlam_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO nezlam_writer, nezlam_reader, nezlam_analyst;
REVOKE SELECT ON schema_migrations FROM nezlam_writer, nezlam_reader, nezlam_analyst;

-- The sink's statements (streams/sinks/database.py): INSERT ... ON CONFLICT DO NOTHING, except
-- points and occupancy (ON CONFLICT DO UPDATE SET <the non-key columns>).
GRANT INSERT
    ON points, telemetry, visits, activations, occupancy, fuel_forecast, alert_events
    TO nezlam_writer;
GRANT UPDATE (name, kind, oblast, hromada, lat, lon, capacity_people, fuel_tank_l, updated_at)
    ON points TO nezlam_writer;
-- occupancy: the whole table, because TimescaleDB passes a column grant on to the hypertable's
-- compressed twin, which has other columns, and fails; its key columns are what the conflict
-- matches, so the upsert never changes them.
GRANT UPDATE ON occupancy TO nezlam_writer;
-- streams.refuel_plan.sync_lead_times: DELETE all rows, INSERT the rules' lead times.
GRANT INSERT, DELETE ON fuel_lead_times TO nezlam_writer;

-- Future tables (see the rule above).
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE ALL ON TABLES FROM nezlam_writer, nezlam_reader, nezlam_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT ON TABLES TO nezlam_writer, nezlam_reader, nezlam_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT INSERT ON TABLES TO nezlam_writer;

-- No objects of their own: PostgreSQL before 15 lets PUBLIC create in schema public (15 no
-- longer does; revoking again is harmless).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- No temporary tables: PUBLIC holds TEMPORARY on every database. Only the database's owner
-- can revoke it; where the migrations run as another role, or on a server that refuses
-- privileges on databases (the TimescaleDB-in-WASM test server), the deployment revokes it
-- (docs/operations.md, "Security"), and a warning says so here.
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'TEMPORARY on database % not revoked from PUBLIC: %; revoke it as the '
        'database owner', current_database(), SQLERRM;
END
$$;
