-- Fuel burned per day (fuel_use_daily over telemetry_oblast_daily) and analyst queries 2 and 9
-- still aggregated the current UTC day from every point-hour at query time (021): 269,274
-- stored hours at 20:00 UTC nationally, read, sorted and grouped per point on each refresh of
-- the panel, 792 ms at 7 days of national history (docs/database.md). The refresh now also
-- stores the current day per point (13,464 rows), from the hours it has just stored; the view
-- reads those and adds only the hours since the hourly watermark, per point, before summing
-- per oblast. Each part is a sum or a bool_or over the point's hours, so the split changes no
-- answer. The whole days (015's table) and TimescaleDB mode are unchanged.
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

CREATE OR REPLACE FUNCTION refresh_hourly_rollups(lookback interval DEFAULT INTERVAL '3 hours')
    RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    upto timestamptz := time_bucket(INTERVAL '1 hour', now());
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
