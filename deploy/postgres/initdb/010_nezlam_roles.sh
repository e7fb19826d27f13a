#!/bin/sh
# Run once by the official PostgreSQL/TimescaleDB image when it initialises an empty data
# directory (mounted into /docker-entrypoint-initdb.d by deploy/compose.yaml): the pipeline's
# three login roles, with the passwords from deploy/.env. Migration 001 finds them present and
# grants their privileges. Passwords go through psql variables (:'name'), so any character in
# them is quoted correctly. Rotating a password later: ALTER ROLE (docs/operations.md).
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v writer_pw="$NEZLAM_WRITER_PASSWORD" \
  -v reader_pw="$NEZLAM_READER_PASSWORD" \
  -v analyst_pw="$NEZLAM_ANALYST_PASSWORD" <<'SQL'
CREATE ROLE nezlam_writer LOGIN PASSWORD :'writer_pw';
CREATE ROLE nezlam_reader LOGIN PASSWORD :'reader_pw';
CREATE ROLE nezlam_analyst LOGIN PASSWORD :'analyst_pw';
SQL
