"""Daily partitions in plain PostgreSQL mode (migration 016): an existing database moves into
them unchanged, rows always land somewhere, the maintenance keeps a week ahead and the 90-day
retention, and the roles keep exactly their grants. On the local cluster of
``nezlam stack up``, in throwaway databases."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from streams.db.migrate import apply_migrations
from streams.db.migration_files import MIGRATIONS_DIR
from tests.integration.scratch_db import scratch_postgres

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[tuple[object, ...]]

PARTITIONED = ("telemetry", "fuel_forecast", "occupancy")
_NOW = datetime.now(UTC).replace(microsecond=0)
# Report ages in hours: recent, days back within the 90 days kept, and past them.
_AGES_H = (0, 1, 30, 24 * 20 + 5, 24 * 89, 24 * 95)
# Everything a reader would compare before and after the move.
_OBSERVED = {
    "telemetry": "SELECT point_id, ts, status, fuel_level_l FROM telemetry ORDER BY 1, 2",
    "fuel_forecast": "SELECT point_id, ts, hours_to_empty FROM fuel_forecast ORDER BY 1, 2",
    "occupancy": "SELECT point_id, ts, people_inside FROM occupancy ORDER BY 1, 2",
    "telemetry_hourly": "SELECT * FROM telemetry_hourly ORDER BY 1, 2",
    "occupancy_hourly": "SELECT * FROM occupancy_hourly ORDER BY 1, 2",
    "telemetry_now": "SELECT point_id, ts FROM telemetry_now ORDER BY 1",
}
_GRANTS = """
SELECT c.relname::text, g.grantee::regrole::text, g.privilege_type::text
FROM pg_class AS c, aclexplode(c.relacl) AS g
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v')
    AND NOT c.relispartition AND g.grantee <> c.relowner
ORDER BY 1, 2, 3
"""


@pytest.fixture()
def scratch_dsn() -> Iterator[str]:
    with scratch_postgres() as dsn:
        yield dsn


def _insert_history(conn: Conn, point: str, ages_h: tuple[int, ...]) -> None:
    for age in ages_h:
        ts = _NOW - timedelta(hours=age)
        conn.execute(
            "INSERT INTO telemetry (point_id, ts, status, power, generator_running,"
            " fuel_level_l) VALUES (%s, %s, 'open', 'generator', true, %s)",
            [point, ts, 100 - age / 24])
        conn.execute(
            "INSERT INTO fuel_forecast (point_id, ts, hours_to_empty, generator_running)"
            " VALUES (%s, %s, %s, true)", [point, ts, age / 10])
        conn.execute(
            "INSERT INTO occupancy (point_id, ts, people_inside, visits_15m, visits_1h,"
            " visits_24h) VALUES (%s, %s, %s, 0, 0, 0)", [point, ts, age % 7])


def _observe(conn: Conn) -> dict[str, list[tuple[object, ...]]]:
    return {name: conn.execute(query.encode()).fetchall() for name, query in _OBSERVED.items()}


def _partitions(conn: Conn, table: str) -> list[str]:
    return [str(r[0]) for r in conn.execute(
        "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass ORDER BY 1", [table])]


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d")


def test_an_existing_database_moves_into_daily_partitions_unchanged(
    scratch_dsn: str, tmp_path: Path
) -> None:
    before_016, up_to_016 = tmp_path / "before-016", tmp_path / "up-to-016"
    for directory, last in ((before_016, 15), (up_to_016, 16)):
        directory.mkdir()
        for path in MIGRATIONS_DIR.glob("*.sql"):
            if int(path.name[:3]) <= last:
                shutil.copy(path, directory)
    apply_migrations(scratch_dsn, mode="off", directory=before_016)
    with psycopg.connect(scratch_dsn, autocommit=True) as conn:
        _insert_history(conn, "a", _AGES_H)
        _insert_history(conn, "b", _AGES_H[:3])
        conn.execute("SELECT refresh_hourly_rollups()")
        before, grants = _observe(conn), conn.execute(_GRANTS).fetchall()

    # 016 alone: later migrations add relations (and their grants) of their own.
    apply_migrations(scratch_dsn, mode="off", directory=up_to_016)

    with psycopg.connect(scratch_dsn, autocommit=True) as conn:
        assert _observe(conn) == before
        assert conn.execute(_GRANTS).fetchall() == grants
        for table in PARTITIONED:
            assert conn.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass",
                                [table]).fetchone() == ("p",)
            parts = _partitions(conn, table)
            assert f"{table}_default" in parts
            # Every day of the 90 kept and the next week has its own partition ...
            for days in (-89, 0, 7):
                assert f"{table}_p{_day(_NOW + timedelta(days=days))}" in parts
        # ... the rows older than 90 days wait in the default one for the retention.
        assert conn.execute("SELECT count(*) FROM telemetry_default").fetchone() == (1,)
        # The current state still follows new rows.
        _insert_history(conn, "c", (0,))
        assert conn.execute("SELECT count(*) FROM telemetry_now WHERE point_id = 'c'"
                            ).fetchone() == (1,)


def test_maintenance_keeps_a_week_ahead_moves_waiting_rows_and_drops_expired_days(
    scratch_dsn: str,
) -> None:
    apply_migrations(scratch_dsn, mode="off")
    writer_dsn = make_conninfo(scratch_dsn, user="nezlam_writer")
    far_ahead = _NOW + timedelta(days=20)
    expired = _NOW - timedelta(days=95)
    with psycopg.connect(scratch_dsn, autocommit=True) as admin, \
            psycopg.connect(writer_dsn, autocommit=True) as writer:
        # A day nobody made a partition for: its rows wait in the default partition.
        admin.execute("SELECT create_daily_partitions(%s, %s)", [expired, expired])
        _insert_history(writer, "w", (24 * 95, -24 * 20))
        assert admin.execute("SELECT count(*) FROM telemetry_default").fetchone() == (1,)
        admin.execute(f"DROP TABLE telemetry_p{_day(_NOW - timedelta(days=3))}".encode())
        _insert_history(writer, "late", (24 * 3,))
        assert admin.execute("SELECT count(*) FROM telemetry_default").fetchone() == (2,)

        writer.execute("SELECT maintain_daily_partitions()")

        parts = _partitions(admin, "telemetry")
        assert f"telemetry_p{_day(_NOW - timedelta(days=3))}" in parts  # made for its rows
        assert f"telemetry_p{_day(_NOW + timedelta(days=7))}" in parts
        assert f"telemetry_p{_day(expired)}" not in parts  # past the retention
        # Only the far-future row still waits; the late one moved into its day.
        assert admin.execute("SELECT point_id, ts FROM telemetry_default").fetchall() == [
            ("w", far_ahead)]
        assert writer.execute("SELECT point_id FROM telemetry WHERE ts < now() - "
                              "INTERVAL '90 days'").fetchall() == []
        assert writer.execute("SELECT count(*) FROM telemetry WHERE point_id = 'late'"
                              ).fetchone() == (1,)


def test_roles_reach_the_rows_only_through_the_partitioned_tables(scratch_dsn: str) -> None:
    apply_migrations(scratch_dsn, mode="off")
    today = f"telemetry_p{_day(_NOW)}"
    for role in ("nezlam_writer", "nezlam_reader", "nezlam_analyst"):
        with psycopg.connect(make_conninfo(scratch_dsn, user=role), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM telemetry").fetchone() == (0,)
            for direct in (today, "telemetry_default"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT count(*) FROM {direct}".encode())
            if role != "nezlam_writer":
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute("SELECT maintain_daily_partitions()")
    # The writer keeps the partitions; choosing what is kept is the owner's.
    with psycopg.connect(make_conninfo(scratch_dsn, user="nezlam_writer"),
                         autocommit=True) as writer, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        writer.execute("SELECT create_daily_partitions(now(), now())")


def test_a_time_range_reads_only_its_own_days(scratch_dsn: str) -> None:
    apply_migrations(scratch_dsn, mode="off")
    with psycopg.connect(scratch_dsn, autocommit=True) as conn:
        plan = "\n".join(str(r[0]) for r in conn.execute(
            "EXPLAIN SELECT count(*) FROM telemetry WHERE ts >= %s AND ts < %s",
            [_NOW - timedelta(hours=6), _NOW]))
    assert f"telemetry_p{_day(_NOW)}" in plan
    assert f"telemetry_p{_day(_NOW - timedelta(days=2))}" not in plan
