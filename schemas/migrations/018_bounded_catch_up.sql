-- Rebuilding the current state and catching the stored gaps up over a long history without
-- spilling that history to disk.
--
-- rebuild_current_state() (013) sorted every row of telemetry and occupancy to keep each
-- point's latest, and the first refresh_report_gaps() (012) sorted every report of the whole
-- history by point and time: on 7 days of national history (63 GB) the first filled the disk
-- with temporary files; on 90 days either would want over 100 GB. Now the state is read with
-- two probes of the (point_id, ts) key per point, and the gaps are found one day of reports at
-- a time (about 1 GB of sort at most, whatever the history). Same answers as before; the
-- tests compare them with the single-pass queries.

CREATE OR REPLACE FUNCTION rebuild_current_state() RETURNS void
    LANGUAGE sql SET search_path = public, pg_temp
AS $$
    TRUNCATE telemetry_now, occupancy_now, alert_state;
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
    -- Alert events are few (a year of them is a few hundred MB): one pass.
    INSERT INTO alert_state
    SELECT DISTINCT ON (fingerprint)
        fingerprint, ts, status, alertname, severity, point_id, oblast, point_kind, summary,
        labels, annotations
    FROM alert_events ORDER BY fingerprint, ts DESC, (status = 'resolved') DESC;
$$;

-- 012's refresh, a day of reports per statement: each day's window starts from each point's
-- last report before it, so a gap across midnight is found whole (as one pass finds it).
CREATE OR REPLACE FUNCTION refresh_report_gaps(lookback interval DEFAULT INTERVAL '3 hours')
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    upto timestamptz := now();
    since timestamptz;
    slice_from timestamptz;
    slice_to timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('refresh_report_gaps'));
    SELECT materialized_to - lookback INTO since FROM report_gaps_watermark;
    IF since IS NULL THEN
        SELECT min(ts) INTO since FROM telemetry;
    END IF;
    IF since IS NOT NULL AND since < upto THEN
        DELETE FROM report_gaps_stored WHERE silent_until >= since;
        slice_from := since;
        WHILE slice_from < upto LOOP
            slice_to := least(slice_from + INTERVAL '1 day', upto);
            -- One statement, so the slice's reports are read once for both the gaps and the
            -- frontier (no temporary table: the roles may not create them).
            WITH reports AS (
                -- Each point's last report before the slice (one backward probe of the
                -- (point_id, ts) key per point), then the slice's reports.
                SELECT k.point_id, prior.ts
                FROM (SELECT point_id FROM points UNION SELECT point_id FROM report_gaps_frontier)
                    AS k
                CROSS JOIN LATERAL (
                    SELECT max(t.ts) AS ts FROM telemetry AS t
                    WHERE t.point_id = k.point_id AND t.ts < slice_from
                ) AS prior
                WHERE prior.ts IS NOT NULL
                UNION ALL
                SELECT point_id, ts FROM telemetry WHERE ts >= slice_from AND ts < slice_to
            ),
            gaps AS (
                INSERT INTO report_gaps_stored (point_id, silent_from, silent_until)
                SELECT point_id, ts, next_ts
                FROM (
                    SELECT point_id, ts,
                        lead(ts) OVER (PARTITION BY point_id ORDER BY ts) AS next_ts
                    FROM reports
                ) AS paired
                WHERE next_ts - ts > INTERVAL '5 minutes'
                ON CONFLICT (point_id, silent_from) DO UPDATE
                    SET silent_until = excluded.silent_until
            )
            INSERT INTO report_gaps_frontier (point_id, last_ts)
            SELECT point_id, max(ts) FROM reports GROUP BY point_id
            ON CONFLICT (point_id) DO UPDATE SET last_ts = excluded.last_ts;
            slice_from := slice_to;
        END LOOP;
    END IF;
    INSERT INTO report_gaps_watermark (materialized_to) VALUES (upto)
    ON CONFLICT (only_row) DO UPDATE SET materialized_to = excluded.materialized_to;
END
$$;
