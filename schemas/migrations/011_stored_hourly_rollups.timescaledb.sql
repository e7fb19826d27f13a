-- TimescaleDB mode: the hourly rollups are continuous aggregates already (migration 006);
-- plain mode stores them in this version. Nothing to change here.
COMMENT ON VIEW fuel_use_daily IS
    'Approximate litres burned per UTC day and oblast (see docs/database.md, "Fuel burned").';
