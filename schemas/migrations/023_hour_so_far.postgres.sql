-- The hourly views' raw branch aggregated every reading since the last whole hour the refresh
-- stored: in live operation up to 75 minutes of national telemetry (about 1.3 M readings, each
-- sorted for the first and last fuel level), about 2 s on every panel over telemetry_hourly
-- (fuel burned per day) and half that over occupancy_point_hourly, late in each hour. The
-- bench never saw it: its history ends on the hour (docs/database.md, "The hour so far").
--
-- The refresh now also stores the hour so far, up to the moment it runs, in the same stored
-- tables (their bucket is the hourly watermark; the whole hours stay below it) and records
-- that moment as a second watermark (<rollup>_partial). The views take the whole hours as
-- before, and merge the hour so far with the readings since that moment per point and hour:
-- counts add, the first fuel level is the stored part's, the last is the newer part's. The raw
-- branch is then at most one refresh interval of readings (15 minutes in the stack).
--
-- refresh_at: the moment to store up to (default now; never later than now), so the bench can
-- reproduce the state between two refreshes.

DROP FUNCTION refresh_hourly_rollups(interval);

CREATE OR REPLACE VIEW telemetry_hourly AS
SELECT bucket, point_id, readings, running_readings, fuel_first, fuel_last, fuel_min, fuel_max
FROM telemetry_hourly_stored
WHERE bucket < coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_hourly'),
    '-infinity')
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
    FROM telemetry_hourly_stored
    WHERE bucket >= (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_hourly')
        AND bucket < (SELECT materialized_to FROM rollup_watermarks
                      WHERE rollup = 'telemetry_hourly_partial')
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
WHERE bucket < coalesce(
    (SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'occupancy_point_hourly'),
    '-infinity')
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
    FROM occupancy_point_hourly_stored
    WHERE bucket >= (SELECT materialized_to FROM rollup_watermarks
                     WHERE rollup = 'occupancy_point_hourly')
        AND bucket < (SELECT materialized_to FROM rollup_watermarks
                      WHERE rollup = 'occupancy_point_hourly_partial')
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
            SELECT
                time_bucket(INTERVAL '1 hour', ts), point_id, count(*),
                count(*) FILTER (WHERE generator_running),
                (array_agg(fuel_level_l ORDER BY ts)
                    FILTER (WHERE fuel_level_l IS NOT NULL))[1],
                (array_agg(fuel_level_l ORDER BY ts DESC)
                    FILTER (WHERE fuel_level_l IS NOT NULL))[1],
                min(fuel_level_l), max(fuel_level_l)
            FROM telemetry
            WHERE ts >= slice_from AND ts < least(slice_from + INTERVAL '1 day', upto)
            GROUP BY 1, 2;
            slice_from := slice_from + INTERVAL '1 day';
        END LOOP;
    END IF;
    INSERT INTO rollup_watermarks VALUES ('telemetry_hourly', upto)
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;
    -- The hour so far, replaced on each refresh.
    DELETE FROM telemetry_hourly_stored WHERE bucket >= upto;
    INSERT INTO telemetry_hourly_stored
    SELECT
        time_bucket(INTERVAL '1 hour', ts), point_id, count(*),
        count(*) FILTER (WHERE generator_running),
        (array_agg(fuel_level_l ORDER BY ts) FILTER (WHERE fuel_level_l IS NOT NULL))[1],
        (array_agg(fuel_level_l ORDER BY ts DESC) FILTER (WHERE fuel_level_l IS NOT NULL))[1],
        min(fuel_level_l), max(fuel_level_l)
    FROM telemetry
    WHERE ts >= upto AND ts < upto_at
    GROUP BY 1, 2;
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
            SELECT
                time_bucket(INTERVAL '1 hour', ts), point_id, count(*),
                avg(people_inside)::double precision, max(people_inside),
                (array_agg(visits_1h ORDER BY ts DESC))[1]
            FROM occupancy
            WHERE ts >= slice_from AND ts < least(slice_from + INTERVAL '1 day', upto)
            GROUP BY 1, 2;
            slice_from := slice_from + INTERVAL '1 day';
        END LOOP;
    END IF;
    INSERT INTO rollup_watermarks VALUES ('occupancy_point_hourly', upto)
    ON CONFLICT (rollup) DO UPDATE SET materialized_to = excluded.materialized_to;
    DELETE FROM occupancy_point_hourly_stored WHERE bucket >= upto;
    INSERT INTO occupancy_point_hourly_stored
    SELECT
        time_bucket(INTERVAL '1 hour', ts), point_id, count(*),
        avg(people_inside)::double precision, max(people_inside),
        (array_agg(visits_1h ORDER BY ts DESC))[1]
    FROM occupancy
    WHERE ts >= upto AND ts < upto_at
    GROUP BY 1, 2;
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
