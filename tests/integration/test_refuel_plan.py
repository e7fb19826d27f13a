"""The refuel plan (view ``refuel_plan``, ``nezlam refuel-plan``) on the local PostgreSQL, in a
throwaway database migrated by the fixture. The view's SQL is the same in TimescaleDB mode,
where test_timescaledb_wasm.py applies it."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import make_conninfo

from streams.alerting.rules_file import load_alert_rules
from streams.config import get_settings
from streams.db.migrate import apply_migrations
from streams.logistics.refuel_plan import (
    COLUMNS,
    fetch_plan,
    lead_time_rows,
    refuel_plan,
    sync_lead_times,
)
from tests.integration.scratch_db import scratch_postgres

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[tuple[object, ...]]

POINTS = (
    # point_id, name, kind, oblast, tank
    ("rp-kyiv", "School 1", "permanent", "Київська область", 200),
    ("rp-kharkiv", "Library 2", "permanent", "Харківська область", 300),
    ("rp-tent", "Tent 3", "mobile", "Київська область", 100),
    ("rp-idle", "Club 4", "standby", "Одеська область", 150),
    ("rp-unknown", "Hall 5", "permanent", "Одеська область", 150),
    ("rp-noforecast", "Hall 6", "permanent", "Одеська область", 150),
)
# point_id, age of the forecast, level, burn rate, hours to empty, runs dry in (None: stopped)
FORECASTS = (
    ("rp-kyiv", "3 hours", 120.0, 10.0, 12.0, None),  # an older forecast, superseded below
    ("rp-kyiv", "1 hour", 40.0, 5.0, 8.0, "7 hours"),  # due in 7 - 6 = 1 h
    ("rp-kharkiv", "10 minutes", 150.0, 10.0, 15.0, "15 hours"),  # due in 15 - 10 = 5 h
    ("rp-tent", "5 minutes", 10.0, 5.0, 2.0, "2 hours"),  # due in 2 - 4 = -2 h: overdue
    ("rp-idle", "2 hours", 140.0, 4.0, 35.0, None),  # generator off: 35 h of running left
    ("rp-unknown", "1 minute", 75.0, None, None, None),  # no burn rate yet
)


@pytest.fixture(scope="module")
def scratch_dsn() -> Iterator[str]:
    """Admin DSN of a fresh, migrated database with the scenario's points and forecasts."""
    with scratch_postgres() as dsn:
        apply_migrations(dsn, mode="off")
        with psycopg.connect(dsn, autocommit=True) as conn:
            _insert_scenario(conn)
        yield dsn


def _insert_scenario(conn: Conn) -> None:
    for point_id, name, kind, oblast, tank in POINTS:
        conn.execute(
            "INSERT INTO points (point_id, name, kind, oblast, hromada, lat, lon,"
            " capacity_people, fuel_tank_l)"
            " VALUES (%s, %s, %s, %s, 'Громада', 50.45, 30.52, 80, %s)",
            [point_id, name, kind, oblast, tank],
        )
    for point_id, age, level, rate, hours, dry_in in FORECASTS:
        conn.execute(
            "INSERT INTO fuel_forecast (point_id, ts, fuel_level_l, burn_rate_lph, hours_to_empty,"
            " empty_at, confidence, generator_running)"
            " VALUES (%s, now() - %s::interval, %s, %s, %s, now() + %s::interval, 0.8, %s)",
            [point_id, age, level, rate, hours, dry_in, dry_in is not None],
        )


@pytest.fixture()
def synced(scratch_dsn: str) -> str:
    """The DSN after the shipped rules' lead times were written, as the worker does at start."""
    rules = load_alert_rules(get_settings().alert_rules_file)
    writer = make_conninfo(scratch_dsn, user="nezlam_writer")
    with psycopg.connect(writer) as conn:  # the pipeline's own role may replace them
        assert sync_lead_times(conn, rules) == len(lead_time_rows(rules))
    return scratch_dsn


def test_the_plan_orders_points_by_when_a_truck_must_leave(synced: str) -> None:
    with psycopg.connect(synced) as conn:
        rows = fetch_plan(conn)
    assert [r.point_id for r in rows] == [
        "rp-tent",
        "rp-kyiv",
        "rp-kharkiv",
        "rp-idle",
        "rp-unknown",
    ]
    by_id = {r.point_id: r for r in rows}
    tent, kyiv, kharkiv, idle, unknown = (
        by_id[p] for p in ("rp-tent", "rp-kyiv", "rp-kharkiv", "rp-idle", "rp-unknown")
    )
    assert (tent.lead_time_hours, kyiv.lead_time_hours, kharkiv.lead_time_hours) == (4, 6, 10)
    assert tent.hours_to_empty == pytest.approx(2.0, abs=0.01)
    assert tent.hours_until_refuel_due == pytest.approx(-2.0, abs=0.01)
    assert kyiv.hours_until_refuel_due == pytest.approx(1.0, abs=0.01)
    assert kyiv.fuel_level_l == 40.0 and kyiv.litres_to_fill == 160.0  # the latest forecast
    assert kharkiv.hours_until_refuel_due == pytest.approx(5.0, abs=0.01)
    assert idle.hours_to_empty == 35.0 and idle.empty_at is None
    assert idle.hours_until_refuel_due == 29.0
    assert unknown.hours_until_refuel_due is None and unknown.litres_to_fill == 75.0
    assert "rp-noforecast" not in by_id


def test_filters(synced: str) -> None:
    with psycopg.connect(synced) as conn:
        assert [r.point_id for r in fetch_plan(conn, oblast="харківська")] == ["rp-kharkiv"]
        assert [r.point_id for r in fetch_plan(conn, oblast="Київська область")] == [
            "rp-tent",
            "rp-kyiv",
        ]
        assert [r.point_id for r in fetch_plan(conn, due_within_hours=1.5)] == [
            "rp-tent",
            "rp-kyiv",
        ]
        assert [r.point_id for r in fetch_plan(conn, limit=1)] == ["rp-tent"]


def test_without_a_sync_the_default_lead_time_applies(scratch_dsn: str) -> None:
    with psycopg.connect(scratch_dsn) as conn:
        conn.execute("DELETE FROM fuel_lead_times")
        default = conn.execute("SELECT nezlam_fuel_lead_time_hours('mobile', 'x')").fetchone()
        conn.execute(
            "INSERT INTO fuel_lead_times VALUES ('*', '*', 6), ('x', '*', 9),"
            " ('*', 'mobile', 3), ('x', 'mobile', 11)"
        )
        found = conn.execute(
            "SELECT nezlam_fuel_lead_time_hours('mobile', 'x'),"
            " nezlam_fuel_lead_time_hours('permanent', 'x'),"
            " nezlam_fuel_lead_time_hours('mobile', 'y'),"
            " nezlam_fuel_lead_time_hours('permanent', 'y')"
        ).fetchone()
        conn.rollback()
    assert default == (6.0,)
    assert found == (11.0, 9.0, 3.0, 6.0)  # oblast and kind, oblast, kind, default


def test_the_command_prints_table_csv_and_json(synced: str) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})  # a wide terminal for the table
    result = runner.invoke(refuel_plan, ["--dsn", synced, "--format", "csv"])
    assert result.exit_code == 0, result.output
    records = list(csv.DictReader(io.StringIO(result.output)))
    assert tuple(records[0]) == COLUMNS
    assert [r["point_id"] for r in records] == [
        "rp-tent",
        "rp-kyiv",
        "rp-kharkiv",
        "rp-idle",
        "rp-unknown",
    ]
    assert records[1]["litres_to_fill"] == "160.0"
    assert records[0]["last_reading_at"].endswith("+00:00")

    result = runner.invoke(
        refuel_plan, ["--dsn", synced, "--format", "json", "--oblast", "Харківська"]
    )
    assert result.exit_code == 0, result.output
    [kharkiv] = json.loads(result.output)
    assert kharkiv["point_id"] == "rp-kharkiv" and kharkiv["lead_time_hours"] == 10.0
    assert set(kharkiv) == set(COLUMNS)

    result = runner.invoke(refuel_plan, ["--dsn", synced, "--due-within", "2"])
    assert result.exit_code == 0, result.output
    assert "Refuel plan: 2 points" in result.output
    assert "rp-tent" in result.output and "rp-kharkiv" not in result.output
    assert "-2.0 h" in result.output


def test_the_command_names_an_unreachable_database() -> None:
    result = CliRunner().invoke(
        refuel_plan, ["--dsn", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"]
    )
    assert result.exit_code == 1
    assert "cannot read the refuel plan" in result.output


def test_readers_may_read_the_plan(synced: str) -> None:
    for role in ("nezlam_reader", "nezlam_analyst"):
        with psycopg.connect(make_conninfo(synced, user=role)) as conn:
            assert len(fetch_plan(conn)) == 5
            # the analyst's sessions are read-only besides
            refused = (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)
            with pytest.raises(refused):
                conn.execute("DELETE FROM fuel_lead_times")


def test_the_view_has_the_documented_columns(scratch_dsn: str) -> None:
    with psycopg.connect(scratch_dsn) as conn:
        found = conn.execute(
            "SELECT column_name::text, data_type::text FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = 'refuel_plan'"
            " ORDER BY ordinal_position"
        ).fetchall()
    tz, number = "timestamp with time zone", "double precision"
    assert found == [
        ("point_id", "text"), ("name", "text"), ("oblast", "text"), ("hromada", "text"),
        ("kind", "text"), ("lat", number), ("lon", number), ("fuel_tank_l", number),
        ("fuel_level_l", number), ("litres_to_fill", number), ("burn_rate_lph", number),
        ("hours_to_empty", number), ("empty_at", tz), ("hours_until_refuel_due", number),
        ("last_reading_at", tz), ("lead_time_hours", number), ("generator_running", "boolean"),
        ("confidence", number),
    ]  # fmt: skip


def test_workers_starting_together_both_sync_the_lead_times(scratch_dsn: str) -> None:
    """Two workers of a group start at once: the second sync waits for the first, then wins."""
    rules = load_alert_rules(get_settings().alert_rules_file)
    writer = make_conninfo(scratch_dsn, user="nezlam_writer")
    failures: list[BaseException] = []
    with psycopg.connect(writer) as first, psycopg.connect(writer) as second:
        second_pid = second.info.backend_pid

        def sync_second() -> None:
            try:
                sync_lead_times(second, rules)
            except BaseException as exc:  # handed to the test thread
                failures.append(exc)

        with first.transaction():  # the first worker's sync, not yet committed
            sync_lead_times(first, rules)
            other = threading.Thread(target=sync_second)
            other.start()
            with psycopg.connect(scratch_dsn, autocommit=True) as watch:
                for _ in range(500):  # until the second sync waits on the first's lock
                    waiting = watch.execute(
                        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                        [second_pid]).fetchone()
                    if waiting and waiting[0]:
                        break
                    time.sleep(0.01)
        other.join(timeout=10)
        assert not other.is_alive()
        assert failures == []
        count = second.execute("SELECT count(*) FROM fuel_lead_times").fetchone()
    assert count == (len(lead_time_rows(rules)),)
