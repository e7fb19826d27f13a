-- Silences as gaps between a point's reports (docs/analysts.md, query 3), stored.
--
-- Finding the gaps from raw reports is a window function over every report of the period:
-- 27 s for 7 days asked of 2 days of national history, growing with the history (see
-- docs/database.md, "Read side at national scale"). The gaps themselves are rare (a point
-- reports every 30-60 s), so they are kept in a small table, filled by refresh_report_gaps()
-- as the hourly rollups are: gaps that ended before a watermark are stored, and the view of
-- the same gaps reads the raw reports only from the watermark on, each point's last report
-- before it taken from a per-point frontier. Refreshed or not, the view answers what the
-- raw-report query answers (the tests run it unrefreshed and refreshed). The same in both
-- modes: a continuous aggregate cannot hold a window function.

CREATE TABLE report_gaps_stored (
    point_id     text NOT NULL,
    silent_from  timestamptz NOT NULL,
    silent_until timestamptz NOT NULL,
    PRIMARY KEY (point_id, silent_from)
);
COMMENT ON TABLE report_gaps_stored IS
    'Gaps over 5 minutes between consecutive reports of a point that ended before the watermark.';
-- Analysts ask for the gaps of a period, newest or longest first.
CREATE INDEX report_gaps_stored_from_idx ON report_gaps_stored (silent_from);

CREATE TABLE report_gaps_frontier (
    point_id text PRIMARY KEY,
    last_ts  timestamptz NOT NULL
);
COMMENT ON TABLE report_gaps_frontier IS
    'Each point''s last report before the report_gaps watermark: where a gap still open then began.';

-- Only refresh_report_gaps() (SECURITY DEFINER, run as the owner) writes them; the default
-- privileges of 009 would let the writer INSERT.
REVOKE INSERT ON report_gaps_stored, report_gaps_frontier FROM nezlam_writer;

-- rollup_watermarks exists in plain mode only (011); the gaps keep their own watermark here.
CREATE TABLE report_gaps_watermark (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    materialized_to timestamptz NOT NULL
);
REVOKE INSERT ON report_gaps_watermark FROM nezlam_writer;
COMMENT ON TABLE report_gaps_watermark IS
    'Gaps that ended before materialized_to are in report_gaps_stored; later reports are read raw.';

-- 5 minutes: the shortest silence threshold of any kind (permanent); the query applies each
-- kind's own threshold on top.
CREATE VIEW report_gaps AS
SELECT g.point_id, g.silent_from, g.silent_until
FROM report_gaps_stored AS g
WHERE g.silent_until < coalesce(
    (SELECT materialized_to FROM report_gaps_watermark), '-infinity')
UNION ALL
SELECT point_id, ts, coalesce(next_ts, now())
FROM (
    SELECT point_id, ts, lead(ts) OVER (PARTITION BY point_id ORDER BY ts) AS next_ts
    FROM (
        SELECT f.point_id, f.last_ts AS ts FROM report_gaps_frontier AS f
        UNION ALL
        -- ts bounded directly, so the BRIN index (chunk exclusion) limits the raw rows.
        SELECT t.point_id, t.ts FROM telemetry AS t
        WHERE t.ts >= coalesce(
            (SELECT materialized_to FROM report_gaps_watermark), '-infinity')
    ) AS recent
) AS paired
WHERE coalesce(next_ts, now()) - ts > INTERVAL '5 minutes';
COMMENT ON VIEW report_gaps IS
    'Every stretch over 5 minutes without a report, per point; one still going on ends at now().';

-- Recompute the gaps that ended from (watermark - lookback) on, so reports that arrived late
-- within the lookback are counted (as the hourly rollups' refresh does), and move the
-- watermark to now(). The first call fills everything. Run it with the rollups, every 15
-- minutes: the view then reads at most about that much raw telemetry.
CREATE FUNCTION refresh_report_gaps(lookback interval DEFAULT INTERVAL '3 hours')
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    upto timestamptz := now();
    since timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('refresh_report_gaps'));
    SELECT materialized_to - lookback INTO since FROM report_gaps_watermark;
    IF since IS NULL THEN
        SELECT min(ts) INTO since FROM telemetry;
    END IF;
    IF since IS NOT NULL AND since < upto THEN
        DELETE FROM report_gaps_stored WHERE silent_until >= since;
        -- One statement, so the window's reports are read once for both the gaps and the
        -- frontier (no temporary table: the roles may not create them).
        WITH reports AS (
            -- Each point's last report before the window (one backward probe of the
            -- (point_id, ts) key per point), then the window's reports.
            SELECT k.point_id, prior.ts
            FROM (SELECT point_id FROM points UNION SELECT point_id FROM report_gaps_frontier)
                AS k
            CROSS JOIN LATERAL (
                SELECT max(t.ts) AS ts FROM telemetry AS t
                WHERE t.point_id = k.point_id AND t.ts < since
            ) AS prior
            WHERE prior.ts IS NOT NULL
            UNION ALL
            SELECT point_id, ts FROM telemetry WHERE ts >= since AND ts < upto
        ),
        gaps AS (
            INSERT INTO report_gaps_stored (point_id, silent_from, silent_until)
            SELECT point_id, ts, next_ts
            FROM (
                SELECT point_id, ts, lead(ts) OVER (PARTITION BY point_id ORDER BY ts) AS next_ts
                FROM reports
            ) AS paired
            WHERE next_ts - ts > INTERVAL '5 minutes'
            ON CONFLICT (point_id, silent_from) DO UPDATE SET silent_until = excluded.silent_until
        )
        INSERT INTO report_gaps_frontier (point_id, last_ts)
        SELECT point_id, max(ts) FROM reports GROUP BY point_id
        ON CONFLICT (point_id) DO UPDATE SET last_ts = excluded.last_ts;
    END IF;
    INSERT INTO report_gaps_watermark (materialized_to) VALUES (upto)
    ON CONFLICT (only_row) DO UPDATE SET materialized_to = excluded.materialized_to;
END
$$;
COMMENT ON FUNCTION refresh_report_gaps(interval) IS
    'Store the gaps between reports up to now (run every 15 minutes, with the rollups).';
REVOKE ALL ON FUNCTION refresh_report_gaps(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_report_gaps(interval) TO nezlam_writer;
