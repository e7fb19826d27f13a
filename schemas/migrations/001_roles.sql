-- Roles of the pipeline (cluster-wide, so created only when missing) and their privileges in
-- this database. No passwords here: local development authenticates by trust on loopback;
-- production sets them with ALTER ROLE <role> PASSWORD '...' (docs/database.md).

DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['nezlam_writer', 'nezlam_reader', 'nezlam_analyst'] LOOP
        BEGIN
            EXECUTE format('CREATE ROLE %I LOGIN', role_name);
        EXCEPTION WHEN duplicate_object THEN
            -- Created by another database's migrations (roles are cluster-wide).
            NULL;
        END;
    END LOOP;
END
$$;

COMMENT ON ROLE nezlam_writer IS 'Nezlam pipeline workers: read and write the pipeline tables.';
COMMENT ON ROLE nezlam_reader IS 'Grafana and dashboards: read only.';
COMMENT ON ROLE nezlam_analyst IS 'Analysts'' ad-hoc SQL: read only, read-only sessions, time-limited.';

-- Analysts' sessions start read-only and a runaway query stops after five minutes. Both are
-- session defaults, not a security boundary: the grants below are.
ALTER ROLE nezlam_analyst SET default_transaction_read_only = on;
ALTER ROLE nezlam_analyst SET statement_timeout = '5min';

-- CONNECT: PUBLIC holds it on every new database, so it is not granted here. The database
-- itself belongs to the deployment (like the passwords): one that revokes CONNECT from PUBLIC
-- grants it to these roles (docs/database.md). This also keeps the migration runnable on the
-- TimescaleDB-in-WASM test server, whose GRANT ... ON DATABASE fails.

GRANT USAGE ON SCHEMA public TO nezlam_writer, nezlam_reader, nezlam_analyst;

-- Cover every table and view the migrations create from here on (objects created by the role
-- that runs the migrations).
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT ON TABLES TO nezlam_reader, nezlam_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE ON TABLES TO nezlam_writer;
