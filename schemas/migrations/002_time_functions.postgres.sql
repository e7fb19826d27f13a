-- Plain PostgreSQL mode: a time_bucket with TimescaleDB's signature and default origin
-- (Monday 2000-01-03 00:00 UTC), so the same SQL, including Grafana's $__timeGroup with the
-- TimescaleDB toggle (time_bucket('300.000s', ts)), runs in both modes. date_bin accepts
-- fixed-length intervals only (no months), which covers every bucket the project uses.
CREATE OR REPLACE FUNCTION time_bucket(bucket_width interval, ts timestamptz)
    RETURNS timestamptz
    LANGUAGE sql
    IMMUTABLE PARALLEL SAFE STRICT
RETURN date_bin(bucket_width, ts, TIMESTAMPTZ '2000-01-03 00:00:00+00');

COMMENT ON FUNCTION time_bucket(interval, timestamptz) IS
    'TimescaleDB-compatible time_bucket over date_bin (plain PostgreSQL mode).';
