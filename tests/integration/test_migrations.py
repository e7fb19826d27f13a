"""The migrations in plain PostgreSQL mode, on the local cluster of ``nezlam stack up``, in a
throwaway database created and dropped by the fixture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from streams.db.migrate import MigrationError, apply_migrations
from streams.db.migration_files import MIGRATIONS_DIR, POSTGRES, plan
from tests.integration.db_contract import (
    EXPECTED_COLUMNS,
    check_scenario,
    insert_scenario,
    relation_columns,
)
from tests.integration.scratch_db import scratch_postgres

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[tuple[object, ...]]

_TELEMETRY_BATCH = (
    "INSERT INTO telemetry (point_id, ts, status, power, generator_running, fuel_level_l,"
    " heating_on, internet_up, indoor_temp_c, headcount)"
    " SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::text[], %s::text[],"
    " %s::boolean[], %s::float8[], %s::boolean[], %s::boolean[], %s::float8[], %s::int[])"
    " ON CONFLICT DO NOTHING"
)
# The plain mode's stored rollups and their time column.
STORED_ROLLUPS = {
    "telemetry_hourly_stored": "bucket",
    "occupancy_point_hourly_stored": "bucket",
    "occupancy_oblast_hourly_stored": "bucket",
    "telemetry_oblast_daily_stored": "day",
}
_ALERT_INSERT = (
    "INSERT INTO alert_events (fingerprint, ts, status, alertname, severity, point_id, summary)"
    " VALUES ('x', now(), 'firing', 'fuel_low', 'warning', 'p', 'fuel low')"
)


@pytest.fixture(scope="module")
def scratch_dsn() -> Iterator[str]:
    """Admin DSN of a fresh database on the local cluster, dropped afterwards."""
    with scratch_postgres() as dsn:
        yield dsn


@pytest.fixture(scope="module")
def migration_runs(scratch_dsn: str) -> tuple[list[str], list[str]]:
    """Labels applied by a first and a second run in mode "off" (plain PostgreSQL)."""
    first = apply_migrations(scratch_dsn, mode="off")
    second = apply_migrations(scratch_dsn, mode="off")
    return first, second


@pytest.fixture()
def admin(scratch_dsn: str, migration_runs: tuple[list[str], list[str]]) -> Iterator[Conn]:
    """An autocommit connection to the migrated database as the schema owner."""
    with psycopg.connect(scratch_dsn, autocommit=True) as conn:
        yield conn


def _connect_as(scratch_dsn: str, role: str) -> Conn:
    return psycopg.connect(make_conninfo(scratch_dsn, user=role), autocommit=True)


def test_every_migration_applies_once(migration_runs: tuple[list[str], list[str]]) -> None:
    first, second = migration_runs
    assert first == [m.label for m in plan(POSTGRES)]
    assert second == []


def test_relations_match_the_contract(admin: Conn) -> None:
    assert relation_columns(admin) == EXPECTED_COLUMNS


def test_auto_follows_the_recorded_mode_and_on_is_refused(scratch_dsn: str, admin: Conn) -> None:
    assert apply_migrations(scratch_dsn, mode="auto") == []
    with pytest.raises(MigrationError, match="postgres mode"):
        apply_migrations(scratch_dsn, mode="on")


def test_changed_applied_migration_is_an_error(
    scratch_dsn: str, admin: Conn, tmp_path: Path
) -> None:
    for path in MIGRATIONS_DIR.glob("*.sql"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    edited = tmp_path / "003_tables.sql"
    edited.write_text(edited.read_text() + "\n-- an edit after the fact\n")
    with pytest.raises(MigrationError, match="003_tables"):
        apply_migrations(scratch_dsn, mode="off", directory=tmp_path)


def test_representative_queries(scratch_dsn: str, admin: Conn) -> None:
    insert_scenario(admin)
    check_scenario(admin)
    # Stored by the stack's refresh (both levels of rollup), the rollups answer the same; a
    # second refresh recomputes its lookback window and doubles nothing.
    with _connect_as(scratch_dsn, "nezlam_writer") as writer:
        writer.execute("SELECT refresh_hourly_rollups()")
    for table, column in STORED_ROLLUPS.items():
        stored = admin.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE {} < '2026-01-02'").format(
                sql.Identifier(table), sql.Identifier(column))
        ).fetchone()
        assert stored is not None and int(str(stored[0])) > 0, f"{table} holds the scenario"
    check_scenario(admin)
    with _connect_as(scratch_dsn, "nezlam_writer") as writer:
        writer.execute("SELECT refresh_hourly_rollups(INTERVAL '400 days')")
    check_scenario(admin)


def test_time_bucket_is_immutable_and_matches_timescaledb(admin: Conn) -> None:
    row = admin.execute(
        "SELECT p.provolatile::text, p.proparallel::text,"
        " time_bucket('300.000s', TIMESTAMPTZ '2026-01-01 10:07:30+00')"
        " FROM pg_proc AS p WHERE p.proname = 'time_bucket'"
    ).fetchall()
    assert row == [("i", "s", datetime(2026, 1, 1, 10, 5, tzinfo=UTC))]


@pytest.mark.parametrize("role", ["nezlam_reader", "nezlam_analyst"])
def test_read_only_roles_read_but_cannot_insert(scratch_dsn: str, admin: Conn, role: str) -> None:
    with _connect_as(scratch_dsn, role) as conn:
        for view in ("point_status", "alerts_active", "occupancy_hourly", "fuel_use_daily"):
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(view)))
        # An analyst's session starts read-only; lifting that must still meet the grants.
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(_ALERT_INSERT)


def test_analyst_sessions_are_read_only_and_time_limited(scratch_dsn: str, admin: Conn) -> None:
    with _connect_as(scratch_dsn, "nezlam_analyst") as conn:
        settings = conn.execute(
            "SELECT current_setting('default_transaction_read_only'),"
            " current_setting('statement_timeout')"
        ).fetchone()
        assert settings == ("on", "5min")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(_ALERT_INSERT)


def test_writer_batch_insert_is_idempotent(scratch_dsn: str, admin: Conn) -> None:
    batch = [
        ["w1", "w1"],
        ["2026-02-01 10:00+00", "2026-02-01 10:01+00"],
        ["open", "open"],
        ["generator", "generator"],
        [True, True],
        [120.0, 119.5],
        [True, True],
        [True, None],
        [18.5, None],
        [4, None],
    ]
    with _connect_as(scratch_dsn, "nezlam_writer") as writer:
        assert writer.execute(_TELEMETRY_BATCH, batch).rowcount == 2
        # At-least-once delivery replays the batch: nothing new may appear.
        assert writer.execute(_TELEMETRY_BATCH, batch).rowcount == 0
        writer.execute(
            "INSERT INTO points (point_id, name, kind, oblast, hromada, lat, lon,"
            " capacity_people, fuel_tank_l) VALUES ('w1', 'Hall', 'permanent', 'Lvivska',"
            " 'Lviv', 49.8, 24.0, 50, 300) ON CONFLICT (point_id) DO UPDATE"
            " SET name = EXCLUDED.name, updated_at = now()"
        )
    count = admin.execute("SELECT count(*) FROM telemetry WHERE point_id = 'w1'").fetchone()
    assert count == (2,)


def test_current_state_keeps_the_latest_row_whatever_the_arrival_order(
    scratch_dsn: str, admin: Conn
) -> None:
    with _connect_as(scratch_dsn, "nezlam_writer") as writer:
        # The newest report first, then a late one: the state keeps the newest.
        writer.execute(_TELEMETRY_BATCH, [["cs1", "cs1"],
                                          ["2026-02-02 10:05+00", "2026-02-02 10:00+00"],
                                          ["open", "closed"], ["grid", "none"], [False, False],
                                          [50.0, 40.0], [True, True], [True, True],
                                          [20.0, 20.0], [3, 4]])
        # A resolution arriving before the firing event of the same moment still wins.
        for status in ("resolved", "firing"):
            writer.execute(
                "INSERT INTO alert_events (fingerprint, ts, status, alertname, severity,"
                " point_id, summary) VALUES ('cs-f', '2026-02-02 10:00+00', %s, 'fuel_low',"
                " 'warning', 'cs1', 'fuel low')", [status])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            writer.execute("UPDATE telemetry_now SET ts = now()")
    assert admin.execute(
        "SELECT ts, status, headcount FROM telemetry_now WHERE point_id = 'cs1'"
    ).fetchall() == [(datetime(2026, 2, 2, 10, 5, tzinfo=UTC), "open", 3)]
    assert admin.execute(
        "SELECT status FROM alert_state WHERE fingerprint = 'cs-f'").fetchall() == [("resolved",)]
    assert admin.execute(
        "SELECT count(*) FROM alerts_active WHERE fingerprint = 'cs-f'").fetchall() == [(0,)]


_LATEST = {
    "telemetry_now": "SELECT DISTINCT ON (point_id) point_id, ts, status, power,"
    " generator_running, fuel_level_l, heating_on, internet_up, indoor_temp_c, headcount"
    " FROM telemetry ORDER BY point_id, ts DESC",
    "occupancy_now": "SELECT DISTINCT ON (point_id) point_id, ts, people_inside, visits_15m,"
    " visits_1h, visits_24h, utilisation FROM occupancy ORDER BY point_id, ts DESC",
    "fuel_forecast_now": "SELECT DISTINCT ON (point_id) point_id, ts, fuel_level_l,"
    " burn_rate_lph, hours_to_empty, empty_at, confidence, generator_running, refuel_detected"
    " FROM fuel_forecast ORDER BY point_id, ts DESC",
}
_RAW_GAPS = (
    "SELECT point_id, ts, next_ts FROM (SELECT point_id, ts,"
    " lead(ts) OVER (PARTITION BY point_id ORDER BY ts) AS next_ts FROM telemetry) AS paired"
    " WHERE next_ts - ts > INTERVAL '5 minutes' AND point_id LIKE 'cu%' ORDER BY 1, 2"
)


def test_catching_up_a_long_history_answers_as_one_pass(scratch_dsn: str, admin: Conn) -> None:
    """The current state rebuilt by key probes and the gaps stored a day of reports at a time
    (018) equal one pass over the whole history: a silence longer than a day (so across the
    slices' boundary) and a point registered nowhere included."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    # cu1 every 2 minutes for 3 days, silent for 30 hours in the middle; cu2 (not in points)
    # every 2 minutes on the second day only.
    reports = [("cu1", start + timedelta(minutes=2 * i)) for i in range(3 * 720)
               if not 1000 <= i < 1000 + 900]
    reports += [("cu2", start + timedelta(days=1, minutes=2 * i)) for i in range(720)]
    n = len(reports)
    with _connect_as(scratch_dsn, "nezlam_writer") as writer:
        writer.execute(_TELEMETRY_BATCH, [[p for p, _ in reports], [t for _, t in reports],
                                          ["open"] * n, ["grid"] * n, [False] * n, [50.0] * n,
                                          [True] * n, [True] * n, [20.0] * n, [1] * n])
        # The whole history, whatever refreshed before: from before its first report.
        lookback = admin.execute(
            "SELECT now() - min(ts) + INTERVAL '1 day' FROM telemetry").fetchone()
        assert lookback is not None
        writer.execute("SELECT refresh_report_gaps(%s)", [lookback[0]])
    kept = {table: admin.execute(sql.SQL("SELECT * FROM {} ORDER BY point_id").format(
        sql.Identifier(table))).fetchall() for table in _LATEST}
    admin.execute("SELECT rebuild_current_state()")
    for table, latest in _LATEST.items():
        rebuilt = admin.execute(sql.SQL("SELECT * FROM {} ORDER BY point_id").format(
            sql.Identifier(table))).fetchall()
        assert rebuilt == admin.execute(latest.encode()).fetchall() == kept[table], table
    gaps = admin.execute(_RAW_GAPS).fetchall()
    assert [(row[0], row[2] - row[1]) for row in gaps  # type: ignore[operator]
            ] == [("cu1", timedelta(hours=30, minutes=2))]
    assert admin.execute(
        "SELECT point_id, silent_from, silent_until FROM report_gaps_stored"
        " WHERE point_id LIKE 'cu%' ORDER BY 1, 2").fetchall() == gaps
    assert admin.execute(
        "SELECT last_ts FROM report_gaps_frontier WHERE point_id = 'cu2'").fetchall() == [
        (start + timedelta(days=1, minutes=2 * 719),)]


_ONE_PASS_TELEMETRY = (
    "SELECT time_bucket(INTERVAL '1 hour', ts), point_id, count(*),"
    " count(*) FILTER (WHERE generator_running),"
    " (array_agg(fuel_level_l ORDER BY ts) FILTER (WHERE fuel_level_l IS NOT NULL))[1],"
    " (array_agg(fuel_level_l ORDER BY ts DESC) FILTER (WHERE fuel_level_l IS NOT NULL))[1],"
    " min(fuel_level_l), max(fuel_level_l) FROM telemetry WHERE point_id = 'hs1' GROUP BY 1, 2"
)
_ONE_PASS_OCCUPANCY = (
    "SELECT time_bucket(INTERVAL '1 hour', ts), point_id, count(*),"
    " round(avg(people_inside), 9), max(people_inside),"
    " (array_agg(visits_1h ORDER BY ts DESC))[1] FROM occupancy WHERE point_id = 'hs1'"
    " GROUP BY 1, 2"
)


def test_the_hour_so_far_is_stored_and_merged_with_the_readings_since(
    scratch_dsn: str, admin: Conn
) -> None:
    """Refreshed in the middle of an hour, then a minute's readings at a time (022), the
    hourly views take that hour's stored part and the readings since, and answer as one pass:
    the first fuel level from the stored part, the last, the minimum and the latest visits from
    the newer one, counts and means over both. In the next hour the minute's refresh moves the
    whole hours on."""
    hour = admin.execute(
        "SELECT time_bucket(INTERVAL '1 hour', now()) - INTERVAL '2 hours'").fetchone()
    assert hour is not None and isinstance(hour[0], datetime)
    start = hour[0]
    minutes = range(60)
    ts = [start + timedelta(minutes=m) for m in minutes]
    # Fuel falls while the generator runs; no level reported around the cuts.
    fuel = [None if 20 <= m < 30 else 500.0 - 2 * m for m in minutes]
    n = len(ts)
    with _connect_as(scratch_dsn, "nezlam_writer") as writer:
        writer.execute(_TELEMETRY_BATCH, [["hs1"] * n, ts, ["open"] * n, ["generator"] * n,
                                          [m % 3 > 0 for m in minutes], fuel, [True] * n,
                                          [True] * n, [20.0] * n, [m for m in minutes]])
        writer.execute(
            "INSERT INTO occupancy (point_id, ts, people_inside, visits_15m, visits_1h,"
            " visits_24h) SELECT 'hs1', t, mod(i * 7, 40), i, i * 2, i * 3"
            " FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS u (t, i)", [ts])
        writer.execute("SELECT refresh_hourly_rollups(refresh_at => %s)",
                       [start + timedelta(minutes=25)])
        for minute in (26, 40):
            writer.execute("SELECT refresh_hour_so_far(refresh_at => %s)",
                           [start + timedelta(minutes=minute)])
        cut = start + timedelta(minutes=40)
        assert admin.execute(
            "SELECT rollup, materialized_to FROM rollup_watermarks"
            " WHERE rollup LIKE '%_point_hourly%' OR rollup LIKE 'telemetry_hourly%'"
            " ORDER BY 1").fetchall() == [
            ("occupancy_point_hourly", start), ("occupancy_point_hourly_partial", cut),
            ("telemetry_hourly", start), ("telemetry_hourly_partial", cut)]
        # The hour so far is the hour up to the last run, kept apart from the whole hours.
        assert admin.execute(
            "SELECT bucket, readings, fuel_first, fuel_last FROM telemetry_hour_so_far"
            " WHERE point_id = 'hs1'").fetchall() == [(start, 40, 500.0, 422.0)]
        assert admin.execute(
            "SELECT samples, round(people_inside_avg::numeric, 9), people_inside_max,"
            " visits_1h_last FROM occupancy_hour_so_far WHERE point_id = 'hs1'"
        ).fetchall() == admin.execute(
            "SELECT count(*), round(avg(people_inside), 9), max(people_inside),"
            " (array_agg(visits_1h ORDER BY ts DESC))[1] FROM occupancy"
            " WHERE point_id = 'hs1' AND ts < %s", [cut]).fetchall()
        assert admin.execute(
            "SELECT count(*) FROM telemetry_hourly_stored WHERE bucket >= %s", [start]
        ).fetchall() == [(0,)]
        _check_hourly_views_answer_as_one_pass(admin)
        writer.execute("SELECT refresh_hour_so_far(refresh_at => %s)",
                       [start + timedelta(minutes=65)])
    assert admin.execute(
        "SELECT materialized_to FROM rollup_watermarks WHERE rollup = 'telemetry_hourly'"
    ).fetchall() == [(start + timedelta(hours=1),)]
    _check_hourly_views_answer_as_one_pass(admin)


def _check_hourly_views_answer_as_one_pass(admin: Conn) -> None:
    assert admin.execute(
        "SELECT * FROM telemetry_hourly WHERE point_id = 'hs1'").fetchall() == admin.execute(
        _ONE_PASS_TELEMETRY).fetchall()
    assert admin.execute(
        "SELECT bucket, point_id, samples, round(people_inside_avg::numeric, 9),"
        " people_inside_max, visits_1h_last FROM occupancy_point_hourly"
        " WHERE point_id = 'hs1'").fetchall() == admin.execute(_ONE_PASS_OCCUPANCY).fetchall()
