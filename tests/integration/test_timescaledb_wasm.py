"""The migrations in TimescaleDB mode, against TimescaleDB compiled to WASM (PGlite).

The server is single-user: the roles' privileges are checked with SET ROLE, which runs the
same privilege checks as a login of that role (the login-time settings of nezlam_analyst are
checked on real PostgreSQL in test_migrations.py). It serves one connection at a time, so the
module's connection opens only after the migration runs have closed theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import psycopg
import pytest
from psycopg import sql

from streams.db.migrate import apply_migrations
from streams.db.migration_files import TIMESCALEDB, plan
from tests.integration import dashboard_db
from tests.integration.db_contract import (
    CONTINUOUS_AGGREGATES,
    CONTINUOUS_AGGREGATES_IN_ORDER,
    EXPECTED_COLUMNS,
    HYPERTABLES,
    check_scenario,
    insert_scenario,
    relation_columns,
)
from tests.integration.openings_scenario import check_openings_answer_as_the_raw_lookup
from tests.integration.privileges import (
    READ_ONLY_ROLES,
    check_only_the_writer_refreshes,
    check_read_only_role_cannot_write_or_create,
    check_writer_cannot_change_history,
    check_writer_runs_every_sink_statement_twice,
)

pytestmark = [pytest.mark.integration, pytest.mark.timescaledb]

Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture(scope="module")
def migration_runs(tsdb_wasm_dsn: str) -> tuple[list[str], list[str]]:
    """Labels applied by a first and by a second ``migrate`` run in mode "on"."""
    first = apply_migrations(tsdb_wasm_dsn, mode="on")
    second = apply_migrations(tsdb_wasm_dsn, mode="on")
    return first, second


@pytest.fixture(scope="module")
def tsdb(tsdb_wasm_dsn: str, migration_runs: tuple[list[str], list[str]]) -> Iterator[Conn]:
    """The one connection to the migrated TimescaleDB, in autocommit mode, preparing nothing
    (the server is one backend: the migration runner's prepared statements are still there)."""
    with dashboard_db.connect(tsdb_wasm_dsn) as conn:
        yield conn


def test_every_migration_applies_once(migration_runs: tuple[list[str], list[str]]) -> None:
    first, second = migration_runs
    assert first == [m.label for m in plan(TIMESCALEDB)]
    assert second == []


def test_mode_is_recorded(tsdb: Conn) -> None:
    modes = tsdb.execute("SELECT DISTINCT mode FROM schema_migrations").fetchall()
    assert modes == [(TIMESCALEDB,)]
    extension = tsdb.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    assert extension.fetchone() == (1,)


def test_relations_match_the_contract(tsdb: Conn) -> None:
    assert relation_columns(tsdb) == EXPECTED_COLUMNS


def test_time_series_tables_are_hypertables(tsdb: Conn) -> None:
    rows = tsdb.execute(
        "SELECT hypertable_name::text FROM timescaledb_information.hypertables"
        " WHERE hypertable_schema = 'public'"
    ).fetchall()
    assert {r[0] for r in rows} == HYPERTABLES


def test_hourly_rollups_are_continuous_aggregates(tsdb: Conn) -> None:
    rows = tsdb.execute(
        "SELECT view_name::text, materialized_only"
        " FROM timescaledb_information.continuous_aggregates"
    ).fetchall()
    assert {str(view): only for view, only in rows} == dict.fromkeys(CONTINUOUS_AGGREGATES, False)


def test_policies_exist(tsdb: Conn) -> None:
    rows = tsdb.execute(
        "SELECT proc_name::text, hypertable_name::text FROM timescaledb_information.jobs"
        " WHERE hypertable_name IS NOT NULL"
    ).fetchall()
    by_kind: dict[str, set[str]] = {}
    for proc, relation in rows:
        by_kind.setdefault(str(proc), set()).add(str(relation))
    assert by_kind == {
        "policy_compression": {"telemetry", "occupancy", "fuel_forecast", "visits"},
        "policy_retention": {"telemetry", "occupancy", "fuel_forecast", "visits", "alert_events"},
        "policy_refresh_continuous_aggregate": CONTINUOUS_AGGREGATES,
    }


def test_representative_queries(tsdb: Conn) -> None:
    insert_scenario(tsdb)
    for view in CONTINUOUS_AGGREGATES_IN_ORDER:
        tsdb.execute(
            sql.SQL("CALL refresh_continuous_aggregate({}, NULL, NULL)").format(sql.Literal(view))
        )
    check_scenario(tsdb)
    # The refresh materialised the buckets: the answers did not come from real time alone.
    targets = tsdb.execute(
        "SELECT materialization_hypertable_schema::text, materialization_hypertable_name::text"
        " FROM timescaledb_information.continuous_aggregates"
    ).fetchall()
    for schema, table in targets:
        stored = tsdb.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(str(schema), str(table)))
        ).fetchone()
        assert stored is not None and int(str(stored[0])) > 0


def test_replay_into_a_compressed_chunk_adds_no_row(tsdb: Conn) -> None:
    insert = (
        "INSERT INTO telemetry (point_id, ts, status, power, generator_running, fuel_level_l,"
        " heating_on) VALUES ('c1', '2025-06-01 10:00+00', 'open', 'grid', false, 50, true)"
        " ON CONFLICT DO NOTHING"
    )
    tsdb.execute(insert)
    tsdb.execute(
        "SELECT compress_chunk(c) FROM show_chunks('telemetry', older_than => TIMESTAMPTZ "
        "'2025-06-02 00:00+00') AS c"
    )
    compressed = tsdb.execute(
        "SELECT is_compressed FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'telemetry' AND range_end <= '2025-06-02 00:00+00'"
    ).fetchall()
    assert compressed == [(True,)]
    replay = tsdb.execute(insert)
    assert replay.rowcount == 0
    count = tsdb.execute("SELECT count(*) FROM telemetry WHERE point_id = 'c1'").fetchone()
    assert count == (1,)


@pytest.mark.parametrize("role", ["nezlam_reader", "nezlam_analyst"])
def test_read_only_roles_cannot_insert(tsdb: Conn, role: str) -> None:
    tsdb.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        for view in ("point_status", "alerts_active", "occupancy_hourly", "fuel_use_daily"):
            tsdb.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(view)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            tsdb.execute(
                "INSERT INTO points (point_id, name, kind, oblast, hromada, lat, lon,"
                " capacity_people, fuel_tank_l) VALUES ('r1', 'R', 'mobile', 'Lvivska',"
                " 'Lviv', 49.8, 24.0, 10, 50)"
            )
    finally:
        tsdb.execute("RESET ROLE")


def test_writer_inserts_and_upserts(tsdb: Conn) -> None:
    tsdb.execute("SET ROLE nezlam_writer")
    try:
        upsert = (
            "INSERT INTO points (point_id, name, kind, oblast, hromada, lat, lon,"
            " capacity_people, fuel_tank_l) VALUES ('w1', %s, 'mobile', 'Lvivska', 'Lviv',"
            " 49.8, 24.0, 10, 50) ON CONFLICT (point_id) DO UPDATE SET name = EXCLUDED.name,"
            " updated_at = now()"
        )
        tsdb.execute(upsert, ["Tent"])
        tsdb.execute(upsert, ["Tent renamed"])
        tsdb.execute(
            "INSERT INTO occupancy (point_id, ts, people_inside, visits_15m, visits_1h,"
            " visits_24h) VALUES ('w1', now(), 3, 1, 2, 3)"
        )
    finally:
        tsdb.execute("RESET ROLE")
    name = tsdb.execute("SELECT name FROM points WHERE point_id = 'w1'").fetchone()
    assert name == ("Tent renamed",)


@contextmanager
def _set_role(tsdb: Conn, role: str) -> Iterator[Conn]:
    tsdb.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        yield tsdb
    finally:
        tsdb.execute("RESET ROLE")


def test_writer_runs_every_sink_statement_on_hypertables(tsdb: Conn) -> None:
    check_writer_runs_every_sink_statement_twice(partial(_set_role, tsdb))


def test_writer_cannot_update_or_delete_history_on_hypertables(tsdb: Conn) -> None:
    check_writer_cannot_change_history(partial(_set_role, tsdb))


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_cannot_write_or_create(tsdb: Conn, role: str) -> None:
    check_read_only_role_cannot_write_or_create(partial(_set_role, tsdb), role)


def test_only_the_writer_refreshes_on_timescaledb(tsdb: Conn) -> None:
    check_only_the_writer_refreshes(partial(_set_role, tsdb))


def test_activation_openings_answer_as_the_raw_lookup_on_timescaledb(tsdb: Conn) -> None:
    check_openings_answer_as_the_raw_lookup(tsdb, partial(_set_role, tsdb))
