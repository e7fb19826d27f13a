-- Plain PostgreSQL mode: no hypertables, compression or retention. The tables are append-
-- mostly in time order, so a BRIN index on ts serves time-range scans at a tiny size (the
-- primary keys already serve per-point lookups).
CREATE INDEX telemetry_ts_brin ON telemetry USING brin (ts);
CREATE INDEX occupancy_ts_brin ON occupancy USING brin (ts);
CREATE INDEX fuel_forecast_ts_brin ON fuel_forecast USING brin (ts);
CREATE INDEX visits_ts_brin ON visits USING brin (ts);
CREATE INDEX activations_ts_brin ON activations USING brin (ts);
CREATE INDEX alert_events_ts_brin ON alert_events USING brin (ts);
