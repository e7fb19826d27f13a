-- Roles of the pipeline (cluster-wide, so created only when missing) and their privileges in
-- this database. No passwords here: `nezlam stack up` creates the roles with generated
-- passwords; production creates them with their passwords before the first migration
-- (docs/operations.md, "Security"), so the schema owner that runs the migrations needs no
-- CREATEROLE. Revised after release: the old version tried CREATE ROLE first, which a role
-- without CREATEROLE may not even attempt (streams/db/migration_files.py accepts both).

DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['nezlam_writer', 'nezlam_reader', 'nezlam_analyst'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', role_name);
        END IF;
    END LOOP;
END
$$;

-- Analysts' sessions start read-only and a runaway query stops after five minutes. Both are
-- session defaults, not a security boundary: the grants below are. Setting them (and the
-- comments) needs CREATEROLE: a schema owner without it leaves them to whoever created the
-- roles (`nezlam stack up` does; docs/operations.md, "Security").
DO $$
BEGIN
    IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        COMMENT ON ROLE nezlam_writer IS 'Nezlam pipeline workers: read and write the pipeline tables.';
        COMMENT ON ROLE nezlam_reader IS 'Grafana and dashboards: read only.';
        COMMENT ON ROLE nezlam_analyst IS 'Analysts'' ad-hoc SQL: read only, read-only sessions, time-limited.';
        ALTER ROLE nezlam_analyst SET default_transaction_read_only = on;
        ALTER ROLE nezlam_analyst SET statement_timeout = '5min';
    END IF;
END
$$;

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
