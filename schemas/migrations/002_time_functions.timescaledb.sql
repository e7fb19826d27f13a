-- TimescaleDB mode: the extension brings time_bucket, hypertables, continuous aggregates,
-- compression and retention.
CREATE EXTENSION IF NOT EXISTS timescaledb;
