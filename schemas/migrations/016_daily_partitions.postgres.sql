-- Plain PostgreSQL mode: telemetry, fuel_forecast and occupancy partitioned by UTC day (in
-- TimescaleDB mode the hypertables already chunk them by time and drop old chunks; 004).
-- Why (docs/database.md, "Daily partitions"):
-- - retention: these tables keep 90 days; dropping a day's partition costs nothing, deleting
--   its ~60 M rows would cost hours of vacuum;
-- - load order: each day's rows live in their own table, so a backfill of older days leaves
--   every partition in time order (the BRIN indexes stay selective) and a time range reads
--   only its own days, whatever order the days arrived in;
-- - nothing is lost: a row for a day with no partition yet lands in the default partition,
--   and maintain_daily_partitions() moves it into its day's partition once that is created.
--
-- An existing table is moved into its partitioned twin here, in this migration's transaction
-- (minutes per day of history kept). The views built on it are recreated exactly as they
-- were (a view binds to a table, not to its name), with their options, comments and grants.

-- The partitioned tables' own partitions, by UTC day: <table>_pYYYYMMDD.
CREATE FUNCTION daily_partition_name(parent text, day timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN parent || '_p' || to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD');

-- Create the partition of ``parent`` for the UTC day starting at ``day`` unless it exists;
-- rows of that day waiting in the default partition move into it.
CREATE FUNCTION create_daily_partition(parent text, day timestamptz) RETURNS void
    LANGUAGE plpgsql SET search_path = public, pg_temp
AS $$
DECLARE
    part text := daily_partition_name(parent, day);
    upto timestamptz := day + INTERVAL '1 day';
    waiting boolean;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT FROM %I WHERE ts >= $1 AND ts < $2)',
                   parent || '_default')
        INTO waiting USING day, upto;
    IF waiting THEN
        -- Attaching (not CREATE ... PARTITION OF) because the default partition may not hold
        -- rows of a partition created beside it.
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       part, parent);
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE ts >= $1 AND ts < $2 RETURNING *) '
                       'INSERT INTO %I SELECT * FROM moved', parent || '_default', part)
            USING day, upto;
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       parent, part, day, upto);
    ELSE
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       part, parent, day, upto);
    END IF;
    -- Read and written through the parent only, whose grants are checked there (009's
    -- default privileges would give every role the partition itself).
    EXECUTE format('REVOKE ALL ON %I FROM nezlam_writer, nezlam_reader, nezlam_analyst', part);
END
$$;

-- The partitions of every UTC day from ``since`` to ``upto`` (a bulk load's range).
CREATE FUNCTION create_daily_partitions(since timestamptz, upto timestamptz) RETURNS void
    LANGUAGE sql SET search_path = public, pg_temp
AS $$
    SELECT create_daily_partition(parent, day)
    FROM unnest(ARRAY['telemetry', 'fuel_forecast', 'occupancy']) AS parent,
         generate_series(date_bin(INTERVAL '1 day', since, TIMESTAMPTZ '2000-01-01 00:00+00'),
                         upto - INTERVAL '1 microsecond', INTERVAL '1 day') AS day;
$$;

-- What the stack runs with its rollup refresh (`nezlam db refresh-rollups`, every 15 min):
-- the partitions of the last week (what a replay of the topics may still bring) and the next
-- ``ahead`` days; a partition for every day of rows
-- waiting in the default partition within the kept history; and the retention: partitions
-- wholly older than ``keep`` dropped, the default partition's rows older than it deleted.
CREATE FUNCTION maintain_daily_partitions(
    ahead interval DEFAULT INTERVAL '7 days', keep interval DEFAULT INTERVAL '90 days'
) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    today timestamptz := date_bin(INTERVAL '1 day', now(), TIMESTAMPTZ '2000-01-01 00:00+00');
    cutoff timestamptz := now() - keep;
    parent text;
    day_start timestamptz;
    part record;
BEGIN
    PERFORM create_daily_partitions(today - INTERVAL '7 days', today + ahead + INTERVAL '1 day');
    FOREACH parent IN ARRAY ARRAY['telemetry', 'fuel_forecast', 'occupancy'] LOOP
        FOR day_start IN EXECUTE format(
            'SELECT DISTINCT date_bin(INTERVAL ''1 day'', ts, TIMESTAMPTZ ''2000-01-01 00:00+00'') '
            'FROM %I WHERE ts >= $1 AND ts < $2', parent || '_default')
            USING date_bin(INTERVAL '1 day', cutoff, TIMESTAMPTZ '2000-01-01 00:00+00'),
                  today + ahead + INTERVAL '1 day'
        LOOP
            PERFORM create_daily_partition(parent, day_start);
        END LOOP;
        FOR part IN
            SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
            WHERE i.inhparent = parent::regclass AND c.relname ~ '_p[0-9]{8}$'
                AND to_date(right(c.relname, 8), 'YYYYMMDD') + 1 <= (cutoff AT TIME ZONE 'UTC')::date
        LOOP
            EXECUTE format('DROP TABLE %I', part.relname);
        END LOOP;
        EXECUTE format('DELETE FROM %I WHERE ts < $1', parent || '_default') USING cutoff;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION daily_partition_name(text, timestamptz),
    create_daily_partition(text, timestamptz),
    create_daily_partitions(timestamptz, timestamptz),
    maintain_daily_partitions(interval, interval) FROM PUBLIC;
-- The writer runs the stack's refresh; it may keep the partitions but not choose the policy.
GRANT EXECUTE ON FUNCTION maintain_daily_partitions(interval, interval) TO nezlam_writer;

-- The views over the three tables, and the views over those, to recreate after the move.
CREATE TEMPORARY TABLE dependent_view ON COMMIT DROP AS
WITH RECURSIVE dependent (oid, depth) AS (
    SELECT DISTINCT r.ev_class, 1
    FROM pg_depend AS d JOIN pg_rewrite AS r ON r.oid = d.objid
    WHERE d.refobjid IN ('telemetry'::regclass, 'fuel_forecast'::regclass,
                         'occupancy'::regclass)
    UNION
    SELECT r.ev_class, dependent.depth + 1
    FROM dependent
    JOIN pg_depend AS d ON d.refobjid = dependent.oid
    JOIN pg_rewrite AS r ON r.oid = d.objid
    WHERE r.ev_class <> dependent.oid
)
SELECT
    c.relname AS name, max(dependent.depth) AS depth, pg_get_viewdef(c.oid) AS body,
    c.reloptions, obj_description(c.oid, 'pg_class') AS comment,
    (SELECT array_agg(format('COMMENT ON COLUMN %I.%I IS %L', c.relname, a.attname,
                             col_description(c.oid, a.attnum)))
     FROM pg_attribute AS a
     WHERE a.attrelid = c.oid AND a.attnum > 0
         AND col_description(c.oid, a.attnum) IS NOT NULL) AS column_comments,
    (SELECT array_agg(format('GRANT %s ON %I TO %s', g.privilege_type, c.relname,
                             CASE g.grantee WHEN 0 THEN 'PUBLIC'
                                 ELSE quote_ident(pg_get_userbyid(g.grantee)) END))
     FROM aclexplode(c.relacl) AS g
     WHERE g.grantee <> c.relowner) AS grants
FROM dependent JOIN pg_class AS c ON c.oid = dependent.oid
WHERE c.relkind = 'v'
GROUP BY c.oid, c.relname, c.reloptions, c.relacl, c.relowner;

DO $$
DECLARE
    v record;
    t record;
    statement text;
BEGIN
    FOR v IN SELECT name FROM dependent_view ORDER BY depth DESC LOOP
        EXECUTE format('DROP VIEW %I', v.name);
    END LOOP;

    FOR t IN SELECT * FROM (VALUES
        ('telemetry', 'keep_telemetry_now', 'INSERT'),
        ('fuel_forecast', NULL, NULL),
        ('occupancy', 'keep_occupancy_now', 'INSERT OR UPDATE')) AS x (name, trig, events)
    LOOP
        EXECUTE format('ALTER TABLE %I RENAME TO %I', t.name, t.name || '_unpartitioned');
        EXECUTE format('ALTER INDEX %I RENAME TO %I', t.name || '_pkey',
                       t.name || '_unpartitioned_pkey');
        EXECUTE format('DROP INDEX %I', t.name || '_ts_brin');
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                       'INCLUDING COMMENTS, PRIMARY KEY (point_id, ts)) PARTITION BY RANGE (ts)',
                       t.name, t.name || '_unpartitioned');
        EXECUTE format('COMMENT ON TABLE %I IS %L', t.name,
                       obj_description((t.name || '_unpartitioned')::regclass, 'pg_class'));
        -- Autosummarize: the rollups' raw branch reads only the rows since the watermark (011).
        EXECUTE format('CREATE INDEX %I ON %I USING brin (ts) WITH (autosummarize = on)',
                       t.name || '_ts_brin', t.name);
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t.name || '_default', t.name);
        EXECUTE format('REVOKE ALL ON %I FROM nezlam_writer, nezlam_reader, nezlam_analyst',
                       t.name || '_default');
        -- The partitioned table's grants are the old table's, exactly.
        EXECUTE format('REVOKE ALL ON %I FROM nezlam_writer, nezlam_reader, nezlam_analyst',
                       t.name);
        FOR statement IN
            SELECT format('GRANT %s ON %I TO %s', g.privilege_type, t.name,
                          CASE g.grantee WHEN 0 THEN 'PUBLIC'
                              ELSE quote_ident(pg_get_userbyid(g.grantee)) END)
            FROM pg_class AS c, aclexplode(c.relacl) AS g
            WHERE c.oid = (t.name || '_unpartitioned')::regclass AND g.grantee <> c.relowner
        LOOP
            EXECUTE statement;
        END LOOP;
    END LOOP;

    -- Partitions for the days kept (older rows wait in the default partition for the
    -- retention), at least the last week, up to a week ahead; then the rows, before the
    -- triggers (the current state already follows them).
    PERFORM create_daily_partitions(
        greatest(least((SELECT min(ts) FROM telemetry_unpartitioned), now() - INTERVAL '7 days'),
                 now() - INTERVAL '90 days'),
        now() + INTERVAL '8 days');
    INSERT INTO telemetry SELECT * FROM telemetry_unpartitioned;
    INSERT INTO fuel_forecast SELECT * FROM fuel_forecast_unpartitioned;
    INSERT INTO occupancy SELECT * FROM occupancy_unpartitioned;
    DROP TABLE telemetry_unpartitioned, fuel_forecast_unpartitioned, occupancy_unpartitioned;
    CREATE TRIGGER keep_telemetry_now AFTER INSERT ON telemetry
        FOR EACH ROW EXECUTE FUNCTION keep_telemetry_now();
    CREATE TRIGGER keep_occupancy_now AFTER INSERT OR UPDATE ON occupancy
        FOR EACH ROW EXECUTE FUNCTION keep_occupancy_now();

    FOR v IN SELECT * FROM dependent_view ORDER BY depth LOOP
        EXECUTE format('CREATE VIEW %I AS %s', v.name, v.body);
        IF v.reloptions IS NOT NULL THEN
            EXECUTE format('ALTER VIEW %I SET (%s)', v.name, array_to_string(v.reloptions, ', '));
        END IF;
        IF v.comment IS NOT NULL THEN
            EXECUTE format('COMMENT ON VIEW %I IS %L', v.name, v.comment);
        END IF;
        EXECUTE format('REVOKE ALL ON %I FROM nezlam_writer, nezlam_reader, nezlam_analyst',
                       v.name);
        FOREACH statement IN ARRAY coalesce(v.column_comments, '{}') || coalesce(v.grants, '{}')
        LOOP
            EXECUTE statement;
        END LOOP;
    END LOOP;
END
$$;
