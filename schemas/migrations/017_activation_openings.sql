-- When each standby point opened after an activation order (docs/analysts.md, queries 5 and
-- 6), stored.
--
-- The raw question looks up, for every activation, the earliest 'open' report of its point
-- within a day after it: one probe into telemetry per activation, ~3,000 a day at national
-- scale, so query 6 (90 days) grew by ~180 ms per day of history kept, ~16 s at 90 days (see
-- docs/database.md, "Read side at national scale"). An activation's answer settles once its
-- point has opened or its day has passed, so refresh_activation_openings() stores it, as the
-- gaps between reports are stored (012); the view activation_openings reads the settled rows
-- stored and computes the rest from the raw reports, so it answers what the raw query answers,
-- refreshed or not. The same in both modes.
--
-- Exact as long as a report or an activation reaches the database at most the refresh's
-- lookback (3 hours) after its ts, in whatever order: the same assumption as the stored gaps
-- and the plain mode's hourly rollups.

CREATE TABLE activation_openings_stored (
    point_id     text NOT NULL,
    activated_at timestamptz NOT NULL,
    opened_at    timestamptz NULL,
    PRIMARY KEY (point_id, activated_at)
);
COMMENT ON TABLE activation_openings_stored IS
    'Each activation order and the point''s first open report within a day after it (NULL: none'
    ' yet), as of the last refresh_activation_openings().';
-- The analysts' queries ask for the activations of a period.
CREATE INDEX activation_openings_stored_activated_idx
    ON activation_openings_stored (activated_at);

CREATE TABLE activation_openings_watermark (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    settled_to timestamptz NOT NULL
);
COMMENT ON TABLE activation_openings_watermark IS
    'Every report and activation before settled_to had arrived at the last refresh (its time'
    ' minus the lookback): a stored row that no later report can change is final.';

-- Only refresh_activation_openings() (SECURITY DEFINER, run as the owner) writes them; the
-- default privileges of 009 would let the writer INSERT.
REVOKE INSERT ON activation_openings_stored, activation_openings_watermark FROM nezlam_writer;

-- A stored row is final when it was stored before settled_to (s) and no report from s on can
-- change it: its point opened at or before s (a later report cannot be earlier), or its day
-- ended by s. Every other activation is looked up in the raw reports: those from s on (the
-- last refresh's lookback and what came since, a few hundred at national scale) and the
-- stored ones still waiting for their point to open.
CREATE VIEW activation_openings AS
SELECT s.point_id, s.activated_at, s.opened_at
FROM activation_openings_stored AS s
WHERE s.activated_at < coalesce(
        (SELECT settled_to FROM activation_openings_watermark), '-infinity')
    AND coalesce(s.opened_at, s.activated_at + INTERVAL '1 day') <= coalesce(
        (SELECT settled_to FROM activation_openings_watermark), '-infinity')
UNION ALL
SELECT u.point_id, u.activated_at, o.opened_at
FROM (
    SELECT a.point_id, a.ts AS activated_at
    FROM activations AS a
    WHERE a.action = 'activate' AND a.ts >= coalesce(
        (SELECT settled_to FROM activation_openings_watermark), '-infinity')
    UNION ALL
    SELECT s.point_id, s.activated_at
    FROM activation_openings_stored AS s
    WHERE s.activated_at < coalesce(
            (SELECT settled_to FROM activation_openings_watermark), '-infinity')
        AND coalesce(s.opened_at, s.activated_at + INTERVAL '1 day') > coalesce(
            (SELECT settled_to FROM activation_openings_watermark), '-infinity')
) AS u
CROSS JOIN LATERAL (
    SELECT min(t.ts) AS opened_at
    FROM telemetry AS t
    WHERE t.point_id = u.point_id AND t.status = 'open'
        AND t.ts >= u.activated_at AND t.ts < u.activated_at + INTERVAL '1 day'
) AS o;
COMMENT ON VIEW activation_openings IS
    'Each activation order (point_id, activated_at) and the point''s first open report within a'
    ' day after it (opened_at NULL: none).';

-- Look up every activation from the last settled_to on and every stored one a report from
-- then on could still change, store them, and move settled_to to now() - lookback (a report
-- or an activation may arrive that late). The first call looks up every activation kept. Run
-- it with the rollups, every 15 minutes: a few hundred lookups at national scale.
CREATE FUNCTION refresh_activation_openings(lookback interval DEFAULT INTERVAL '3 hours')
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    upto timestamptz := now();
    since timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('refresh_activation_openings'));
    SELECT settled_to INTO since FROM activation_openings_watermark;
    since := coalesce(since, '-infinity');
    INSERT INTO activation_openings_stored (point_id, activated_at, opened_at)
    SELECT u.point_id, u.activated_at, o.opened_at
    FROM (
        SELECT a.point_id, a.ts AS activated_at
        FROM activations AS a
        WHERE a.action = 'activate' AND a.ts >= since
        UNION ALL
        SELECT s.point_id, s.activated_at
        FROM activation_openings_stored AS s
        WHERE s.activated_at < since
            AND coalesce(s.opened_at, s.activated_at + INTERVAL '1 day') > since
    ) AS u
    CROSS JOIN LATERAL (
        SELECT min(t.ts) AS opened_at
        FROM telemetry AS t
        WHERE t.point_id = u.point_id AND t.status = 'open'
            AND t.ts >= u.activated_at AND t.ts < u.activated_at + INTERVAL '1 day'
    ) AS o
    ON CONFLICT (point_id, activated_at) DO UPDATE SET opened_at = excluded.opened_at
    WHERE activation_openings_stored.opened_at IS DISTINCT FROM excluded.opened_at;
    INSERT INTO activation_openings_watermark (settled_to) VALUES (upto - lookback)
    ON CONFLICT (only_row) DO UPDATE SET settled_to = excluded.settled_to;
END
$$;
COMMENT ON FUNCTION refresh_activation_openings(interval) IS
    'Store when each standby point opened after its activation (run every 15 minutes, with the'
    ' rollups).';
REVOKE ALL ON FUNCTION refresh_activation_openings(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_activation_openings(interval) TO nezlam_writer;
