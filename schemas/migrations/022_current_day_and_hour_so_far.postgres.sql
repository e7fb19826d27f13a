-- Plain PostgreSQL mode: the panels over the rollups read stored rows, plus about a minute of
-- raw readings, whatever the hour and however much history is kept.
--
-- Measured at 7 days of national history (docs/database.md, "7 days again"): fuel burned per
-- day (fuel_use_daily over telemetry_oblast_daily) aggregated the current UTC day from every
-- point-hour at query time (269,000 rows at 20:00 UTC, 454 ms), and every view over the hourly
-- rollups aggregated the raw readings since the last whole hour stored: up to 75 minutes of
-- national telemetry (1.3 M readings), 1.44 s for that panel late in an hour.
--
-- 1. The current UTC day per point (telemetry_point_daily_stored, 13,464 rows), stored by the
--    refresh; telemetry_oblast_daily adds only the hours since the hourly watermark to it per
--    point, then sums per oblast. Each part is a sum or a bool_or: the split changes nothing.
-- 2. The hour so far per point (telemetry_hour_so_far, occupancy_hour_so_far) up to a second
--    watermark (<rollup>_partial): recomputed by the whole refresh (every 15 minutes, with its
--    3-hour lookback for late readings) and brought up to date every minute by
--    refresh_hour_so_far(), which adds only the readings since its last run. The hourly views
--    merge it with the raw readings since, per point and hour: counts add, the first fuel level
--    is the older part's, the last the newer part's, means weighted by samples. A reading
--    arriving later than a minute for an earlier moment waits for the next whole refresh.
-- 3. The stored hourly tables hold whole hours only, all before the watermark (the refresh
--    deletes anything later in the same transaction), so the views read them unfiltered: the
--    planner cannot estimate `bucket < (SELECT ...)` and took 7 days of hours for 0.5 % of
--    them (analyst query 8: a merge join and an on-disk sort of 2.2 M rows, 2.7 s).
--
-- refresh_hourly_rollups(lookback, refresh_at): refresh_at is the moment to store up to
-- (default now, never later), so the bench can reproduce the state between two refreshes.

CREATE TABLE telemetry_point_daily_stored (
    day             timestamptz NOT NULL,
    point_id        text NOT NULL,
    ran             boolean NOT NULL,
    generator_hours numeric NULL,
    fuel_counted    boolean NOT NULL,
    fuel_burned_l   double precision NULL,
    PRIMARY KEY (day, point_id)
);
COMMENT ON TABLE telemetry_point_daily_stored IS
    'The current UTC day per point up to the telemetry_hourly watermark; refresh_hourly_rollups() replaces it.';
-- Only refresh_hourly_rollups() (SECURITY DEFINER) writes it.
REVOKE INSERT ON telemetry_point_daily_stored FROM nezlam_writer;

CREATE TABLE telemetry_hour_so_far (
    point_id         text PRIMARY KEY,
    bucket           timestamptz NOT NULL,
    readings         bigint NOT NULL,
    running_readings bigint NOT NULL,
    fuel_first       double precision NULL,
    fuel_last        double precision NULL,
    fuel_min         double precision NULL,
    fuel_max         double precision NULL
);
CREATE TABLE occupancy_hour_so_far (
    point_id          text PRIMARY KEY,
    bucket            timestamptz NOT NULL,
    samples           bigint NOT NULL,
    people_inside_avg double precision NULL,
    people_inside_max integer NULL,
    visits_1h_last    integer NULL
);
COMMENT ON TABLE telemetry_hour_so_far IS
    'Per point: the current hour of telemetry up to the telemetry_hourly_partial watermark.';
COMMENT ON TABLE occupancy_hour_so_far IS
    'Per point: the current hour of occupancy up to the occupancy_point_hourly_partial watermark.';
-- Only the refresh functions (SECURITY DEFINER) write them.
REVOKE INSERT ON telemetry_hour_so_far, occupancy_hour_so_far FROM nezlam_writer;

-- One point-hour of telemetry and of occupancy from raw rows, for every refresh that stores
-- them (whole hours, the hour so far, a minute's increment). The views restate the same
-- aggregate inline, so that their plans bound the raw rows by the watermark.
CREATE FUNCTION telemetry_hours(since timestamptz, upto timestamptz)
    RETURNS TABLE (bucket timestamptz, point_id text, readings bigint, running_readings bigint,
                   fuel_first double precision, fuel_last double precision,
                   fuel_min double precision, fuel_max double precision)
    LANGUAGE sql
    STABLE
AS $$
    SELECT
        time_bucket(INTERVAL '1 hour', ts), point_id, count(*),
        count(*) FILTER (WHERE generator_running),
        (array_agg(fuel_level_l ORDER BY ts) FILTER (WHERE fuel_level_l IS NOT NULL))[1],
        (array_agg(fuel_level_l ORDER BY ts DESC) FILTER (WHERE fuel_level_l IS NOT NULL))[1],
        min(fuel_level_l), max(fuel_level_l)
    FROM telemetry
    WHERE ts >= since AND ts < upto
    GROUP BY 1, 2
$$;
CREATE FUNCTION occupancy_hours(since timestamptz, upto timestamptz)
    RETURNS TABLE (bucket timestamptz, point_id text, samples bigint,
                   people_inside_avg double precision, people_inside_max integer,
                   visits_1h_last integer)
    LANGUAGE sql
    STABLE
AS $$
    SELECT
        time_bucket(INTERVAL '1 hour', ts), point_id, count(*),
        avg(people_inside)::double precision, max(people_inside),
        (array_agg(visits_1h ORDER BY ts DESC))[1]
    FROM occupancy
    WHERE ts >= since AND ts < upto
    GROUP BY 1, 2
$$;
-- Called by the owner's refresh functions only.
REVOKE ALL ON FUNCTION telemetry_hours(timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION occupancy_hours(timestamptz, timestamptz) FROM PUBLIC;

DROP FUNCTION refresh_hourly_rollups(interval);

CREATE OR REPLACE VIEW telemetry_hourly AS
SELECT bucket, point_id, readings, running_readings, fuel_first, fuel_last, fuel_min, fuel_max
FROM telemetry_hourly_stored
UNION ALL
SELECT
    bucket,
    point_id,
    sum(readings)::bigint,
    sum(running_readings)::bigint,
    (array_agg(fuel_first ORDER BY part) FILTER (WHERE fuel_first IS NOT NULL))[1],
    (array_agg(fuel_last ORDER BY part DESC) FILTER (WHERE fuel_last IS NOT NULL))[1],
    min(fuel_min),
    max(fuel_max)
FROM (
    SELECT 0 AS part, bucket, point_id, readings, running_readings,
           fuel_first, fuel_last, fuel_min, fuel_max
    FROM telemetry_hour_so_far
    UNION ALL
    SELECT
        1,
        time_bucket(INTERVAL '1 hour', ts),
        point_id,
        count(*),
        count(*) FILTER (WHERE generator_running),
        (array_agg(fuel_level_l ORDER BY ts) FILTER (WHERE fuel_level_l IS NOT NULL))[1],
        (array_agg(fuel_level_l ORDER BY ts DESC) FILTER (WHERE fuel_level_l IS NOT NULL))[1],
        min(fuel_level_l),
        max(fuel_level_l)
    FROM telemetry
    WHERE ts >= coalesce(
        (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_hourly_partial'),
        (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_hourly'),
        '-infinity')
    GROUP BY 2, 3
) AS since_watermark
GROUP BY bucket, point_id;

CREATE OR REPLACE VIEW occupancy_point_hourly AS
SELECT bucket, point_id, samples, people_inside_avg, people_inside_max, visits_1h_last
FROM occupancy_point_hourly_stored
UNION ALL
SELECT
    bucket,
    point_id,
    sum(samples)::bigint,
    sum(people_inside_avg * samples) / sum(samples),
    max(people_inside_max),
    (array_agg(visits_1h_last ORDER BY part DESC))[1]
FROM (
    SELECT 0 AS part, bucket, point_id, samples, people_inside_avg, people_inside_max,
           visits_1h_last
    FROM occupancy_hour_so_far
    UNION ALL
    SELECT
        1,
        time_bucket(INTERVAL '1 hour', ts),
        point_id,
        count(*),
        avg(people_inside)::double precision,
        max(people_inside),
        (array_agg(visits_1h ORDER BY ts DESC))[1]
    FROM occupancy
    WHERE ts >= coalesce(
        (SELECT materialized_to FROM rollup_watermarks
         WHERE rollup = 'occupancy_point_hourly_partial'),
        (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'occupancy_point_hourly'),
        '-infinity')
    GROUP BY 2, 3
) AS since_watermark
GROUP BY bucket, point_id;

CREATE OR REPLACE VIEW telemetry_oblast_daily AS
SELECT day, oblast, generators, generator_hours, fuel_points, fuel_burned_l
FROM telemetry_oblast_daily_stored
WHERE day < coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_oblast_daily'),
    '-infinity')
UNION ALL
SELECT
    d.day,
    p.oblast,
    count(*) FILTER (WHERE d.ran) AS generators,
    sum(d.generator_hours) AS generator_hours,
    count(*) FILTER (WHERE d.fuel_counted) AS fuel_points,
    sum(d.fuel_burned_l) AS fuel_burned_l
FROM (
    SELECT
        day, point_id, bool_or(ran) AS ran, sum(generator_hours) AS generator_hours,
        bool_or(fuel_counted) AS fuel_counted, sum(fuel_burned_l) AS fuel_burned_l
    FROM (
        SELECT day, point_id, ran, generator_hours, fuel_counted, fuel_burned_l
        FROM telemetry_point_daily_stored
        WHERE day >= coalesce(
            (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_oblast_daily'),
            '-infinity')
        UNION ALL
        SELECT
            time_bucket(INTERVAL '1 day', h.bucket),
            h.point_id,
            h.running_readings > 0,
            h.running_readings::numeric / h.readings,
            h.running_readings > 0 AND h.fuel_first IS NOT NULL,
            CASE
                WHEN h.running_readings = 0 OR h.fuel_first IS NULL THEN NULL
                WHEN h.fuel_last <= h.fuel_first THEN h.fuel_first - h.fuel_last
                ELSE (h.fuel_first - h.fuel_min) + (h.fuel_max - h.fuel_last)
            END
        FROM telemetry_hourly AS h
        WHERE h.bucket >= coalesce(
            (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_hourly'),
            '-infinity')
    ) AS parts
    GROUP BY 1, 2
) AS d
LEFT JOIN points AS p ON p.point_id = d.point_id
GROUP BY 1, 2;

CREATE FUNCTION refresh_hourly_rollups(
    lookback interval DEFAULT INTERVAL '3 hours', refresh_at timestamptz DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    -- Stored up to this moment: the whole hours before it, and its own hour so far.
    upto_at timestamptz := least(coalesce(refresh_at, now()), now());
    upto timestamptz := time_bucket(INTERVAL '1 hour', upto_at);
    since timestamptz;
    telemetry_since timestamptz;
    occupancy_since timestamptz;
    done timestamptz;
    slice_from timestamptz;
BEGIN
    -- One refresh at a time; a second caller waits rather than doubling the work.
    PERFORM pg_advisory_xact_lock(hashtext('refresh_hourly_rollups'));

    SELECT materialized_to - lookback INTO since
    FROM rollup_watermarks WHERE rollup = 'telemetry_hourly';
    IF since IS NULL THEN
        SELECT time_bucket(INTERVAL '1 hour', min(ts)) INTO since FROM telemetry;
    END IF;
    telemetry_since := since;
    IF since IS NOT NULL AND since < upto THEN
        DELETE FROM telemetry_hourly_stored WHERE bucket >= since AND bucket < upto;
        slice_from := since;
        WHILE slice_from < upto LOOP
            INSERT INTO telemetry_hourly_stored
            SELECT * FROM telemetry_hours(slice_from, least(slice_from + INTERVAL '1 day', upto));
            slice_from := slice_from + INTERVAL '1 day';
        END LOOP;
    END IF;
    INSERT INTO rollup_watermarks VALUES ('telemetry_hourly', upto)
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;
    -- Whole hours only in the table (the views read it unfiltered); the hour so far apart.
    DELETE FROM telemetry_hourly_stored WHERE bucket >= upto;
    DELETE FROM telemetry_hour_so_far;
    INSERT INTO telemetry_hour_so_far
    SELECT point_id, bucket, readings, running_readings, fuel_first, fuel_last, fuel_min, fuel_max
    FROM telemetry_hours(upto, upto_at);
    INSERT INTO rollup_watermarks VALUES ('telemetry_hourly_partial', upto_at)
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;

    SELECT materialized_to - lookback INTO since
    FROM rollup_watermarks WHERE rollup = 'occupancy_point_hourly';
    IF since IS NULL THEN
        SELECT time_bucket(INTERVAL '1 hour', min(ts)) INTO since FROM occupancy;
    END IF;
    occupancy_since := since;
    IF since IS NOT NULL AND since < upto THEN
        DELETE FROM occupancy_point_hourly_stored WHERE bucket >= since AND bucket < upto;
        slice_from := since;
        WHILE slice_from < upto LOOP
            INSERT INTO occupancy_point_hourly_stored
            SELECT * FROM occupancy_hours(slice_from, least(slice_from + INTERVAL '1 day', upto));
            slice_from := slice_from + INTERVAL '1 day';
        END LOOP;
    END IF;
    INSERT INTO rollup_watermarks VALUES ('occupancy_point_hourly', upto)
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;
    DELETE FROM occupancy_point_hourly_stored WHERE bucket >= upto;
    DELETE FROM occupancy_hour_so_far;
    INSERT INTO occupancy_hour_so_far
    SELECT point_id, bucket, samples, people_inside_avg, people_inside_max, visits_1h_last
    FROM occupancy_hours(upto, upto_at);
    INSERT INTO rollup_watermarks VALUES ('occupancy_point_hourly_partial', upto_at)
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;

    -- Second level: per oblast and kind and hour, from the stored per-point hours.
    SELECT materialized_to INTO done
    FROM rollup_watermarks WHERE rollup = 'occupancy_oblast_hourly';
    IF done IS NULL THEN
        SELECT min(bucket) INTO since FROM occupancy_point_hourly_stored;
    ELSE
        since := least(done, time_bucket(INTERVAL '1 hour', occupancy_since));
    END IF;
    IF since IS NOT NULL AND since < upto THEN
        DELETE FROM occupancy_oblast_hourly_stored WHERE bucket >= since AND bucket < upto;
        INSERT INTO occupancy_oblast_hourly_stored
        SELECT
            o.bucket, p.oblast, p.kind, count(*), sum(o.people_inside_avg),
            sum(o.people_inside_max), sum(o.visits_1h_last), sum(p.capacity_people)
        FROM occupancy_point_hourly_stored AS o
        LEFT JOIN points AS p ON p.point_id = o.point_id
        WHERE o.bucket >= since AND o.bucket < upto
        GROUP BY 1, 2, 3;
    END IF;
    INSERT INTO rollup_watermarks VALUES ('occupancy_oblast_hourly', upto)
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;

    -- Second level: per oblast and UTC day, whole days only.
    SELECT materialized_to INTO done
    FROM rollup_watermarks WHERE rollup = 'telemetry_oblast_daily';
    IF done IS NULL THEN
        SELECT min(bucket) INTO since FROM telemetry_hourly_stored;
    ELSE
        since := least(done, telemetry_since);
    END IF;
    since := time_bucket(INTERVAL '1 day', since);
    IF since IS NOT NULL AND since < time_bucket(INTERVAL '1 day', upto) THEN
        DELETE FROM telemetry_oblast_daily_stored
        WHERE day >= since AND day < time_bucket(INTERVAL '1 day', upto);
        INSERT INTO telemetry_oblast_daily_stored
        SELECT
            time_bucket(INTERVAL '1 day', h.bucket), p.oblast,
            count(DISTINCT h.point_id) FILTER (WHERE h.running_readings > 0),
            sum(h.running_readings::numeric / h.readings),
            count(DISTINCT h.point_id)
                FILTER (WHERE h.running_readings > 0 AND h.fuel_first IS NOT NULL),
            sum(
                CASE
                    WHEN h.fuel_last <= h.fuel_first THEN h.fuel_first - h.fuel_last
                    ELSE (h.fuel_first - h.fuel_min) + (h.fuel_max - h.fuel_last)
                END
            ) FILTER (WHERE h.running_readings > 0 AND h.fuel_first IS NOT NULL)
        FROM telemetry_hourly_stored AS h
        LEFT JOIN points AS p ON p.point_id = h.point_id
        WHERE h.bucket >= since AND h.bucket < time_bucket(INTERVAL '1 day', upto)
        GROUP BY 1, 2;
    END IF;
    INSERT INTO rollup_watermarks VALUES ('telemetry_oblast_daily', time_bucket(INTERVAL '1 day', upto))
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;

    -- The current UTC day per point, from its stored hours (at most 24 per point): replaced
    -- whole, as the day moves on and the lookback recomputes its hours.
    DELETE FROM telemetry_point_daily_stored;
    INSERT INTO telemetry_point_daily_stored
    SELECT
        time_bucket(INTERVAL '1 day', bucket), point_id,
        bool_or(running_readings > 0),
        sum(running_readings::numeric / readings),
        bool_or(running_readings > 0 AND fuel_first IS NOT NULL),
        sum(
            CASE
                WHEN fuel_last <= fuel_first THEN fuel_first - fuel_last
                ELSE (fuel_first - fuel_min) + (fuel_max - fuel_last)
            END
        ) FILTER (WHERE running_readings > 0 AND fuel_first IS NOT NULL)
    FROM telemetry_hourly_stored
    WHERE bucket >= time_bucket(INTERVAL '1 day', upto) AND bucket < upto
    GROUP BY 1, 2;
END
$$;

REVOKE ALL ON FUNCTION refresh_hourly_rollups(interval, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_hourly_rollups(interval, timestamptz) TO nezlam_writer;

-- Every minute: the readings since the last run added to the hour so far (counts add, the
-- first fuel level stays, the last is the newer one's), so the views' raw branch is about a
-- minute of readings. A reading arriving later than that, for an earlier moment, waits for the
-- whole refresh (at most 15 minutes), which recomputes the hour. In a new hour, or before any
-- whole refresh, it runs the whole refresh instead.
CREATE FUNCTION refresh_hour_so_far(refresh_at timestamptz DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    upto_at timestamptz := least(coalesce(refresh_at, now()), now());
    whole timestamptz;
    telemetry_since timestamptz;
    occupancy_since timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('refresh_hourly_rollups'));
    SELECT materialized_to INTO whole FROM rollup_watermarks WHERE rollup = 'telemetry_hourly';
    SELECT materialized_to INTO telemetry_since
    FROM rollup_watermarks WHERE rollup = 'telemetry_hourly_partial';
    SELECT materialized_to INTO occupancy_since
    FROM rollup_watermarks WHERE rollup = 'occupancy_point_hourly_partial';
    IF whole IS DISTINCT FROM time_bucket(INTERVAL '1 hour', upto_at)
            OR telemetry_since IS NULL OR occupancy_since IS NULL THEN
        PERFORM refresh_hourly_rollups(refresh_at => upto_at);
        RETURN;
    END IF;

    IF telemetry_since < upto_at THEN
        INSERT INTO telemetry_hour_so_far AS s
        SELECT point_id, bucket, readings, running_readings, fuel_first, fuel_last, fuel_min,
               fuel_max
        FROM telemetry_hours(telemetry_since, upto_at)
        ON CONFLICT (point_id) DO UPDATE SET
            readings = s.readings + excluded.readings,
            running_readings = s.running_readings + excluded.running_readings,
            fuel_first = coalesce(s.fuel_first, excluded.fuel_first),
            fuel_last = coalesce(excluded.fuel_last, s.fuel_last),
            fuel_min = least(s.fuel_min, excluded.fuel_min),
            fuel_max = greatest(s.fuel_max, excluded.fuel_max);
        UPDATE rollup_watermarks SET materialized_to = upto_at
        WHERE rollup = 'telemetry_hourly_partial';
    END IF;

    IF occupancy_since < upto_at THEN
        INSERT INTO occupancy_hour_so_far AS s
        SELECT point_id, bucket, samples, people_inside_avg, people_inside_max, visits_1h_last
        FROM occupancy_hours(occupancy_since, upto_at)
        ON CONFLICT (point_id) DO UPDATE SET
            samples = s.samples + excluded.samples,
            people_inside_avg = (s.people_inside_avg * s.samples
                                 + excluded.people_inside_avg * excluded.samples)
                                / (s.samples + excluded.samples),
            people_inside_max = greatest(s.people_inside_max, excluded.people_inside_max),
            visits_1h_last = excluded.visits_1h_last;
        UPDATE rollup_watermarks SET materialized_to = upto_at
        WHERE rollup = 'occupancy_point_hourly_partial';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION refresh_hour_so_far(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_hour_so_far(timestamptz) TO nezlam_writer;

-- The stored hourly tables are read unfiltered from now on: nothing at or after their watermark.
DELETE FROM telemetry_hourly_stored
WHERE bucket >= (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_hourly');
DELETE FROM occupancy_point_hourly_stored
WHERE bucket >= (SELECT materialized_to FROM rollup_watermarks
                 WHERE rollup = 'occupancy_point_hourly');

-- The current day as the last refresh left it, so the view answers the same before the next one.
INSERT INTO telemetry_point_daily_stored
SELECT
    time_bucket(INTERVAL '1 day', bucket), point_id,
    bool_or(running_readings > 0),
    sum(running_readings::numeric / readings),
    bool_or(running_readings > 0 AND fuel_first IS NOT NULL),
    sum(
        CASE
            WHEN fuel_last <= fuel_first THEN fuel_first - fuel_last
            ELSE (fuel_first - fuel_min) + (fuel_max - fuel_last)
        END
    ) FILTER (WHERE running_readings > 0 AND fuel_first IS NOT NULL)
FROM telemetry_hourly_stored
WHERE bucket >= (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_oblast_daily')
    AND bucket < (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_hourly')
GROUP BY 1, 2;
