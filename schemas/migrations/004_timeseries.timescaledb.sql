-- TimescaleDB mode: hypertables, compression and retention. Chunk intervals keep one chunk
-- of the busiest table with its indexes well inside a quarter of the server's memory at 10x
-- the national load (telemetry: ~450 rows/s today).

SELECT create_hypertable('telemetry', by_range('ts', INTERVAL '6 hours'));
SELECT create_hypertable('occupancy', by_range('ts', INTERVAL '1 day'));
SELECT create_hypertable('fuel_forecast', by_range('ts', INTERVAL '1 day'));
SELECT create_hypertable('visits', by_range('ts', INTERVAL '1 day'));
SELECT create_hypertable('activations', by_range('ts', INTERVAL '7 days'));
SELECT create_hypertable('alert_events', by_range('ts', INTERVAL '7 days'));

-- Compression: chunks older than 7 days are rarely written (late data only) and mostly read
-- per point over time ranges, so segment by point and order by time.
ALTER TABLE telemetry SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'point_id',
    timescaledb.compress_orderby = 'ts DESC'
);
ALTER TABLE occupancy SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'point_id',
    timescaledb.compress_orderby = 'ts DESC'
);
ALTER TABLE fuel_forecast SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'point_id',
    timescaledb.compress_orderby = 'ts DESC'
);
ALTER TABLE visits SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'point_id',
    timescaledb.compress_orderby = 'ts DESC'
);
SELECT add_compression_policy('telemetry', INTERVAL '7 days');
SELECT add_compression_policy('occupancy', INTERVAL '7 days');
SELECT add_compression_policy('fuel_forecast', INTERVAL '7 days');
SELECT add_compression_policy('visits', INTERVAL '7 days');
-- activations and alert_events stay uncompressed: a few rows per point per day, and
-- alerts_active reads the latest event of every fingerprint.

-- Retention: raw high-rate series for 90 days; their hourly continuous aggregates (migration
-- 006) keep the history, and their refresh window (3 days) never reaches dropped chunks.
-- Visits (analysts' visits per day) for two years, alert events for one. Activations are
-- small and are the record of how fast standby points opened: kept.
SELECT add_retention_policy('telemetry', INTERVAL '90 days');
SELECT add_retention_policy('occupancy', INTERVAL '90 days');
SELECT add_retention_policy('fuel_forecast', INTERVAL '90 days');
SELECT add_retention_policy('visits', INTERVAL '730 days');
SELECT add_retention_policy('alert_events', INTERVAL '365 days');
