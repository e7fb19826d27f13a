-- The hourly rollups' first refresh (or a catch-up after a long stop) a day of raw readings
-- per statement.
--
-- 015's refresh aggregated every reading since its watermark in one statement: the ordered
-- aggregates (the first and last fuel level of each point-hour) sort their input, so a first
-- refresh over 7 days of national history sorted about 180 M readings through temporary files
-- (about 1.3 GB per day at work_mem 4MB), and over 90 days would want more than 100 GB. The
-- hours are whole in every slice (the slices start on the hour), so the stored rows are the
-- same; a periodic refresh (3 hours) is one slice, as before.
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
END
$$;
